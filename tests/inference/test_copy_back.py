"""Copy-back hands outputs over in input order whatever order they become ready in, keeping one at most."""

from vsr_lightning.inference.copy_back import CopyBack


def test_outputs_in_input_order_duplicates_repeat_their_unique_frame():
    written, held = [], []
    copy_back = CopyBack(written.append)
    source = [0, 1, 1, 1, 2, 3, 3]  # input frame -> unique frame it copies
    copy_back.expect(0)
    copy_back.offer(0, "a")
    copy_back.offer(1, "b")  # ready before its input frame is known
    for u in source[1:5]:
        copy_back.expect(u)
        held.append(len(copy_back.ready))
    copy_back.offer(2, "c")
    copy_back.offer(3, "d")
    copy_back.expect(3)
    copy_back.expect(3)
    assert written == ["a", "b", "b", "b", "c", "d", "d"] and copy_back.written == 7
    assert max(held) <= 1 and list(copy_back.ready) == [3]
