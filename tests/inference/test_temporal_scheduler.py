"""The one temporal scheduler: its chunks are the definition's, a stream holds about two chunks, and the
stream of ``enhance`` and the in-memory path of validation are the same engine."""

import numpy as np
import pytest
import torch

from vsr_lightning.inference.file_stream import StreamOptions, TwoStageStream
from vsr_lightning.inference.temporal_scheduler import TemporalScheduler
from vsr_lightning.inference.tiling import window_weights
from vsr_lightning.inference.video import EnhanceOptions, enhance_video

pytestmark = pytest.mark.usefixtures("single_thread")


class Identity:
    """An identity network answering what the engine asks (``inference/protocol.py``)."""

    size_multiple = 4
    flow_network = None

    def __init__(self, probe=None) -> None:
        self.probe = probe

    def inference_bytes(self, frames: int, height: int, width: int) -> int:
        return 0

    def __call__(self, x, pqf=None):
        if self.probe is not None:
            self.probe()
        return x


def _context_model(x, pqf=None):
    """Each output depends on the whole chunk (its temporal mean) and on the PQF flags: chunking shows."""
    return x * 0.5 + x.mean(dim=1, keepdim=True) + 0.1 * pqf[:, :, None, None, None].float()


@pytest.mark.parametrize("length,chunk,overlap", [(23, 6, 2), (20, 6, 2), (9, 4, 1), (5, 8, 3), (12, 5, 0)])
def test_in_memory_chunks_are_the_blend_of_the_window_definition(length, chunk, overlap):
    torch.manual_seed(length)
    lq, flags = torch.rand(length, 3, 5, 7), torch.arange(length) % 3 == 0
    chunk_ = min(chunk, length)
    num, den = torch.zeros(length, 3, 5, 7), torch.zeros(length)
    for start, w in window_weights(length, chunk_, overlap if chunk_ < length else 0):
        y = _context_model(lq[start : start + chunk_][None], flags[start : start + chunk_][None])[0]
        num[start : start + chunk_] += y * w.view(-1, 1, 1, 1)
        den[start : start + chunk_] += w
    expected = num / den.view(-1, 1, 1, 1)
    out = enhance_video(_context_model, lq, flags, options=EnhanceOptions(chunk=chunk, chunk_overlap=overlap))
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_duplicates_are_enhanced_once_and_copied_back():
    lq, flags = torch.rand(10, 3, 4, 4), torch.ones(10, dtype=torch.bool)
    duplicates = [3, 4, 8]
    seen = []

    def model(x, pqf=None):
        seen.append(x.shape[1])
        return _context_model(x, pqf)

    out = enhance_video(model, lq, flags, duplicates, EnhanceOptions(chunk=4, chunk_overlap=1, dedup=True))
    unique = [0, 1, 2, 5, 6, 7, 9]
    expected = enhance_video(
        _context_model, lq[unique], flags[unique], options=EnhanceOptions(chunk=4, chunk_overlap=1)
    )
    source = [0, 1, 2, 2, 2, 3, 4, 5, 5, 6]
    assert torch.equal(out, expected[source]) and sum(seen) == 4 * 2  # 7 unique frames: two chunks of 4
    kept = enhance_video(_context_model, lq, flags, duplicates, EnhanceOptions(chunk=4, chunk_overlap=1))
    assert not torch.equal(kept[3], kept[2])  # without dedup the duplicates list is ignored


@pytest.mark.parametrize("length", [50, 47])  # 47: finish() still runs a regular chunk before the last one
@torch.inference_mode()  # as in enhance_file: views made here carry no ``_base``
def test_streaming_memory_stays_bounded_and_identity_is_exact(length):
    """An identity network: output equals input, and the stream never holds more than about two chunks."""
    seen = {"max_inputs": 0, "max_acc": 0, "max_ready": 0, "carried_storage": 0}
    out = []

    def probe():  # sees what the engine holds while a chunk runs
        scheduler = stream.scheduler
        seen["max_acc"] = max(seen["max_acc"], len(scheduler.acc))
        # a carried overlap frame must own its memory, not keep the last chunk's whole output alive
        seen["carried_storage"] = max(
            [seen["carried_storage"]] + [v.untyped_storage().nbytes() for v in scheduler.acc.values()]
        )

    def write(frame) -> None:
        seen["max_ready"] = max(seen["max_ready"], len(stream.copy_back.ready))
        out.append(frame)

    options = StreamOptions(chunk=6, overlap=2, tile=None)
    stream = TwoStageStream(Identity(probe), None, (None, None), options, torch.device("cpu"), write)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(length, 8, 8, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        stream.push(frame, i % 4 == 0, duplicate=False)
        seen["max_inputs"] = max(seen["max_inputs"], len(stream.scheduler.inputs))
    stream.finish()
    np.testing.assert_array_equal(np.stack(out), frames)
    assert seen["max_inputs"] == 6 + 4 - 1  # chunk + stride - 1 8-bit frames between chunks
    assert seen["max_acc"] == 2  # only the overlap is carried between chunks, also into the last one
    assert seen["carried_storage"] == 3 * 8 * 8 * 4  # one float frame
    assert seen["max_ready"] == 1  # each final frame is handed over before the next one is made


def test_scheduler_refuses_an_overlap_as_long_as_the_chunk():
    with pytest.raises(ValueError, match=r"overlap \(4\) must be in \[0, chunk=4\)"):
        TemporalScheduler(lambda frames, flags: frames, chunk=4, overlap=4, emit=lambda p, f: None)
