"""A readable summary of what a data module will train and validate on."""

from __future__ import annotations

from vsr_lightning.data.datamodule import VideoDataModule


def summarize_datamodule(dm: VideoDataModule) -> str:
    """Videos, frames and PQF/duplicate counts per split, cleaning drops, and the manifest hash."""
    lines = [f"data manifest hash: {dm.manifest_hash}"]
    train = [v for ds in dm.train_set.datasets for v in ds.videos]
    val = dm.val_set.videos
    for label, videos in (("train", train), ("val", val)):
        frames = sum(v.num_frames for v in videos)
        dups = sum(len(v.duplicates) for v in videos)
        psnr = sum(v.mean_psnr_lq for v in videos) / len(videos)
        lines.append(f"{label:5s}: {len(videos):3d} videos, {frames:5d} frames, {dups:3d} duplicated frames, "
                     f"compressed RGB PSNR {psnr:.2f} dB (mean over videos)")
    for v in val:
        lines.append(f"  val {v.name:20s} {v.width}x{v.height} {v.num_frames:3d} frames "
                     f"{v.mean_psnr_lq:.2f} dB, PQFs {sum(v.pqf)}")
    if dm.cleaning:
        lines.append(f"cleaning dropped {len(dm.dropped)} training clips:")
        lines.extend(f"  {d.video}: {d.rule} ({d.reason})" for d in dm.dropped)
    return "\n".join(lines)
