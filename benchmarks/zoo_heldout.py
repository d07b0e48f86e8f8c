"""The zoo models on footage nothing in the zoo or the embedded default has seen, against FFmpeg ``nlmeans``.

    python benchmarks/zoo_heldout.py [--stage1 zoo:stage1-embedded] [--stage2 zoo] [--frames 50]

Held-out set: the zoo footage of role ``heldout`` (``vsr_lightning/zoo/footage.py``: OpenCV's
``vtest`` street scene at 384x288 and mvtb's ``megamind`` at 360x270), first ``--frames`` frames of each,
compressed with HEVC LDP at QP 37 exactly as the training data. Each clip goes through
``vsr_lightning.enhance`` (the command's own code path, lossless RGB output) and, for comparison,
through FFmpeg's ``nlmeans`` denoiser at its default strength. Scores: RGB PSNR on 8-bit frames, crop
0, mean over frames, by this project's PSNR code. Prints a Markdown table; ``--out`` also writes it.
This script downloads the pinned footage on first use (a zoo recipe's data), never the main job.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import av.filter
import numpy as np

from vsr_lightning.data.hevc import HevcConfig, compress_hevc
from vsr_lightning.data.video_io import VideoReader, VideoWriter, psnr_uint8
from vsr_lightning.enhance import DEFAULT_STAGE1, enhance_file, zoo_defaults
from vsr_lightning.zoo.footage import clips, footage_path


def nlmeans(frames: np.ndarray, options: str = "") -> np.ndarray:
    """FFmpeg's non-local means denoiser over RGB frames (default strength unless ``options``)."""
    height, width = frames.shape[1:3]
    graph = av.filter.Graph()
    src = graph.add_buffer(width=width, height=height, format="rgb24", time_base=1)
    denoise = graph.add("nlmeans", options) if options else graph.add("nlmeans")
    sink = graph.add("buffersink")
    src.link_to(denoise)
    denoise.link_to(sink)
    graph.configure()
    out = []
    for i, frame in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = i
        graph.push(vf)
        out.append(graph.pull().to_ndarray(format="rgb24"))
    return np.stack(out)


def mean_psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([psnr_uint8(x, y) for x, y in zip(a, b, strict=True)]))


def write_lossless(frames: np.ndarray, path: Path, fps: float = 25.0) -> Path:
    with VideoWriter(path, fps, lossless=True) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def compress(gt: np.ndarray, path: Path, fps: float = 25.0) -> np.ndarray:
    """HEVC LDP QP 37 as the training data (with its QP sidecar beside it); returns the decoded frames."""
    frames = (
        av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24").reformat(format="yuv420p") for f in gt
    )
    compress_hevc(frames, len(gt), gt.shape[2], gt.shape[1], fps, path, HevcConfig(qp=37))
    return VideoReader(path).read(0, len(gt))


def score_clip(
    name: str, gt: np.ndarray, stage1: str | Path, stage2: str | Path | None, work: Path, device: str = "cpu"
) -> dict:
    lq_file, gt_file = work / f"{name}_lq.mkv", write_lossless(gt, work / f"{name}_gt.mkv")
    lq = compress(gt, lq_file)
    row = {"clip": name, "frames": len(gt), "input": mean_psnr(lq, gt), "nlmeans": mean_psnr(nlmeans(lq), gt)}
    result = enhance_file(lq_file, work / f"{name}_s1.mkv", stage1, None, reference=gt_file, device=device)
    row["stage1"] = result.psnr_out
    if stage2 is not None:
        row["stage1+2"] = enhance_file(
            lq_file, work / f"{name}_s12.mkv", stage1, stage2, reference=gt_file, device=device
        ).psnr_out
    return row


def table(rows: list[dict]) -> str:
    methods = [m for m in ("nlmeans", "stage1", "stage1+2") if m in rows[0]]
    lines = [
        "| clip | frames | input PSNR | " + " | ".join(f"{m} gain" for m in methods) + " |",
        "|---|---|---|" + "---|" * len(methods),
    ]
    for r in rows:
        lines.append(
            f"| {r['clip']} | {r['frames']} | {r['input']:.3f} | "
            + " | ".join(f"{r[m] - r['input']:+.3f}" for m in methods)
            + " |"
        )
    mean = {m: float(np.mean([r[m] - r["input"] for r in rows])) for m in methods}
    lines.append("| mean | | | " + " | ".join(f"{mean[m]:+.3f}" for m in methods) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage1", default=DEFAULT_STAGE1)
    parser.add_argument("--stage2", default=None, help="a stage-two checkpoint, or 'zoo'")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--device", default="cpu", help="where the networks run (cpu, cuda)")
    args = parser.parse_args(argv)
    stage1, stage2 = zoo_defaults(
        Path(args.stage1) if args.stage1 else None, Path(args.stage2) if args.stage2 else None
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips("heldout"):
            gt = VideoReader(footage_path(clip), resize=clip.resize).read(0, args.frames)
            rows.append(score_clip(clip.name, gt, stage1, stage2, Path(tmp), args.device))
    text = table(rows)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
