"""Former home of the checkpoint loader, now :mod:`vsr_lightning.models.loading` (the one door).

Kept as a name only for the callers not moved yet (``zoo/train_stage1.py``, ``zoo/train_stage2.py``,
``zoo/train_denoise.py``, ``benchmarks/bench_enhance.py``); new code imports from ``models.loading``.
"""

from vsr_lightning.models.loading import load_network, load_network_weights_into

__all__ = ["load_network", "load_network_weights_into"]
