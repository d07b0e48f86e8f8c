"""Zoo recipe: ``python -m vsr_lightning.zoo.train_stage1`` retrains ``zoo:stage1-embedded`` from scratch.

Steps: fetch and compress the pinned ``train`` footage (``footage_dataset``); run ``run.py
+experiment=zoo_stage1`` with it added to the embedded training split (half of the samples each); publish
the final weights with their validation PSNR into the package's zoo. ``--stills`` adds scikit-image's
photographs filmed by a moving camera (``stills_motion``) as a third source: an experiment, whose first
run made the propagation diverge (benchmarks/results/2026-12-04_zoo_stage1_stills.md). Extra
arguments are passed to the run as Hydra overrides: ``trainer=gpu trainer.precision=32-true`` on a GPU,
as the published entry was trained (on a 2-core CPU its steps of 16 clips take hours). ``--phase2-steps
N`` adds a second run of N steps from the first one's weights (a warm restart of the learning rate).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from vsr_lightning.models.checkpoints import read_checkpoint
from vsr_lightning.models.loading import load_network
from vsr_lightning.zoo.footage_dataset import ensure_footage_dataset
from vsr_lightning.zoo.publish import publish
from vsr_lightning.zoo.recipe_jobs import job_result_and_scores, newest_job
from vsr_lightning.zoo.stills_motion import ensure_stills_motion_dataset

REPO = Path(__file__).resolve().parents[2]
NAME = "stage1-embedded"
TRAINING_DATA = (
    "embedded training split (carphone 0-74, bikes 0-174, bigbuckbunny 0-74) and registry footage "
    "traffic, box, cup, tree (25-frame clips, HEVC LDP QP 37)"
)
STILLS_DATA = "; scikit-image's 15 photographs filmed by a moving camera, plain and dark + letterboxed (30 clips)"


def training_overrides(extra_roots: list[Path], runs_dir: Path) -> list[str]:
    """The recipe's overrides: the embedded training split and each extra dataset, equally weighted."""
    extra = "".join(
        f", {{root: '{root}', split: train, include: null, exclude: [], weight: 1.0}}" for root in extra_roots
    )
    sources = f"[{{root: embedded, split: train, include: null, exclude: [], weight: 1.0}}{extra}]"
    return ["+experiment=zoo_stage1", f"data.train_sources={sources}", "logger=none", f"paths.runs_dir={runs_dir}"]


def publish_job(job: Path, recipe: str, steps_before: int = 0, training_data: str = TRAINING_DATA) -> dict:
    """Publish a finished stage-one job; ``steps_before``: steps of the phases it started from."""
    result, scores = job_result_and_scores(job)
    config = dict(read_checkpoint(job / "final.ckpt")["vsr_model"])
    config.pop("spynet_path", None)  # SPyNet's weights are part of the state dict
    net = load_network(job / "final.ckpt", "stage1")
    per_video = {
        video: {
            "psnr": round(v["psnr"], 4),
            "psnr_lq": round(v["psnr_lq"], 4),
            "gain": round(v["psnr"] - v["psnr_lq"], 4),
        }
        for video, v in scores.get("per_video", {}).items()
    }
    gains = [v["gain"] for v in per_video.values()]
    metrics = {
        "val_per_video": per_video,
        "val_mean_gain": round(sum(gains) / max(len(gains), 1), 4),
        "validation": "embedded default validation split (RGB PSNR, crop 0, per video then mean)",
    }
    return publish(
        NAME,
        net,
        config,
        job_type="stage1",
        training_data=training_data,
        steps=(result.get("global_step") or 0) + steps_before,
        recipe=recipe,
        metrics=metrics,
    )


PHASE2_STEPS = 0


def split_arguments(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """``--phase2-steps N`` (default ``PHASE2_STEPS``), ``--stills``, and the Hydra overrides around them."""
    parser = argparse.ArgumentParser(prog="python -m vsr_lightning.zoo.train_stage1", add_help=True)
    parser.add_argument("--phase2-steps", type=int, default=PHASE2_STEPS, help="phase 2's steps (0: none)")
    parser.add_argument("--stills", action="store_true", help="add the filmed photographs (an experiment)")
    known, overrides = parser.parse_known_args(argv)
    if known.phase2_steps < 0:
        parser.error("--phase2-steps must be 0 or more")
    return known, overrides


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    options, extra = split_arguments(args)
    phase2_steps = options.phase2_steps
    footage = ensure_footage_dataset("train", fetch=True)
    roots = [footage, ensure_stills_motion_dataset()] if options.stills else [footage]
    runs_dir = footage.parent / "zoo-runs"
    cmd = [sys.executable, str(REPO / "run.py"), *training_overrides(roots, runs_dir), *extra]
    subprocess.run(cmd, check=True, cwd=REPO)
    steps_before = 0
    if phase2_steps:
        phase1 = newest_job(runs_dir, "stage1")
        steps_before = json.loads((phase1 / "done.json").read_text())["global_step"]
        phase2 = [f"stage1.init={phase1 / 'final.ckpt'}", f"stage1.max_steps={phase2_steps}"]
        subprocess.run([*cmd, *phase2], check=True, cwd=REPO)
    entry = publish_job(
        newest_job(runs_dir, "stage1"),
        "python -m vsr_lightning.zoo.train_stage1 " + " ".join(args),
        steps_before=steps_before,
        training_data=TRAINING_DATA + (STILLS_DATA if options.stills else ""),
    )
    print(json.dumps(entry["metrics"], indent=2))


if __name__ == "__main__":
    main()
