"""Zoo recipe: ``python -m vsr_lightning.zoo.train_denoise`` retrains ``zoo:denoise-embedded`` from scratch.

The refiner of the embedded default (tiny SwinIR) pre-trained on Gaussian colour denoising, the
starting point the transfer arm of stage two fine-tunes (the winners started from public SwinIR
denoising weights). It is the main job's own pre-training job (``Pipeline.pretrain``: scikit-image
stills and frames of the embedded training split, noise sigma 0-50), run for longer. Nothing is
downloaded. It is scored on the first frame of every embedded validation video at sigma 15, 25 and 50
(fixed noise), data it never trained on. Extra arguments are Hydra overrides (``pretrain.max_steps=300``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from vsr_lightning.config_schema import check_known_keys, register_configs
from vsr_lightning.data.embedded import ensure_embedded_dataset
from vsr_lightning.data.frame_store import FrameStore
from vsr_lightning.data.manifest import Manifest
from vsr_lightning.jobs.pipeline import Pipeline
from vsr_lightning.metrics.video_quality import frame_psnr
from vsr_lightning.models.loading import load_network
from vsr_lightning.zoo.publish import publish

REPO = Path(__file__).resolve().parents[2]
NAME = "denoise-embedded"
STEPS = 3000
SIGMAS = (15, 25, 50)
TRAINING_DATA = (
    "Gaussian colour denoising (sigma 0-50) on scikit-image's natural stills and frames of the embedded training split"
)


def recipe_config(overrides: list[str]) -> DictConfig:
    register_configs()
    defaults = [
        "logger=none",
        "data.cleaning_report=null",
        f"pretrain.max_steps={STEPS}",
        f"pretrain.val_every={STEPS // 6}",
        f"pretrain.optim.restart_periods=[{STEPS - 50}]",
        "pretrain.optim.warmup_steps=50",
        "pretrain.optim.lr=5e-4",
    ]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=defaults + overrides)
    check_known_keys(cfg)
    return cfg


def validation_frames(root: Path) -> list[tuple[str, torch.Tensor]]:
    manifest = Manifest.load(root)
    out = []
    for video in manifest.split("val"):
        rgb = FrameStore(root, manifest, video, "gt").load([0])[0]  # whatever the layout (PNG or video)
        out.append((video.name, torch.from_numpy(rgb.copy()).permute(2, 0, 1).float().div(255)))
    return out


def denoising_scores(net: torch.nn.Module, frames: list[tuple[str, torch.Tensor]]) -> dict[str, dict[str, float]]:
    """Mean PSNR of noisy input and output at each sigma (noise drawn from a fixed generator)."""
    scores: dict[str, dict[str, float]] = {}
    net.eval()
    for sigma in SIGMAS:
        gen = torch.Generator().manual_seed(sigma)
        noisy_psnr, out_psnr = [], []
        for _, gt in frames:
            noisy = (gt + torch.randn(gt.shape, generator=gen) * sigma / 255).clamp(0, 1)
            with torch.inference_mode():
                out = net(noisy.unsqueeze(0))[0].clamp(0, 1)
            noisy_psnr.append(float(frame_psnr(noisy.unsqueeze(0), gt.unsqueeze(0))))
            out_psnr.append(float(frame_psnr(out.unsqueeze(0), gt.unsqueeze(0))))
        scores[f"sigma{sigma}"] = {
            "psnr_noisy": round(sum(noisy_psnr) / len(frames), 4),
            "psnr_denoised": round(sum(out_psnr) / len(frames), 4),
        }
    return scores


def main(argv: list[str] | None = None) -> None:
    overrides = list(sys.argv[1:] if argv is None else argv)
    cfg = recipe_config(overrides)
    result = Pipeline(cfg).pretrain()
    net = load_network(result.checkpoint, "stage2")
    root = ensure_embedded_dataset(cfg.data.embedded_root, progress=False)
    metrics = {
        "denoising": denoising_scores(net, validation_frames(root)),
        "validation": "first frame of each embedded validation video, RGB PSNR, crop 0, fixed noise",
    }
    config = OmegaConf.to_container(cfg.stage2.model, resolve=True)
    entry = publish(
        NAME,
        net,
        config,
        job_type="pretrain",
        training_data=TRAINING_DATA,
        steps=result.global_step,
        recipe="python -m vsr_lightning.zoo.train_denoise " + " ".join(overrides),
        metrics=metrics,
    )
    print(json.dumps(entry["metrics"], indent=2))


if __name__ == "__main__":
    main()
