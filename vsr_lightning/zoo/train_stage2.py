"""Zoo recipe: ``python -m vsr_lightning.zoo.train_stage2`` retrains ``zoo:stage2-embedded``.

Runs ``run.py +experiment=zoo_stage2`` in the zoo's own runs folder (stage one as the main job trains
it from ``zoo:stage1-embedded``; the refiner from ``zoo:denoise-embedded``, fine-tuned on stage one's
outputs of the embedded training split), then publishes the stage-two job's final weights with its
per-video validation PSNR (over the stage-one output it refines, and over the compressed input).
Extra arguments are passed to ``run.py`` as Hydra overrides.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vsr_lightning.data.embedded import cache_root
from vsr_lightning.models.checkpoints import read_checkpoint
from vsr_lightning.models.loading import load_network
from vsr_lightning.zoo.publish import publish
from vsr_lightning.zoo.recipe_jobs import job_result_and_scores, newest_job

REPO = Path(__file__).resolve().parents[2]
NAME = "stage2-embedded"
TRAINING_DATA = (
    "zoo:denoise-embedded fine-tuned on the stage-one outputs (main job's stage one, from "
    "zoo:stage1-embedded) of the embedded training split"
)


def publish_job(job: Path, recipe: str) -> dict:
    result, scores = job_result_and_scores(job)
    stage1 = scores.get("per_video_stage1", {})
    per_video = {
        video: {
            "psnr": round(v["psnr"], 4),
            "psnr_lq": round(v["psnr_lq"], 4),
            "psnr_stage1": round(stage1[video], 4) if video in stage1 else None,
            "gain_over_input": round(v["psnr"] - v["psnr_lq"], 4),
        }
        for video, v in scores.get("per_video", {}).items()
    }
    gains = [v["gain_over_input"] for v in per_video.values()]
    metrics = {
        "val_per_video": per_video,
        "val_mean_gain_over_input": round(sum(gains) / max(len(gains), 1), 4),
        "validation": "embedded default validation split after the main job's stage one (RGB PSNR, crop 0)",
    }
    config = dict(read_checkpoint(job / "final.ckpt")["vsr_model"])
    return publish(
        NAME,
        load_network(job / "final.ckpt", "stage2"),
        config,
        job_type="stage2",
        training_data=TRAINING_DATA,
        steps=result.get("global_step"),
        recipe=recipe,
        metrics=metrics,
    )


def main(argv: list[str] | None = None) -> None:
    extra = list(sys.argv[1:] if argv is None else argv)
    runs_dir = cache_root() / "zoo-runs"
    cmd = [
        sys.executable,
        str(REPO / "run.py"),
        "+experiment=zoo_stage2",
        "logger=none",
        f"paths.runs_dir={runs_dir}",
        *extra,
    ]
    subprocess.run(cmd, check=True, cwd=REPO)
    entry = publish_job(newest_job(runs_dir, "stage2"), "python -m vsr_lightning.zoo.train_stage2 " + " ".join(extra))
    print(json.dumps(entry["metrics"], indent=2))


if __name__ == "__main__":
    main()
