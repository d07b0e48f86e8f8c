"""HEVC low-delay-P compression of real video: plausible quality, PQF rhythm, sidecar."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest

from vsr_lightning.data.hevc import (
    HevcConfig,
    QpSidecar,
    compress_hevc,
    ldp_qp_schedule,
    pqf_flags,
    sidecar_path,
    x265_params,
)
from vsr_lightning.data.video_io import VideoReader, psnr_uint8


@pytest.fixture(scope="module")
def compressed_bikes(tmp_path_factory, bikes_path):
    """40 frames of bikes (real camera footage), compressed at QP 37."""
    reader = VideoReader(bikes_path)
    out = tmp_path_factory.mktemp("hevc") / "bikes.mkv"
    sidecar = compress_hevc(
        islice(reader.yuv_frames(), 40),
        40,
        reader.info.width,
        reader.info.height,
        reader.info.fps,
        out,
        HevcConfig(qp=37, preset="ultrafast"),
    )
    gt = reader.read(0, 40)
    lq = VideoReader(out).read()
    return gt, lq, sidecar, out


def test_cascade_matches_hm_low_delay_p():
    qps = ldp_qp_schedule(10, HevcConfig(qp=37))
    assert qps == [37, 40, 39, 40, 38, 40, 39, 40, 38, 40]
    assert pqf_flags(qps) == [k % 4 == 0 for k in range(10)]
    params = x265_params(qps, HevcConfig(qp=37))
    assert "bframes=0" in params and "qp=37" in params and "ipratio=1" in params
    assert "zones=2,2,q=40/3,3,q=39/4,4,q=40/5,5,q=38" in params  # zone k+1 sets frame k


def test_pqf_flags_fall_back_to_period_without_cascade():
    assert pqf_flags([30] * 9) == [k % 4 == 0 for k in range(9)]
    assert pqf_flags([30] * 6, period=2) == [True, False] * 3


def test_compressed_frames_have_plausible_psnr(compressed_bikes):
    gt, lq, _, _ = compressed_bikes
    assert lq.shape == gt.shape
    psnr = np.array([psnr_uint8(g, q) for g, q in zip(gt, lq, strict=True)])
    assert 28.0 < psnr.mean() < 38.0
    assert psnr.min() > 24.0


def test_peak_quality_frames_beat_their_neighbours(compressed_bikes):
    gt, lq, sidecar, _ = compressed_bikes
    psnr = np.array([psnr_uint8(g, q) for g, q in zip(gt, lq, strict=True)])
    gains = [psnr[k] - 0.5 * (psnr[k - 1] + psnr[k + 1]) for k in range(4, 37, 4)]
    assert sidecar.pqf[4] and not sidecar.pqf[5]
    assert np.mean(gains) > 0.1


def test_sidecar_records_types_and_qps(compressed_bikes):
    _, _, sidecar, out = compressed_bikes
    assert sidecar.frame_type[0] == "I" and set(sidecar.frame_type[1:]) == {"P"}  # low delay: no B frames
    loaded = QpSidecar.load(sidecar_path(out))
    assert loaded.qp == sidecar.qp and loaded.pqf == sidecar.pqf and len(loaded.qp) == 40
