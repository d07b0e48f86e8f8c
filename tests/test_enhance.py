"""The enhance command on a real HEVC-compressed clip with repeated frames: the engine's stream (duplicates found on
the fly, 8-bit frames, copy-back) gives the frames of its in-memory path (validation's), bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from vsr_lightning.data.duplicates import find_duplicates
from vsr_lightning.data.hevc import HevcConfig, QpSidecar, compress_hevc, sidecar_path
from vsr_lightning.data.video_io import VideoReader, VideoWriter, frame_name, read_png
from vsr_lightning.enhance import enhance_file, main
from vsr_lightning.inference import memory_plan
from vsr_lightning.inference.file_checks import resolve_pqf
from vsr_lightning.inference.memory_plan import plan_memory
from vsr_lightning.inference.tiling import framewise
from vsr_lightning.inference.video import EnhanceOptions, enhance_video
from vsr_lightning.metrics.video_quality import frame_psnr
from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.checkpoints import to_basicsr_state_dict
from vsr_lightning.models.loading import load_network
from vsr_lightning.models.swinir import SwinIR

# Source frame of each of the 24 clip frames: positions 5, 9, 10 and 16 repeat their predecessor.
ORDER = [0, 1, 2, 3, 4, 4, 5, 6, 7, 7, 7, 8, 9, 10, 11, 12, 12, 13, 14, 15, 16, 17, 18, 19]
DUP_THRESHOLD = 0.3


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def clip(tmp_path_factory, carphone_path) -> dict[str, Path]:
    """``gt.mkv`` (lossless) and ``lq.mkv`` (HEVC QP 37 low-delay P, with its QP sidecar)."""
    root = tmp_path_factory.mktemp("enhance_clip")
    source = VideoReader(carphone_path).read(0, max(ORDER) + 1)
    frames = [source[i] for i in ORDER]
    with VideoWriter(root / "gt.mkv", fps=30.0, lossless=True) as writer:
        for frame in frames:
            writer.write(frame)
    yuv = (av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p") for f in frames)
    h, w = frames[0].shape[:2]
    compress_hevc(yuv, len(frames), w, h, 30.0, root / "lq.mkv", HevcConfig(qp=37, preset="ultrafast"))
    return {"gt": root / "gt.mkv", "lq": root / "lq.mkv", "root": root}


def _stage1_net(seed: int = 0) -> BasicVSRPlusPlus:
    torch.manual_seed(seed)
    net = BasicVSRPlusPlus(
        mid_channels=8, num_blocks=1, num_reconstruction_blocks=2, propagation="pqf", deform_groups=8
    )
    with torch.no_grad():  # a random, non-trivial residual so every frame really changes
        for name, p in net.named_parameters():  # small random flows (SPyNet's activations are unit-scale)
            p.add_(torch.randn_like(p) * (0.0003 if name.startswith("spynet.") else 0.01))
    return net.eval()


@pytest.fixture(scope="module")
def stage1_ckpt(clip) -> Path:
    """A tiny randomly initialised stage one in our Lightning checkpoint format."""
    net = _stage1_net()
    path = clip["root"] / "stage1.ckpt"
    config = {
        "_target_": "vsr_lightning.models.basicvsr_pp.BasicVSRPlusPlus",
        "mid_channels": 8,
        "num_blocks": 1,
        "num_reconstruction_blocks": 2,
        "propagation": "pqf",
        "pqf_period": 4,
        "deform_groups": 8,
    }
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "vsr_model": config,
            "vsr_job_type": "stage1",
            "vsr_lineage": [],
        },
        path,
    )
    return path


@pytest.fixture(scope="module")
def lq_frames(clip) -> np.ndarray:
    return VideoReader(clip["lq"]).read()


@pytest.fixture(scope="module")
def dups(lq_frames) -> list[int]:
    """Duplicates as the compressed clip shows them (what enhance must find on the fly)."""
    return find_duplicates(lq_frames, DUP_THRESHOLD)


@pytest.fixture(scope="module")
def short_lq(clip, lq_frames) -> Path:
    """The first 10 compressed frames, stored losslessly (for the runs that need no duplicates or sidecar)."""
    path = clip["root"] / "short.mkv"
    with VideoWriter(path, fps=30.0, lossless=True) as writer:
        for frame in lq_frames[:10]:
            writer.write(frame)
    return path


def _tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous().float() / 255.0


def _uint8(x: torch.Tensor) -> np.ndarray:
    return x.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _in_memory(net, lq: np.ndarray, pqf: list[bool], chunk: int, overlap: int, dedup: bool) -> np.ndarray:
    """The whole clip in memory through enhance_video: what streaming must reproduce."""
    duplicates = find_duplicates(lq, DUP_THRESHOLD) if dedup else []
    options = EnhanceOptions(chunk=chunk, chunk_overlap=overlap, dedup=dedup)
    out = enhance_video(lambda x, pqf=None: net(x, pqf=pqf), _tensor(lq), torch.tensor(pqf), duplicates, options)
    return _uint8(out)


def _read_pngs(folder: Path, n: int) -> np.ndarray:
    return np.stack([read_png(folder / frame_name(i)) for i in range(n)])


def test_repeats_survive_compression_as_detectable_duplicates(dups):
    """x265 refines some repeats (a PQF coded at a lower QP than its reference: position 16) and skip-codes
    some near-static frames at high QP, so the compressed duplicates are not exactly the source repeats."""
    assert {5, 10} <= set(dups) and len(dups) <= 6


@pytest.mark.slow  # enhances the whole 24-frame clip (raw_yuv_input_with_size runs enhance_file fast)
def test_whole_clip_chunk_equals_in_memory_enhance_video(clip, stage1_ckpt, lq_frames, dups):
    out_path = clip["root"] / "out_whole.mkv"
    result = enhance_file(clip["lq"], out_path, stage1_ckpt, reference=clip["gt"], chunk=64, overlap=4)
    assert (result.frames, result.unique_frames) == (24, 24 - len(dups))
    out = VideoReader(out_path).read()
    assert out.shape == lq_frames.shape
    assert VideoReader(out_path).info.fps == pytest.approx(VideoReader(clip["lq"]).info.fps, rel=1e-3)
    pqf = QpSidecar.load(sidecar_path(clip["lq"])).pqf
    expected = _in_memory(load_network(stage1_ckpt, "stage1"), lq_frames, pqf, chunk=64, overlap=4, dedup=True)
    np.testing.assert_array_equal(out, expected)  # lossless output: exact
    for t in dups:
        np.testing.assert_array_equal(out[t], out[t - 1])
    assert not np.array_equal(out, lq_frames)
    gt = _tensor(VideoReader(clip["gt"]).read())
    assert result.psnr_in == pytest.approx(float(frame_psnr(_tensor(lq_frames), gt).mean()), abs=1e-4)
    assert result.psnr_out == pytest.approx(float(frame_psnr(_tensor(out), gt).mean()), abs=1e-4)
    assert 20 < result.psnr_in < 45 and result.seconds >= result.model_seconds > 0


@pytest.mark.slow  # enhances the whole 24-frame clip (raw_yuv_input_with_size runs enhance_file fast)
def test_streaming_chunks_blend_like_in_memory_chunks(clip, stage1_ckpt, lq_frames, dups):
    """Several overlapping chunks (the last end-aligned) over the unique frames, written as PNGs."""
    out_dir = clip["root"] / "out_chunks"
    result = enhance_file(clip["lq"], out_dir, stage1_ckpt, chunk=7, overlap=2, png=True)
    out = _read_pngs(out_dir, 24)
    assert not (out_dir / frame_name(24)).exists() and result.unique_frames == 24 - len(dups)
    pqf = QpSidecar.load(sidecar_path(clip["lq"])).pqf
    expected = _in_memory(load_network(stage1_ckpt, "stage1"), lq_frames, pqf, chunk=7, overlap=2, dedup=True)
    np.testing.assert_array_equal(out, expected)
    for t in dups:
        np.testing.assert_array_equal(out[t], out[t - 1])


@pytest.mark.slow
def test_no_dedup_enhances_every_frame(clip, stage1_ckpt, lq_frames, short_lq):
    out_dir = clip["root"] / "out_nodedup"
    result = enhance_file(short_lq, out_dir, stage1_ckpt, chunk=6, overlap=3, png=True, dedup=False, pqf_period=3)
    assert result.unique_frames == result.frames == 10
    pqf = [t % 3 == 0 for t in range(10)]
    expected = _in_memory(load_network(stage1_ckpt, "stage1"), lq_frames[:10], pqf, chunk=6, overlap=3, dedup=False)
    np.testing.assert_array_equal(_read_pngs(out_dir, 10), expected)


@pytest.mark.slow
def test_official_stage1_and_stage2_compose(clip, lq_frames, short_lq):
    """BasicSR-layout stage one, our-format SwinIR stage two applied to the 8-bit stage-one frames."""
    s1 = _stage1_net(seed=3)
    s1.propagation = "second_order"
    s1_path = clip["root"] / "official_basicvsrpp.pth"
    torch.save(to_basicsr_state_dict(s1), s1_path)
    torch.manual_seed(4)
    s2 = SwinIR(img_size=16, embed_dim=12, depths=(2,), num_heads=(2,), window_size=4, mlp_ratio=1.0).eval()
    torch.nn.init.normal_(s2.conv_last.weight, std=0.02)  # zero-initialised residual: make it visible
    s2_path = clip["root"] / "stage2.ckpt"
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in s2.state_dict().items()},
            "vsr_job_type": "stage2",
            "vsr_model": {
                "_target_": "vsr_lightning.models.swinir.SwinIR",
                "img_size": 16,
                "embed_dim": 12,
                "depths": [2],
                "num_heads": [2],
                "window_size": 4,
                "mlp_ratio": 1.0,
            },
        },
        s2_path,
    )
    n = 10
    out_dir = clip["root"] / "out_two_stage"
    result = enhance_file(short_lq, out_dir, s1_path, s2_path, chunk=16, png=True)
    assert result.frames == n
    net1 = load_network(s1_path, "stage1")
    assert net1.propagation == "second_order"
    stage1 = _in_memory(net1, lq_frames[:n], [False] * n, chunk=16, overlap=4, dedup=True)
    with torch.no_grad():
        expected = _uint8(framewise(s2, batch=1)(_tensor(stage1).unsqueeze(0))[0])
    got = _read_pngs(out_dir, n)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # float rounding of the two paths
    assert not np.array_equal(got, stage1)


@pytest.mark.slow
def test_auto_tiles_keep_the_plan_within_budget(clip, stage1_ckpt, lq_frames, monkeypatch):
    """With little memory allowed, stage one runs on tiles; the blended result stays close to whole frames."""
    monkeypatch.setattr(memory_plan, "resident_bytes", lambda: 0)  # plan for the model and stream only
    net = load_network(stage1_ckpt, "stage1")
    h, w = lq_frames.shape[1:3]
    whole = plan_memory(net, None, w, h, chunk=8, overlap=2, budget_gib=4.0)
    assert whole.stage1_tile is None
    budget = (whole.fixed_bytes + net.inference_bytes(8, 96, 96)) / 2**30 / memory_plan.ALLOCATOR_HEADROOM
    plan = plan_memory(net, None, w, h, chunk=8, overlap=2, budget_gib=budget)
    assert plan.stage1_tile == 96 and "96x96 tiles" in plan.describe()
    tiled = enhance_file(
        clip["lq"], clip["root"] / "out_tiled", stage1_ckpt, chunk=8, overlap=2, png=True, max_memory_gib=budget
    )
    untiled = enhance_file(
        clip["lq"], clip["root"] / "out_untiled", stage1_ckpt, chunk=8, overlap=2, png=True, tile=None
    )
    a, b = _read_pngs(tiled.output, 24).astype(int), _read_pngs(untiled.output, 24).astype(int)
    change = np.abs(b - lq_frames.astype(int)).mean()  # this random network changes its input a lot
    assert 0 < np.abs(a - b).mean() < 0.1 * change  # tiles cut the receptive field: a small difference
    with pytest.raises(ValueError, match="do not fit"):
        plan_memory(net, None, w, h, chunk=8, overlap=2, budget_gib=whole.fixed_bytes / 2**30)


@pytest.mark.slow  # bf16 convolution is a slow fallback on AVX2 CPUs
def test_bf16_autocast_stays_close_to_float32(clip, stage1_ckpt, lq_frames, short_lq):
    """On CPUs without bf16 instructions (AVX2) PyTorch's bf16 convolution is a slow fallback (about 18x
    float32 here), so this runs on the 10-frame clip."""
    fp32 = enhance_file(short_lq, clip["root"] / "out_fp32", stage1_ckpt, chunk=8, overlap=2, png=True)
    bf16 = enhance_file(short_lq, clip["root"] / "out_bf16", stage1_ckpt, chunk=8, overlap=2, png=True, bf16=True)
    a, b = _read_pngs(fp32.output, 10).astype(int), _read_pngs(bf16.output, 10).astype(int)
    change = np.abs(a - lq_frames[:10].astype(int)).mean()
    assert 0 < np.abs(a - b).mean() < 0.05 * change


def test_raw_yuv_input_with_size(clip, stage1_ckpt, lq_frames):
    n, (h, w) = 5, lq_frames.shape[1:3]
    raw = clip["root"] / "clip.yuv"
    with open(raw, "wb") as handle:
        for frame in lq_frames[:n]:
            handle.write(
                av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p").to_ndarray().tobytes()
            )
    result = enhance_file(
        raw, clip["root"] / "from_yuv.mkv", stage1_ckpt, size=(w, h), fps=24.0, crf=18, lossless=False
    )
    info = VideoReader(result.output).info
    assert (info.num_frames, info.width, info.height) == (n, w, h) and info.fps == pytest.approx(24.0)


def test_pqf_flags_from_sidecar_or_fixed_period(clip, tmp_path):
    flags, source = resolve_pqf(clip["lq"], 24)
    assert flags == QpSidecar.load(sidecar_path(clip["lq"])).pqf and "sidecar" in source
    assert flags[:8] == [True, False, False, False, True, False, False, False]
    flags, source = resolve_pqf(clip["gt"], 10, period=3)
    assert flags == [t % 3 == 0 for t in range(10)] and "fixed" in source
    with pytest.raises(ValueError, match=r"nope\.json.*no such"):
        resolve_pqf(clip["lq"], 24, qp_sidecar=tmp_path / "nope.json")
    with pytest.raises(ValueError, match=r"lists 24 frames"):
        resolve_pqf(clip["lq"], 23)


@pytest.mark.slow  # an enhance process on the whole clip
def test_cli_prints_psnr_and_dedup(clip, stage1_ckpt, dups):
    out_path = clip["root"] / "cli_out.mkv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vsr_lightning.enhance",
            str(clip["lq"]),
            "-o",
            str(out_path),
            "--stage1",
            str(stage1_ckpt),
            "--reference",
            str(clip["gt"]),
            "--chunk",
            "32",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PSNR (RGB, crop 0, mean over 24 frames): input" in proc.stdout and "gain" in proc.stdout
    assert f"enhanced {24 - len(dups)}/24 unique frames, copied {len(dups)} duplicates" in proc.stdout
    assert "frame" in proc.stderr  # the tqdm progress bar
    assert VideoReader(out_path).info.num_frames == 24
    assert not (clip["root"] / "cli_out.partial.mkv").exists()


def test_clear_errors_for_corrupt_checkpoint_and_missing_input(clip, stage1_ckpt, capsys):
    corrupt = clip["root"] / "corrupt.ckpt"
    corrupt.write_bytes(b"\x00garbage" * 100)
    out = clip["root"] / "never.mkv"
    assert main([str(clip["lq"]), "-o", str(out), "--stage1", str(corrupt), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "corrupt.ckpt" in err and "cannot be read" in err
    assert main([str(clip["root"] / "missing.mkv"), "-o", str(out), "--stage1", str(stage1_ckpt)]) == 2
    err = capsys.readouterr().err
    assert "missing.mkv" in err and "no such video file" in err
    assert not out.exists() and not (clip["root"] / "never.partial.mkv").exists()
    with pytest.raises(ValueError, match=r"stage1\.ckpt.*'stage1' job"):
        enhance_file(clip["lq"], out, stage1_ckpt, stage2=stage1_ckpt)
