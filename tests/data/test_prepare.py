"""`prepare` on user videos: manifest content, atomic output, and clear errors for bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.frame_store import FrameStore
from vsr_lightning.data.manifest import Manifest
from vsr_lightning.data.video_io import VideoReader
from vsr_lightning.prepare import main


@pytest.fixture()
def raw_folder(tmp_path, carphone_path):
    """A folder with a real mp4 and a raw YUV file cut from it."""
    folder = tmp_path / "raw"
    folder.mkdir()
    shutil.copy(carphone_path, folder / "carphone.mp4")
    with open(folder / "carphone_head.yuv", "wb") as handle:
        for i, frame in enumerate(VideoReader(carphone_path).yuv_frames()):
            if i == 20:
                break
            handle.write(frame.to_ndarray().tobytes())
    return folder


def test_prepare_builds_manifest_and_frames(tmp_path, raw_folder):
    out = tmp_path / "extra"
    code = main(
        [
            str(raw_folder),
            str(out),
            "--size",
            "176x144",
            "--clip-frames",
            "10",
            "--val-fraction",
            "0.5",
            "--preset",
            "ultrafast",
            "--quiet",
        ]
    )
    assert code == 0
    manifest = Manifest.load(out)
    train, val = manifest.split("train"), manifest.split("val")
    # whole sources go to validation: no clip of a validation source is in training
    assert {v.source for v in train}.isdisjoint({v.source for v in val})
    assert len(train) + len(val) >= 3
    for v in manifest.videos:
        assert v.pqf[0] and v.frame_type[0] == "I" and len(v.qp) == v.num_frames
        assert len(v.source_sha256) == 64 and v.stats is not None
        for kind in ("gt", "lq"):
            FrameStore(out, manifest, v, kind).check()
        assert (out / v.split / "lq_qp37" / f"{v.name}.mkv.qp.json").is_file()
    assert not list(tmp_path.glob(".extra.partial-*"))


def test_corrupt_input_names_the_file_and_leaves_nothing(tmp_path, raw_folder, capsys):
    (raw_folder / "zz_broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    out = tmp_path / "extra"
    code = main([str(raw_folder), str(out), "--size", "176x144", "--preset", "ultrafast", "--quiet"])
    assert code == 2
    assert "zz_broken.mp4" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".extra.partial-*"))


def test_odd_size_is_rejected_by_name(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "odd.yuv").write_bytes(bytes(175 * 144 * 3 // 2 * 2))
    assert main([str(folder), str(tmp_path / "o"), "--size", "175x144", "--quiet"]) == 2


def test_existing_dataset_is_not_overwritten_silently(tmp_path, raw_folder):
    out = tmp_path / "extra"
    out.mkdir()
    assert main([str(raw_folder), str(out), "--size", "176x144", "--quiet"]) == 2


def test_missing_and_mismatched_frames_are_named(mini_dataset, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(mini_dataset, root)
    manifest = Manifest.load(root)
    entry = manifest.split("val")[0]
    (root / "val" / "lq_qp37" / entry.name / "005.png").unlink()
    with pytest.raises(DataError, match="005.png: missing frame 5"):
        FrameStore(root, manifest, entry, "lq").check()
    gt = FrameStore(root, manifest, entry, "gt")
    from vsr_lightning.data.video_io import write_png

    write_png(np.zeros((100, 100, 3), np.uint8), root / "val" / "gt" / entry.name / "003.png")
    with pytest.raises(DataError, match="003.png: frame is 100x100, manifest says 176x144"):
        gt.load([3])
    (root / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="manifest.json: malformed manifest"):
        Manifest.load(root)


@pytest.mark.slow
def test_sigterm_during_prepare_leaves_nothing_behind(tmp_path, carphone_path):
    """A cancelled prepare removes its hidden partial folder and exits 128 + SIGTERM."""
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(carphone_path, src / "carphone.mp4")
    out = tmp_path / "out" / "data"
    out.parent.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vsr_lightning.prepare", str(src), str(out), "--clip-frames", "8", "--quiet"],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".data.partial-") for p in out.parent.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, "prepare ended before writing anything"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(out.parent.iterdir()) == []


def _cut_short(tmp_path, carphone_path):
    """carphone as lossless MKV, its file cut at 60 %: the header still announces all 120 frames."""
    from vsr_lightning.data.video_io import VideoWriter

    full = tmp_path / "full.mkv"
    with VideoWriter(full, 25) as writer:
        for frame in VideoReader(carphone_path).read(0, 40):
            writer.write(frame)
    data = full.read_bytes()
    cut = tmp_path / "src" / "cut.mkv"
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) * 6 // 10])
    return cut


def test_truncated_source_is_refused_by_prepare_and_flagged_by_enhance(tmp_path, carphone_path, capsys):
    cut = _cut_short(tmp_path, carphone_path)
    reader = VideoReader(cut)
    assert reader.info.announced_frames == 40 and reader.info.num_frames < 30
    assert main([str(cut.parent), str(tmp_path / "out"), "--clip-frames", "5", "--preset", "ultrafast", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {cut}: truncated: the container announces 40 frames but holds {reader.info.num_frames}"
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))
    assert VideoReader(carphone_path).truncation() is None

    from vsr_lightning.enhance import enhance_file
    from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus

    net = BasicVSRPlusPlus(mid_channels=8, num_blocks=1, num_reconstruction_blocks=1, deform_groups=2, hr_channels=8)
    result = enhance_file(cut, tmp_path / "o", net.eval(), png=True)
    assert result.frames == reader.info.num_frames
    assert capsys.readouterr().err.startswith(
        f"warning: {cut}: truncated: the container announces 40 frames but "
        f"holds {reader.info.num_frames}; enhancing the"
    )


def _disk_fills_after(calls: int, write):
    """``write`` (write_png) that fails like a full disk from its ``calls``-th use on."""
    import errno

    count = {"n": 0}

    def writing(frame, path):
        count["n"] += 1
        if count["n"] >= calls:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write(frame, path)

    return writing


def test_disk_full_during_prepare_and_enhance_is_one_line_and_leaves_nothing(
    tmp_path, raw_folder, capsys, monkeypatch, carphone_path
):
    import vsr_lightning.data.dataset_builder as builder
    import vsr_lightning.enhance as enhance_module
    import vsr_lightning.inference.sinks as sinks

    monkeypatch.setattr(builder, "write_png", _disk_fills_after(5, builder.write_png))
    out = tmp_path / "extra"
    assert (
        main(
            [str(raw_folder), str(out), "--size", "176x144", "--clip-frames", "10", "--preset", "ultrafast", "--quiet"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}") and err.endswith(": No space left on device\n") and err.count("\n") == 1
    assert not out.exists() and not list(tmp_path.glob(".extra.partial-*"))

    from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus

    ckpt = tmp_path / "s1.ckpt"
    net = BasicVSRPlusPlus(mid_channels=8, num_blocks=1, num_reconstruction_blocks=1, deform_groups=2, hr_channels=8)
    config = {
        "_target_": "vsr_lightning.models.basicvsr_pp.BasicVSRPlusPlus",
        "mid_channels": 8,
        "num_blocks": 1,
        "num_reconstruction_blocks": 1,
        "deform_groups": 2,
        "hr_channels": 8,
    }
    import torch

    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "vsr_model": config,
            "vsr_job_type": "stage1",
        },
        ckpt,
    )
    monkeypatch.setattr(sinks, "write_png", _disk_fills_after(3, sinks.write_png))
    frames = tmp_path / "frames"
    assert (
        enhance_module.main([str(carphone_path), "-o", str(frames), "--png", "--stage1", str(ckpt), "--no-progress"])
        == 2
    )
    err = capsys.readouterr().err  # the frame that failed, and the output the user asked for, not the temporary
    assert err == f"error: {frames}: write failed writing frame 2: No space left on device (nothing changed there)\n"
    assert not frames.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
