"""The jobs of the two-stage recipe and how each depends on the others.

``stage1`` (with its progressive-growth chain) -> ``stage1_outputs`` (stage one run once over the
training and validation videos, cached as PNG) -> ``stage2``, which starts from scratch, from a
checkpoint, or from ``pretrain`` (the framework's own Gaussian-denoising pre-training). Every job is
keyed by the configuration it depends on, so each prerequisite runs once and is reused by later
arms, later runs and other experiments.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from vsr_lightning.data.datamodule import VideoDataModule
from vsr_lightning.data.embedded import cache_root
from vsr_lightning.data.manifest import sha256_file
from vsr_lightning.data.noisy_stills import NoisyStillsDataModule
from vsr_lightning.data.video_io import frame_name, write_png
from vsr_lightning.inference.video import EnhanceOptions, enhance_video
from vsr_lightning.jobs.fit_job import FitSpec, run_fit
from vsr_lightning.jobs.job_dir import JobDir
from vsr_lightning.jobs.job_result import JobResult
from vsr_lightning.jobs.training_step import TrainingStep
from vsr_lightning.metrics.video_quality import PsnrConvention
from vsr_lightning.models.loading import load_network, load_network_weights_into
from vsr_lightning.report import run_schema as keys
from vsr_lightning.systems.stage_one import StageOneSystem
from vsr_lightning.systems.stage_two import StageTwoSystem
from vsr_lightning.zoo.registry import is_zoo_name, zoo_entry

VOLATILE_DATA_KEYS = ("cleaning_report", "num_workers", "embedded_root", "frame_source", "cache_frames")
"""Data settings that do not change a job's result (left out of its cache key)."""


