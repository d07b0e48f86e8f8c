"""Network modules: BasicVSR++ (stage one, with PQF propagation and progressive growth) and SwinIR (stage two)."""

from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.checkpoints import (
    convert_state_dict,
    load_basicvsr_pp_weights,
    load_spynet_weights,
    load_swinir_weights,
    to_basicsr_state_dict,
    to_mmagic_state_dict,
)
from vsr_lightning.models.deformable_alignment import SecondOrderDeformableAlignment
from vsr_lightning.models.flow_warp import flow_warp
from vsr_lightning.models.pqf import fixed_period_pqf
from vsr_lightning.models.spynet import SpyNet
from vsr_lightning.models.swinir import SwinIR, swinir_m, swinir_small

__all__ = [
    "BasicVSRPlusPlus",
    "SecondOrderDeformableAlignment",
    "SpyNet",
    "SwinIR",
    "convert_state_dict",
    "fixed_period_pqf",
    "flow_warp",
    "load_basicvsr_pp_weights",
    "load_spynet_weights",
    "load_swinir_weights",
    "swinir_m",
    "swinir_small",
    "to_basicsr_state_dict",
    "to_mmagic_state_dict",
]
