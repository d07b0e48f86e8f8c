"""Network modules: BasicVSR++ (stage one, with PQF propagation and progressive growth) and SwinIR (stage two).

Networks and weights come from files through one door, :mod:`vsr_lightning.models.loading` (not imported
here: it builds through :mod:`vsr_lightning.systems.network_allowlist`, which imports the networks).
"""

from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus
from vsr_lightning.models.checkpoints import convert_state_dict, to_basicsr_state_dict, to_mmagic_state_dict
from vsr_lightning.models.deformable_alignment import SecondOrderDeformableAlignment
from vsr_lightning.models.flow_warp import flow_warp
from vsr_lightning.models.pqf import fixed_period_pqf
from vsr_lightning.models.spynet import SpyNet
from vsr_lightning.models.spynet_weights import load_spynet_weights
from vsr_lightning.models.swinir import SwinIR, swinir_m, swinir_small

__all__ = [
    "BasicVSRPlusPlus",
    "SecondOrderDeformableAlignment",
    "SpyNet",
    "SwinIR",
    "convert_state_dict",
    "fixed_period_pqf",
    "flow_warp",
    "load_spynet_weights",
    "swinir_m",
    "swinir_small",
    "to_basicsr_state_dict",
    "to_mmagic_state_dict",
]
