"""``enhance`` never deletes or overwrites what it did not create, and refuses bad options before any model time.

Every case checks the exact error line, exit code 2, and that each file that existed before is still there,
byte for byte; successful runs leave no temporary behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vsr_lightning import enhance as enhance_module
from vsr_lightning import staged_output
from vsr_lightning.data.video_io import VideoReader, VideoWriter, frame_name, write_png
from vsr_lightning.enhance import main
from vsr_lightning.inference import sinks
from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus

pytestmark = pytest.mark.usefixtures("single_thread")

CONFIG = {
    "mid_channels": 8,
    "num_blocks": 1,
    "num_reconstruction_blocks": 2,
    "propagation": "pqf",
    "pqf_period": 4,
    "deform_groups": 8,
}


class FakeNetwork:
    """Runs ``fn`` as a network and answers what the engine asks of one (``inference/protocol.py``)."""

    size_multiple = 4
    flow_network = None

    def __init__(self, fn) -> None:
        self.fn = fn

    def inference_bytes(self, frames: int, height: int, width: int) -> int:
        return 0

    def __call__(self, x, pqf=None):
        return self.fn(x, pqf=pqf)


def _video(path: Path, width: int = 16, height: int = 16, frames: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, fps=25.0) as writer:
        for i in range(frames):
            writer.write(np.full((height, width, 3), 30 + 40 * i, dtype=np.uint8))
    return path


@pytest.fixture
def work(tmp_path) -> dict[str, Path]:
    """An input video and a tiny stage-one checkpoint in ``in/``; outputs go to ``out/`` unless a test says."""
    net = BasicVSRPlusPlus(**CONFIG)
    ckpt = tmp_path / "in" / "stage1.ckpt"
    ckpt.parent.mkdir()
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "vsr_job_type": "stage1",
            "vsr_model": {"_target_": "vsr_lightning.models.basicvsr_pp.BasicVSRPlusPlus", **CONFIG},
        },
        ckpt,
    )
    (tmp_path / "out").mkdir()
    return {"root": tmp_path, "input": _video(tmp_path / "in" / "clip.mkv"), "ckpt": ckpt, "out": tmp_path / "out"}


@pytest.fixture
def no_model(monkeypatch):
    """Refusals come before any network is loaded, let alone run."""

    def fail(*_args, **_kwargs):
        raise AssertionError("a network was loaded before the refusal")

    monkeypatch.setattr(enhance_module, "_load", fail)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _refused(work: dict[str, Path], capsys, output: Path, line: str, *options: str, source: Path | None = None):
    """Run the command; it must exit 2 with exactly ``error: line`` and leave every file as it was."""
    before = _snapshot(work["root"])
    argv = [str(source or work["input"]), "-o", str(output), "--stage1", str(work["ckpt"]), "--no-progress", *options]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {line}\n" and captured.out == ""
    assert _snapshot(work["root"]) == before


def _run(work: dict[str, Path], capsys, output: Path, *options: str, source: Path | None = None) -> None:
    argv = [str(source or work["input"]), "-o", str(output), "--stage1", str(work["ckpt"]), "--no-progress", *options]
    assert main(argv) == 0
    capsys.readouterr()


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.usefixtures("no_model")
def test_png_into_a_non_empty_folder_is_refused(work, capsys):
    folder = work["out"] / "frames"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    write_png(np.zeros((4, 4, 3), np.uint8), folder / frame_name(0))
    _refused(work, capsys, folder, f"{folder}: folder is not empty; pass --overwrite to replace it", "--png")


@pytest.mark.usefixtures("no_model")
def test_png_overwrite_keeps_a_folder_with_files_enhance_did_not_write(work, capsys):
    folder = work["out"] / "frames"
    folder.mkdir()
    write_png(np.zeros((4, 4, 3), np.uint8), folder / frame_name(0))
    (folder / "notes.txt").write_text("mine")
    _refused(
        work,
        capsys,
        folder,
        f"{folder}: holds 'notes.txt', which is not a frame enhance writes; --overwrite "
        "only replaces a folder of frames, empty it or choose another output",
        "--png",
        "--overwrite",
    )


@pytest.mark.usefixtures("no_model")
def test_png_overwrite_of_the_inputs_own_folder_is_refused(work, capsys):
    folder = work["input"].parent
    _refused(work, capsys, folder, f"{folder}: folder is not empty; pass --overwrite to replace it", "--png")
    _refused(
        work,
        capsys,
        folder,
        f"{folder}: holds the input {work['input']}; --overwrite would replace the folder, choose another output",
        "--png",
        "--overwrite",
    )


@pytest.mark.usefixtures("no_model")
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_output_equal_to_an_input_is_refused(work, capsys, overwrite):
    for source in (work["input"], work["ckpt"]):
        _refused(
            work,
            capsys,
            source,
            f"{source}: output would overwrite the input {source}; choose another output",
            *overwrite,
        )


@pytest.mark.usefixtures("no_model")
def test_existing_output_file_is_refused(work, capsys):
    target = work["out"] / "result.mkv"
    target.write_bytes(b"an older result")
    _refused(work, capsys, target, f"{target}: already exists; pass --overwrite to replace it")


@pytest.mark.usefixtures("no_model")
def test_output_kind_mismatches_are_refused(work, capsys):
    folder, file = work["out"] / "folder.mkv", work["out"] / "frames"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    file.write_bytes(b"a file named like a folder")
    _refused(work, capsys, folder, f"{folder}: is a folder; without --png the output is a video file", "--overwrite")
    _refused(
        work,
        capsys,
        file,
        f"{file}: exists and is not a folder; --png writes a folder of frames",
        "--png",
        "--overwrite",
    )
    bare = work["out"] / "result"
    _refused(work, capsys, bare, f"{bare}: has no file extension to choose the video container from (e.g. .mkv)")


@pytest.mark.usefixtures("no_model")
def test_crf_on_an_odd_frame_size_is_refused_before_the_model(work, capsys):
    odd = _video(work["root"] / "in" / "odd.mkv", width=15, height=16)
    _refused(
        work,
        capsys,
        work["out"] / "odd.mkv",
        f"{odd}: frame size 15x16 is odd, but --crf writes x264 4:2:0 video, which needs an even width and "
        "height (leave out --crf for lossless RGB video, or use --png)",
        "--crf",
        "18",
        source=odd,
    )


@pytest.mark.usefixtures("no_model")
def test_bad_devices_are_one_line(work, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = work["out"] / "result.mkv"
    _refused(work, capsys, out, "--device cuda: CUDA is not available on this machine", "--device", "cuda")
    _refused(
        work, capsys, out, "--device gpu: not a device name torch knows (e.g. cpu, cuda, cuda:1)", "--device", "gpu"
    )


@pytest.mark.usefixtures("no_model")
def test_unwritable_output_folder_is_refused_before_the_model(work, capsys, monkeypatch):
    def denied(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(staged_output.tempfile, "mkstemp", denied)  # as root, a read-only folder still accepts files
    locked = work["out"] / "locked"
    locked.mkdir()
    _refused(work, capsys, locked / "result.mkv", f"{locked}: cannot write the output here (Permission denied)")


def test_input_named_like_the_old_temporary_survives(work, capsys):
    """The temporary used to be ``<stem>.partial<suffix>``: an input of that name was deleted before it was read."""
    source = work["root"] / "case" / "clip.partial.mkv"
    source.parent.mkdir()
    source.write_bytes(work["input"].read_bytes())
    before = _snapshot(work["root"])
    _run(work, capsys, source.with_name("clip.mkv"), source=source)
    after = _snapshot(work["root"])
    assert {k: after[k] for k in before} == before
    assert VideoReader(source.with_name("clip.mkv")).info.num_frames == 3 and _hidden(source.parent) == []


def test_overwrite_replaces_only_the_old_target_once_complete(work, capsys):
    target = work["out"] / "result.mkv"
    target.write_bytes(b"an older result")
    (work["out"] / "neighbour.txt").write_text("mine")
    _run(work, capsys, target, "--overwrite")
    assert VideoReader(target).info.num_frames == 3
    assert sorted(p.name for p in work["out"].iterdir()) == ["neighbour.txt", "result.mkv"]
    folder = work["out"] / "frames"
    folder.mkdir()
    for i in range(5):  # an older, longer result: its frames 3 and 4 go with it
        write_png(np.zeros((4, 4, 3), np.uint8), folder / frame_name(i))
    _run(work, capsys, folder, "--png", "--overwrite")
    assert sorted(p.name for p in folder.iterdir()) == [frame_name(i) for i in range(3)]
    assert sorted(p.name for p in work["out"].iterdir()) == ["frames", "neighbour.txt", "result.mkv"]


def test_png_into_an_empty_folder_and_new_names(work, capsys):
    empty = work["out"] / "empty"
    empty.mkdir()
    _run(work, capsys, empty, "--png")
    _run(work, capsys, work["out"] / "new" / "deeper", "--png")
    _run(work, capsys, work["out"] / "new.mkv")
    assert len(list(empty.iterdir())) == len(list((work["out"] / "new" / "deeper").iterdir())) == 3
    assert _hidden(work["out"]) == [] and _hidden(work["out"] / "new") == []


@pytest.mark.parametrize("png", [False, True])
def test_a_failed_run_removes_only_its_temporary(work, capsys, monkeypatch, png):
    def broken(x, pqf=None):
        raise ValueError("the model broke")

    monkeypatch.setattr(enhance_module, "_load", lambda net, kind, device: FakeNetwork(broken))
    target = work["out"] / ("frames" if png else "result.mkv")
    if png:
        target.mkdir()
        write_png(np.zeros((4, 4, 3), np.uint8), target / frame_name(0))
    else:
        target.write_bytes(b"an older result")
    options = ["--png", "--overwrite"] if png else ["--overwrite"]
    _refused(work, capsys, target, "the model broke", *options)
    assert _hidden(work["out"]) == []


@pytest.mark.slow  # a fresh interpreter; the other refusals run main() in-process
def test_command_line_refusal_is_one_line_without_traceback(work):
    target = work["out"] / "result.mkv"
    target.write_bytes(b"an older result")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vsr_lightning.enhance",
            str(work["input"]),
            "-o",
            str(target),
            "--stage1",
            str(work["ckpt"]),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (
        2,
        f"error: {target}: already exists; pass --overwrite to replace it\n",
        "",
    )
    assert target.read_bytes() == b"an older result"


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_full_disk_stops_at_the_first_failed_write(work, capsys, monkeypatch, overwrite):
    """Writes to ``/dev/full`` fail with ENOSPC: the run stops there, not after computing every frame."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    source = work["root"] / "in" / "noise.mkv"
    rng = np.random.default_rng(0)
    with VideoWriter(source, fps=25.0) as writer:
        for _ in range(40):  # noise does not compress: the first packets overflow the muxer's buffer
            writer.write(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    calls = []

    def identity(x, pqf=None):
        calls.append(x.shape[1])
        return x

    class FullDiskWriter(VideoWriter):
        def __init__(self, path, *args, **kwargs):
            Path(path).unlink(missing_ok=True)
            Path(path).symlink_to("/dev/full")
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr(enhance_module, "_load", lambda net, kind, device: FakeNetwork(identity))
    monkeypatch.setattr(sinks, "VideoWriter", FullDiskWriter)
    target = work["out"] / "result.mkv"
    if overwrite:
        target.write_bytes(b"an older result")
    before = _snapshot(work["root"])
    argv = [
        str(source),
        "-o",
        str(target),
        "--stage1",
        str(work["ckpt"]),
        "--no-progress",
        "--chunk",
        "4",
        "--overlap",
        "0",
        "--no-dedup",
    ] + (["--overwrite"] if overwrite else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {target}: write failed writing frame ")
    assert err.endswith(": No space left on device (nothing changed there)\n") and err.count("\n") == 1
    assert int(err.split("writing frame ")[1].split(":")[0]) < 30  # x264's lookahead delays the first packet
    assert sum(calls) < 40, (err, calls)
    assert _snapshot(work["root"]) == before and _hidden(work["out"]) == []


def test_bf16_on_a_cpu_without_bf16_instructions_warns_once(work, capsys, monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    _run(work, capsys, work["out"] / "plain.mkv")
    assert (
        main(
            [
                str(work["input"]),
                "-o",
                str(work["out"] / "bf16.mkv"),
                "--stage1",
                str(work["ckpt"]),
                "--no-progress",
                "--bf16",
            ]
        )
        == 0
    )
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: --bf16")]
    assert len(warnings) == 1 and "slow fallback convolution" in warnings[0]
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert (
        main(
            [
                str(work["input"]),
                "-o",
                str(work["out"] / "bf16b.mkv"),
                "--stage1",
                str(work["ckpt"]),
                "--no-progress",
                "--bf16",
            ]
        )
        == 0
    )
    assert "warning: --bf16" not in capsys.readouterr().err
