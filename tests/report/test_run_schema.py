"""The contract's key helpers round-trip and reject foreign keys."""

from __future__ import annotations

import pytest

from vsr_lightning.report import run_schema as rs


def test_video_metric_keys_round_trip_with_odd_names() -> None:
    for video in ("carphone", "bikes.mp4", "set/clip_01"):
        for metric in rs.VIDEO_METRICS:
            assert rs.parse_video_metric_key(rs.video_metric_key(video, metric)) == (video, metric)
    assert rs.parse_video_metric_key("val/psnr") is None
    assert rs.parse_video_metric_key("val/video/carphone/lpips") is None
    with pytest.raises(ValueError):
        rs.video_metric_key("v", "lpips")


def test_sample_keys_round_trip() -> None:
    assert rs.parse_sample_key(rs.sample_key("bikes", "stage1")) == ("bikes", "stage1")
    assert rs.parse_sample_key("samples/bikes/diff") is None
    assert rs.PER_VIDEO_COLUMNS == ("video", "psnr", "psnr_lq", "ssim", "psnr_y", "psnr_y_lq")
    assert rs.PER_FRAME_COLUMNS == ("video", "frame", "psnr", "psnr_lq", "pqf")
