"""Both networks answer what the engine asks (size multiple, working set, flow network); others are refused."""

import pytest
from torch import nn

from vsr_lightning.inference.protocol import InferenceNetwork, require_inference_network
from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.swinir import SwinIR


def test_basicvsr_pp_and_swinir_are_inference_networks():
    vsr = BasicVSRPlusPlus(mid_channels=8, num_blocks=1, num_reconstruction_blocks=1, deform_groups=2, hr_channels=8)
    swin = SwinIR(img_size=16, embed_dim=12, depths=(2,), num_heads=(2,), window_size=4, mlp_ratio=1.0)
    assert require_inference_network(vsr, "stage one") is vsr and isinstance(swin, InferenceNetwork)
    assert (vsr.size_multiple, swin.size_multiple) == (4, 4)
    assert vsr.flow_network is vsr.spynet and swin.flow_network is None
    assert vsr.inference_bytes(2, 32, 32) > vsr.inference_bytes(1, 32, 32) > 0


def test_a_network_without_the_protocol_is_refused_with_what_it_lacks():
    with pytest.raises(TypeError, match=r"--stage1: Conv2d is not an InferenceNetwork \(missing size_multiple, "):
        require_inference_network(nn.Conv2d(3, 3, 3), "--stage1")
