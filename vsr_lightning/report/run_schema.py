"""The W&B logging contract shared by the trainer (writer) and the report (reader).

Both sides import these names so a renamed key breaks loudly in one place instead of silently
producing an empty report. Writer side, in short::

    run = wandb.init(project=P, group=G, name=N, job_type="stage2",
                     config={CONFIG_ARM: "scratch", CONFIG_PSNR_CONVENTION: {...}, ...})
    run.summary[video_metric_key("carphone", "psnr")] = 31.2      # for every video and metric
    run.summary[VAL_PSNR] = mean_over_videos
    run.log({TABLE_PER_FRAME: wandb.Table(columns=list(PER_FRAME_COLUMNS), data=rows)})
    run.log({sample_key("carphone", "gt"): wandb.Image(crop)})
    run.finish()   # exit code 0; a crash is finish(exit_code=1)

The reader side is ``vsr_lightning.report`` (``write_report``, ``python -m vsr_lightning.report``).
"""

from __future__ import annotations

# --- wandb.init(...) -------------------------------------------------------------------------------
JOB_TYPES: tuple[str, ...] = ("stage1", "stage2", "pretrain")

CONFIG_ARM = "arm"
CONFIG_EXPERIMENT = "experiment"
CONFIG_BASELINE_ARM = "baseline_arm"
CONFIG_GIT_COMMIT = "git_commit"
CONFIG_DATA_MANIFEST_HASH = "data_manifest_hash"
CONFIG_PSNR_CONVENTION = "psnr_convention"

CONVENTION_CHANNEL = "channel"  # "rgb" | "y"
CONVENTION_CROP_BORDER = "crop_border"  # int
CONVENTION_AVERAGE = "average"
CONVENTION_CHANNELS: tuple[str, ...] = ("rgb", "y")
AVERAGE_PER_VIDEO = "per video, then over videos"

# --- summary: overall validation metrics ------------------------------------------------------------
VAL_PSNR = "val/psnr"
VAL_PSNR_LQ = "val/psnr_lq"
VAL_PSNR_GAIN = "val/psnr_gain"
VAL_SSIM = "val/ssim"
VAL_PSNR_Y = "val/psnr_y"
VAL_PSNR_Y_LQ = "val/psnr_y_lq"
OVERALL_KEYS: dict[str, str] = {
    "psnr": VAL_PSNR,
    "psnr_lq": VAL_PSNR_LQ,
    "psnr_gain": VAL_PSNR_GAIN,
    "ssim": VAL_SSIM,
    "psnr_y": VAL_PSNR_Y,
    "psnr_y_lq": VAL_PSNR_Y_LQ,
}

# --- summary: per video -----------------------------------------------------------------------------
VIDEO_PREFIX = "val/video/"
VIDEO_METRICS: tuple[str, ...] = ("psnr", "psnr_lq", "ssim", "psnr_y", "psnr_y_lq")

# --- summary: bookkeeping -------------------------------------------------------------------------
MODEL_PARAMS = "model/params"
TIME_TRAIN_SECONDS = "time/train_seconds"
TIME_TO_FINAL_PSNR_SECONDS = "time/to_final_psnr_seconds"
TRAINER_GLOBAL_STEP = "trainer/global_step"

# --- tables (wandb.Table via run.log) -----------------------------------------------------------------
TABLE_PER_VIDEO = "val/per_video"
PER_VIDEO_COLUMNS: tuple[str, ...] = ("video",) + VIDEO_METRICS
TABLE_PER_FRAME = "val/per_frame"
PER_FRAME_COLUMNS: tuple[str, ...] = ("video", "frame", "psnr", "psnr_lq", "pqf")

# --- sample images (wandb.Image via run.log) --------------------------------------------------------
SAMPLES_PREFIX = "samples/"
SAMPLE_KINDS: tuple[str, ...] = ("lq", "stage1", "output", "gt")


def video_metric_key(video: str, metric: str) -> str:
    """Summary key of one per-video metric, e.g. ``val/video/carphone/psnr``."""
    if metric not in VIDEO_METRICS:
        raise ValueError(f"unknown per-video metric {metric!r}; expected one of {VIDEO_METRICS}")
    return f"{VIDEO_PREFIX}{video}/{metric}"


def parse_video_metric_key(key: str) -> tuple[str, str] | None:
    """Split ``val/video/<video>/<metric>`` into (video, metric); None for any other key.

    The metric is the last path element, so video names may themselves contain ``/`` or ``.``.
    """
    if not key.startswith(VIDEO_PREFIX):
        return None
    video, sep, metric = key[len(VIDEO_PREFIX) :].rpartition("/")
    if not sep or not video or metric not in VIDEO_METRICS:
        return None
    return video, metric


def sample_key(video: str, kind: str) -> str:
    """Key of a logged sample crop, e.g. ``samples/carphone/gt``."""
    if kind not in SAMPLE_KINDS:
        raise ValueError(f"unknown sample kind {kind!r}; expected one of {SAMPLE_KINDS}")
    return f"{SAMPLES_PREFIX}{video}/{kind}"


def parse_sample_key(key: str) -> tuple[str, str] | None:
    """Split ``samples/<video>/<kind>`` into (video, kind); None for any other key."""
    if not key.startswith(SAMPLES_PREFIX):
        return None
    video, sep, kind = key[len(SAMPLES_PREFIX) :].rpartition("/")
    if not sep or not video or kind not in SAMPLE_KINDS:
        return None
    return video, kind