def git_commit() -> str:
    """Commit of the code that ran, for the logged config ("unknown" outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def weights_identity(path: str | None) -> str | None:
    """What a starting checkpoint holds, for job keys: a zoo entry's or a file's SHA-256 (a new zoo
    release or a replaced file under the same name then trains anew instead of reusing old jobs)."""
    if not path:
        return None
    if is_zoo_name(path):
        return zoo_entry(path)["sha256"]
    return sha256_file(Path(path)) if Path(path).is_file() else None


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


class Pipeline:
    """Builds and runs the jobs of one configuration (one arm).

    ``data_identities`` (data settings -> manifest hash) may be shared by the arms of one run, so the data
    identity is computed once per run for each distinct data configuration rather than for every job."""

    def __init__(self, cfg: DictConfig, arm: str | None = None, data_identities: dict[str, str] | None = None) -> None:
        self.cfg = cfg
        self.arm = arm
        self.runs_dir = Path(cfg.paths.runs_dir) if cfg.paths.runs_dir else cache_root() / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._datamodule: VideoDataModule | None = None
        self._datamodule_ready = False
        self._data_identities = {} if data_identities is None else data_identities

    # -- shared pieces -------------------------------------------------------------------------
    def steps(self, n: int) -> int:
        """Training steps of a job, after the smoke-test cap."""
        cap = self.cfg.get("steps_cap")
        return min(int(n), int(cap)) if cap else int(n)

    def val_every(self, n: int | None, steps: int) -> int:
        return min(int(n), steps) if n else steps

    def datamodule(self, **overrides: Any) -> VideoDataModule:
        return hydra.utils.instantiate(self.cfg.data, **overrides)

    def _base_datamodule(self, setup: bool = False) -> VideoDataModule:
        """The arm's data module without overrides, built once; ``setup``: prepared and set up for fitting
        (the videos stage one's outputs are cached for, the pre-training's frames)."""
        if self._datamodule is None:
            self._datamodule = self.datamodule()
        if setup and not self._datamodule_ready:
            self._datamodule.prepare_data()
            self._datamodule.setup("fit")
            self._datamodule_ready = True
        return self._datamodule

    @property
    def manifest_hash(self) -> str:
        """The data identity (every manifest in use plus the selection), computed once per data configuration."""
        settings = json.dumps(_plain(self.cfg.data), sort_keys=True, default=str)
        if settings not in self._data_identities:
            self._data_identities[settings] = self._base_datamodule().manifest_hash
        return self._data_identities[settings]

    def data_spec(self) -> dict:
        data = _plain(self.cfg.data)
        for key in VOLATILE_DATA_KEYS:
            data.pop(key, None)
        return {"data": data, "manifest": self.manifest_hash}

    @property
    def trainer_kwargs(self) -> dict:
        return dict(_plain(self.cfg.trainer))

    def log_config(self, job_type: str, extra: dict | None = None) -> dict:
        """Resolved configuration plus provenance, as logged with every W&B run."""
        config = _plain(self.cfg)
        config.update(
            {
                keys.CONFIG_ARM: self.arm,
                keys.CONFIG_EXPERIMENT: self.cfg.experiment.name,
                keys.CONFIG_BASELINE_ARM: self.cfg.experiment.baseline_arm,
                keys.CONFIG_GIT_COMMIT: git_commit(),
                keys.CONFIG_DATA_MANIFEST_HASH: self.manifest_hash,
                keys.CONFIG_PSNR_CONVENTION: {
                    keys.CONVENTION_CHANNEL: "rgb",
                    keys.CONVENTION_CROP_BORDER: self.cfg.crop_border,
                    keys.CONVENTION_AVERAGE: PsnrConvention().average,
                },
                "job_type": job_type,
            }
        )
        config.update(extra or {})
        return config

    def _system_kwargs(self, stage_cfg: DictConfig, max_steps: int, phase: TrainingStep | None = None) -> dict:
        """Loss and optimiser settings of a job; a later phase has its own loss and one cosine cycle."""
        optim = stage_cfg.optim
        kwargs = {
            "loss": stage_cfg.loss,
            "lr": optim.lr,
            "betas": tuple(optim.betas),
            "weight_decay": optim.weight_decay,
            "warmup_steps": optim.warmup_steps,
            "restart_periods": list(optim.restart_periods),
            "ema_decay": stage_cfg.get("ema_decay"),
            "evaluation": _plain(stage_cfg.evaluation) if "evaluation" in stage_cfg else None,
            "test_evaluation": {k: v for k, v in _plain(stage_cfg.test_evaluation).items() if v is not None}
            if "test_evaluation" in stage_cfg
            else None,
            "crop_border": self.cfg.crop_border,
        }
        if phase is not None and phase.phase > 0:
            warmup = min(int(optim.warmup_steps), max(0, max_steps - 1))
            kwargs.update(
                loss=phase.loss,
                lr=phase.lr if phase.lr is not None else optim.lr,
                warmup_steps=warmup,
                restart_periods=[max(1, max_steps - warmup)],
            )
        return kwargs

    # -- stage one -----------------------------------------------------------------------------
    def stage1_plan(self) -> list[TrainingStep]:
        """Stage one's jobs in order: the progressive steps (or the one job) of phase 0, then the later phases."""
        s1 = self.cfg.stage1
        growth = (
            [list(x) for x in s1.progressive]
            if s1.progressive
            else [[s1.model.num_reconstruction_blocks, s1.max_steps]]
        )
        plan = [TrainingStep(int(blocks), self.steps(n), 0, str(s1.loss)) for blocks, n in growth]
        for number, phase in enumerate(s1.phases or [], start=1):
            sources = _plain(phase.train_sources)
            plan.append(
                TrainingStep(plan[-1].blocks, self.steps(phase.steps), number, str(phase.loss), sources, phase.lr)
            )
        return plan

    def stage1(self) -> JobResult:
        """Train stage one (each progressive step and each later phase a job of its own); returns the last
        job's result."""
        plan = self.stage1_plan()
        previous: JobResult | None = None
        for index, step in enumerate(plan):
            previous = self._stage1_step(index, step, previous, last=index == len(plan) - 1)
        assert previous is not None
        return previous

    def _stage1_step(self, index: int, step: TrainingStep, previous: JobResult | None, last: bool) -> JobResult:
        s1 = self.cfg.stage1
        model_cfg = {**_plain(s1.model), "num_reconstruction_blocks": int(step.blocks)}
        job = JobDir.create(self.runs_dir, "stage1", self._stage1_spec(step, model_cfg, previous))
        with job.lock():
            L.seed_everything(self.cfg.seed + index, workers=True)
            net = hydra.utils.instantiate(model_cfg)
            lineage = self._stage1_start(net, job, previous)
            lineage.append(
                {
                    "job": job.key,
                    "reconstruction_blocks": int(step.blocks),
                    "steps": int(step.steps),
                    **(step.describe() if step.phase > 0 else {}),
                }
            )
            system = StageOneSystem(
                net,
                flow_freeze_steps=s1.flow_freeze_steps if previous is None else 0,
                flow_lr_mult=s1.flow_lr_mult,
                lineage=lineage,
                model_config=model_cfg,
                **self._system_kwargs(s1, step.steps, step),
            )
            overrides: dict[str, Any] = {"batch_size": s1.batch_size} if s1.batch_size else {}
            if step.train_sources is not None:
                overrides["train_sources"] = step.train_sources
            fit = FitSpec(
                job,
                system,
                self.datamodule(**overrides),
                step.steps,
                self.val_every(s1.val_every, step.steps),
                self.trainer_kwargs,
                self.cfg.logger,
                f"stage1-{step.blocks}blk-{job.key}",
                "stage1",
                self.log_config("stage1", {"lineage": lineage}),
                evaluate=last,
            )
            return run_fit(fit)

    def _stage1_spec(self, step: TrainingStep, model_cfg: dict, previous: JobResult | None) -> dict:
        """What a stage-one job's result depends on (its cache key)."""
        s1 = self.cfg.stage1
        spec = {
            **self.data_spec(),
            "stage1": _plain(s1),
            "model": model_cfg,
            "steps": step.steps,
            "seed": self.cfg.seed,
            "init_weights": weights_identity(s1.init) if previous is None else None,
            "trainer": self.trainer_kwargs,
            "previous": previous.key if previous else None,
            "crop_border": self.cfg.crop_border,
        }
        spec["stage1"].pop("test_evaluation", None)  # testing options do not change training
        spec["stage1"].pop("phases", None)  # a phase's job depends on its own phase and the jobs before it
        if step.phase > 0:
            spec["phase"] = step.describe()
        return spec

    def _stage1_start(self, net: torch.nn.Module, job: JobDir, previous: JobResult | None) -> list[dict]:
        """Load a stage-one job's starting weights into ``net`` (unless the job is done); returns the lineage
        so far: the previous job's, or the starting file."""
        init = self.cfg.stage1.init
        lineage = list(previous.lineage) if previous else []
        if job.result() is not None:
            pass  # trained already: run_fit only evaluates
        elif previous is not None:
            load_network_weights_into(net, previous.checkpoint, grow_from_smaller=True)
        elif init:  # a deeper trunk than the file's (a progressive arm) starts with identity blocks
            load_network_weights_into(net, init, grow_from_smaller=True)
            lineage.append({"init": str(init)})
        return lineage

    def stage1_outputs(self, stage1: JobResult) -> Path:
        """Stage one's outputs on the training and validation videos, cached as PNG frames."""
        s2 = self.cfg.stage2
        spec = {
            **self.data_spec(),
            "stage1": stage1.key,
            "max_frames": s2.outputs_max_frames,
            "evaluation": _plain(self.cfg.stage1.evaluation),
        }
        job = JobDir.create(self.runs_dir, "stage1_outputs", spec)
        out = job.root / "outputs"
        with job.lock():
            if job.result() is not None:
                return out
            net = load_network(stage1.checkpoint, "stage1").eval()
            options = EnhanceOptions(**_plain(self.cfg.stage1.evaluation))
            dm = self._base_datamodule(setup=True)
            videos = [(ds, v, s2.outputs_max_frames) for ds in dm.train_set.datasets for v in ds.videos]
            videos += [(dm.val_set, v, None) for v in dm.val_set.videos]
            for ds, entry, max_frames in tqdm(videos, desc="stage-one outputs", unit="video"):
                n = entry.num_frames if max_frames is None else min(max_frames, entry.num_frames)
                lq_store, _ = ds.frame_stores(entry)
                lq = torch.from_numpy(lq_store.load(range(n))).permute(0, 3, 1, 2).float() / 255
                pqf = torch.tensor(entry.pqf[:n])
                dups = [d for d in entry.duplicates if d < n]
                result = enhance_video(lambda x, pqf=None: net(x, pqf=pqf), lq, pqf, dups, options)
                folder = out / entry.split / entry.name
                folder.mkdir(parents=True, exist_ok=True)
                frames = result.clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).numpy()
                for t, frame in enumerate(frames):
                    write_png(frame, folder / frame_name(t))
            job.finish({"kind": "stage1_outputs", "key": job.key, "root": str(out)})
        return out

    # -- stage two -----------------------------------------------------------------------------
    def pretrain(self) -> JobResult:
        """Gaussian colour-denoising pre-training of the refiner on stills and training GT frames."""
        pre, s2 = self.cfg.pretrain, self.cfg.stage2
        spec = {
            "pretrain": _plain(pre),
            "model": _plain(s2.model),
            "manifest": self.manifest_hash,
            "seed": self.cfg.seed,
            "trainer": self.trainer_kwargs,
            "steps": self.steps(pre.max_steps),
        }
        spec["pretrain"].pop("val_every", None)  # checkpoint interval: resume is exact, results do not change
        job = JobDir.create(self.runs_dir, "pretrain", spec)
        with job.lock():
            if (done := JobResult.read(job)) is not None:
                return done
            L.seed_everything(self.cfg.seed, workers=True)
            dm = self._base_datamodule(setup=True)
            images = sorted(Path(str(dm.resolve_root(dm.train_sources[0].root))).glob("stills/*.png"))
            for ds in dm.train_set.datasets:
                for entry in ds.videos:
                    gt_store = ds.frame_stores(entry)[1]
                    step = max(1, entry.num_frames // max(1, pre.frames_per_video))
                    images += [gt_store.folder / frame_name(t) for t in range(0, entry.num_frames, step)]
            data = NoisyStillsDataModule(
                images,
                pre.patch,
                tuple(pre.noise_sigma),
                pre.batch_size,
                samples_per_epoch=max(64, pre.batch_size * 8),
                seed=self.cfg.seed,
            )
            net = hydra.utils.instantiate(s2.model)
            system = StageTwoSystem(
                net,
                job_type="pretrain",
                model_config=_plain(s2.model),
                lineage=[{"job": job.key, "pretrain": "gaussian denoising"}],
                **self._system_kwargs(pre, self.steps(pre.max_steps)),
            )
            n_steps = self.steps(pre.max_steps)
            fit = FitSpec(
                job,
                system,
                data,
                n_steps,
                self.val_every(pre.val_every, n_steps),
                self.trainer_kwargs,
                self.cfg.logger,
                f"pretrain-{job.key}",
                "pretrain",
                self.log_config("pretrain"),
                evaluate=False,
            )
            return run_fit(fit)

    def stage2(self) -> JobResult:
        """Train the refiner on stage one's cached outputs; returns its result."""
        s2 = self.cfg.stage2
        stage1 = self.stage1()
        inputs = self.stage1_outputs(stage1)
        init_checkpoint, lineage = self._stage2_start()
        spec = {
            **self.data_spec(),
            "stage2": _plain(s2),
            "stage1": stage1.key,
            "init": init_checkpoint,
            "init_weights": weights_identity(init_checkpoint) if s2.init != "pretrain" else None,
            "seed": self.cfg.seed,
            "trainer": self.trainer_kwargs,
            "crop_border": self.cfg.crop_border,
            "steps": self.steps(s2.max_steps),
        }
        spec["stage2"].pop("test_evaluation", None)
        job = JobDir.create(self.runs_dir, "stage2", spec)
        with job.lock():
            L.seed_everything(self.cfg.seed, workers=True)
            net = hydra.utils.instantiate(s2.model)
            if init_checkpoint and job.result() is None:
                load_network_weights_into(net, init_checkpoint)
            lineage.append({"job": job.key, "stage1": stage1.key})
            n_steps = self.steps(s2.max_steps)
            system = StageTwoSystem(
                net,
                job_type="stage2",
                model_config=_plain(s2.model),
                lineage=lineage,
                **self._system_kwargs(s2, n_steps),
            )
            dm = self.datamodule(
                input_root=str(inputs),
                window=1,
                patch=s2.patch,
                batch_size=s2.batch_size,
                train_max_frames=s2.outputs_max_frames,
                drop_duplicates=False,
            )
            fit = FitSpec(
                job,
                system,
                dm,
                n_steps,
                self.val_every(s2.val_every, n_steps),
                self.trainer_kwargs,
                self.cfg.logger,
                f"stage2-{job.key}",
                "stage2",
                self.log_config("stage2", {"lineage": lineage}),
            )
            return run_fit(fit)

    def _stage2_start(self) -> tuple[str | None, list[dict]]:
        """The refiner's starting checkpoint (None: from scratch) and its lineage; ``pretrain`` runs (or
        reuses) the denoising pre-training first."""
        init = self.cfg.stage2.init
        if init == "pretrain":
            pre = self.pretrain()
            return pre.checkpoint, list(pre.lineage)
        if init in (None, "scratch"):
            return None, []
        return str(init), [{"init": str(init)}]

    def run(self) -> JobResult:
        """Run this arm's compared stage (and, through it, every prerequisite)."""
        stage = self.cfg.experiment.compare_stage
        if stage == "stage1":
            return self.stage1()
        if stage == "stage2":
            return self.stage2()
        raise ValueError(f"experiment.compare_stage must be 'stage1' or 'stage2', got {stage!r}")
