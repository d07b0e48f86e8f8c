"""Benchmark protocols against an independent numpy computation written here, on real encoded video."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pair_media import decoded_planes, planes_to_rgb, psnr, ssim, write_hevc, write_pngs, write_yuv, yuv_planes
from PIL import Image

from vsr_lightning.data.yuv_names import parse_jctvc_name
from vsr_lightning.evaluate import evaluate
from vsr_lightning.metrics.jctvc_classes import jctvc_class

FRAMES = 8
NAMES = {"Carphone_176x144_30": (176, 144), "BasketballPass_416x240_50": (416, 240)}


def _planes(carphone_path, width, height) -> np.ndarray:
    import av

    with av.open(str(carphone_path)) as container:
        frames = [
            f.reformat(width=width, height=height, format="yuv420p").to_ndarray()
            for _, f in zip(range(FRAMES), container.decode(video=0), strict=False)
        ]
    return np.stack(frames)


@pytest.fixture(scope="module")
def bench(tmp_path_factory, carphone_path):
    """GT as JCT-VC named YUV, LQ as bare HEVC bitstreams (.bin), outputs as PNG folders and as YUV."""
    root = tmp_path_factory.mktemp("bench")
    rng = np.random.default_rng(0)
    for name, (w, h) in NAMES.items():
        gt = write_yuv(_planes(carphone_path, w, h), root / "gt" / f"{name}.yuv")
        lq = write_hevc(yuv_planes(gt, w, h), root / "lq" / f"{name}.bin")
        lq_planes = decoded_planes(lq, "hevc")
        noisy = np.clip(lq_planes.astype(np.int16) + rng.integers(-2, 3, lq_planes.shape), 0, 255).astype(np.uint8)
        write_yuv(noisy, root / "out_yuv" / f"{name}.yuv")
        rgb = planes_to_rgb(noisy)
        rgb[2] = planes_to_rgb(yuv_planes(gt, w, h)[2:3])[0]  # one frame equal to the GT: MSE 0
        write_pngs(rgb, root / "out_png" / name)
        write_pngs(planes_to_rgb(lq_planes), root / "out_same_as_lq" / name)
    return root


def _rgb_psnr_reference(bench, name, w, h):
    gt = planes_to_rgb(yuv_planes(bench / "gt" / f"{name}.yuv", w, h))
    lq = planes_to_rgb(decoded_planes(bench / "lq" / f"{name}.bin", "hevc"))
    out = np.stack([np.asarray(Image.open(bench / "out_png" / name / f"{t:03d}.png")) for t in range(FRAMES)])
    per_out = [psnr(o, g) for o, g in zip(out, gt, strict=True)]
    per_lq = [psnr(q, g) for q, g in zip(lq, gt, strict=True)]
    finite = [v for v in per_out if math.isfinite(v)]
    return sum(finite) / len(finite), sum(per_lq) / len(per_lq), len(per_out) - len(finite)


def test_ntire22_equals_numpy_and_leaves_out_mse_zero_frames(bench):
    results, table = evaluate(bench / "out_png", bench / "gt", bench / "lq", "ntire22")
    assert [r.name for r in results] == sorted(NAMES)
    for r in results:
        out, lq, left_out = _rgb_psnr_reference(bench, r.name, *NAMES[r.name])
        assert left_out == 1 and r.left_out == 1 and r.frames == FRAMES
        assert abs(r.psnr - out) < 1e-6 and abs(r.psnr_lq - lq) < 1e-6
    mean = table.footer[0]
    assert abs(mean[3] - sum(r.psnr for r in results) / 2) < 1e-9
    assert [row[3] for row in table.footer[1:3]] == [32.073, 32.063]  # the published ranking beside ours


def test_mfqe_equals_numpy_on_y_planes_grouped_by_class(bench):
    results, table = evaluate(bench / "out_yuv", bench / "gt", bench / "lq", "mfqe")
    for r in results:
        w, h = NAMES[r.name]
        y = {
            k: v[:, :h]
            for k, v in {
                "gt": yuv_planes(bench / "gt" / f"{r.name}.yuv", w, h),
                "lq": decoded_planes(bench / "lq" / f"{r.name}.bin", "hevc"),
                "out": yuv_planes(bench / "out_yuv" / f"{r.name}.yuv", w, h),
            }.items()
        }
        d_psnr = np.mean([psnr(o, g) - psnr(q, g) for o, q, g in zip(y["out"], y["lq"], y["gt"], strict=True)])
        d_ssim = np.mean([ssim(o, g) - ssim(q, g) for o, q, g in zip(y["out"], y["lq"], y["gt"], strict=True)])
        assert abs(r.delta_psnr - d_psnr) < 1e-6
        assert abs(r.delta_ssim - d_ssim) < 1e-9
        assert not r.luma_from_rgb
    by_name = {r.name: r for r in results}
    assert by_name["BasketballPass_416x240_50"].video_class == "D"
    assert by_name["Carphone_176x144_30"].video_class is None
    basketball = next(row for row in table.rows if row[1] == "BasketballPass_416x240_50")
    assert basketball[0] == "D" and basketball[-5:] == [0.728, None, 1.08, 1.12, 1.309]
    labels = [row[1] for row in table.footer]
    assert labels == ["class D mean (1)", "average (2 sequences)"]
    assert table.footer[-1][-5:] == [0.562, 0.75, 0.83, 0.91, 1.083]


def test_png_output_identical_to_the_input_gains_nothing(bench):
    results, _ = evaluate(bench / "out_same_as_lq", bench / "gt", bench / "lq", "mfqe")
    for r in results:
        assert r.luma_from_rgb and r.delta_psnr == 0 and r.delta_ssim == 0


@pytest.mark.parametrize(
    ("name", "size", "expected"),
    [
        ("RaceHorses_832x480_30", (832, 480), "C"),
        ("RaceHorses_416x240_30", (416, 240), "D"),
        ("Kimono_1920x1080_24", (1920, 1080), "B"),
        ("Traffic_2560x1600_30_crop", (2560, 1600), "A"),
        ("Johnny", (1280, 720), "E"),
        ("MyClip", (1280, 720), "E"),
        ("MyClip", (176, 144), None),
    ],
)
def test_jctvc_class_by_name_then_size(name, size, expected):
    assert jctvc_class(name, *size) == expected


def test_jctvc_names():
    assert parse_jctvc_name("BasketballPass_416x240_50").size == (416, 240)
    assert parse_jctvc_name("Traffic_2560x1600_30_crop").base == "Traffic"
    assert parse_jctvc_name("Foo_416x240").fps is None
    assert parse_jctvc_name("carphone") is None
