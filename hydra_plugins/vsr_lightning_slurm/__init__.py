"""Hydra instantiates launchers only from the ``hydra_plugins`` namespace: this names vsr-lightning's SLURM
launcher there (the code is in :mod:`vsr_lightning.jobs.arm_launcher`; it needs the ``cluster`` extra)."""

try:
    from vsr_lightning.jobs.arm_launcher import ArmSlurmLauncher as _ArmSlurmLauncher
except ImportError:  # hydra-submitit-launcher not installed: nothing to register
    _ArmSlurmLauncher = None

if _ArmSlurmLauncher is not None:

    class ArmSlurmLauncher(_ArmSlurmLauncher):
        """One SLURM job per arm; a failing arm fails its own job and is listed in the report."""
