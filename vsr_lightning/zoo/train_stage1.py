"""Zoo recipe: ``python -m vsr_lightning.zoo.train_stage1`` retrains ``zoo:stage1-embedded`` from scratch.

Steps: fetch and compress the pinned ``train`` footage (``footage_dataset``); run ``run.py
+experiment=zoo_stage1`` with that footage added to the embedded training split; publish the final
weights with their validation PSNR into the package's zoo. Extra arguments are passed to the run as Hydra
overrides: ``trainer=gpu trainer.precision=32-true`` on a GPU, as the published entry was trained (on a
2-core CPU the same 1013 steps of 16 clips take hours). ``--phase2-steps N`` adds a second run of N steps
from the first one's weights (a warm restart of the learning rate; the earlier CPU recipe's phase 2).
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

REPO = Path(__file__).resolve().parents[2]
NAME = "stage1-embedded"
TRAINING_DATA = (
    "embedded training split (carphone 0-74, bikes 0-174, bigbuckbunny 0-74) and registry footage "
    "traffic, box, cup, tree (25-frame clips, HEVC LDP QP 37)"
)


def training_overrides(footage_root: Path, runs_dir: Path) -> list[str]:
    sources = (
        "[{root: embedded, split: train, include: null, exclude: [], weight: 1.0}, "
        f"{{root: '{footage_root}', split: train, include: null, exclude: [], weight: 1.0}}]"
    )
    return ["+experiment=zoo_stage1", f"data.train_sources={sources}", "logger=none", f"paths.runs_dir={runs_dir}"]


def publish_job(job: Path, recipe: str, steps_before: int = 0) -> dict:
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
        training_data=TRAINING_DATA,
        steps=(result.get("global_step") or 0) + steps_before,
        recipe=recipe,
        metrics=metrics,
    )


PHASE2_STEPS = 0


def split_arguments(argv: list[str]) -> tuple[int, list[str]]:
    """``--phase2-steps N`` (default ``PHASE2_STEPS``) and the Hydra overrides around it."""
    parser = argparse.ArgumentParser(prog="python -m vsr_lightning.zoo.train_stage1", add_help=True)
    parser.add_argument("--phase2-steps", type=int, default=PHASE2_STEPS, help="phase 2's steps (0: none)")
    known, overrides = parser.parse_known_args(argv)
    if known.phase2_steps < 0:
        parser.error("--phase2-steps must be 0 or more")
    return known.phase2_steps, overrides


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    phase2_steps, extra = split_arguments(args)
    footage = ensure_footage_dataset("train")
    runs_dir = footage.parent / "zoo-runs"
    cmd = [sys.executable, str(REPO / "run.py"), *training_overrides(footage, runs_dir), *extra]
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
    )
    print(json.dumps(entry["metrics"], indent=2))


if __name__ == "__main__":
    main()
