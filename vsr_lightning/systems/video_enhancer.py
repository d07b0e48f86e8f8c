"""Where ``config_schema.py`` imports :class:`EnhanceOptions` from; the engine is ``vsr_lightning/inference/``."""

from vsr_lightning.inference.video import EnhanceOptions

__all__ = ["EnhanceOptions"]
