"""Per-frame cost of the cleaning statistics (``ClipStatsAccumulator``) on real 1080p frames, one thread.

Decodes the first ``--frames`` frames of a pair (original and compressed; any file ``prepare --pairs``
reads), then times ``update_original`` (luma, histogram, motion, texture) and ``update_psnr`` (RGB
squared error) over them, ``--repeat`` interleaved rounds, for this checkout's code and, with
``--old``, another ``clip_stats.py`` (e.g. ``git show <commit>:vsr_lightning/data/clip_stats.py``). Both
must store the same statistics; the script checks it. The frames are views into the decoder's padded
rows, as the import hands them over.

    python benchmarks/bench_clip_stats.py GT LQ [--old old_clip_stats.py] [--frames 24] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

import numpy as np

from vsr_lightning.data.clip_stats import ClipStatsAccumulator
from vsr_lightning.data.frame_sources import open_source
from vsr_lightning.data.pair_import import _frames


def decoded(path: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` RGB frames (each keeps its decoded frame alive through the view)."""
    frames = []
    for _, rgb in _frames(open_source(path)):
        frames.append(rgb)
        if len(frames) == count:
            break
    return frames


def load_accumulator(path: Path):
    spec = importlib.util.spec_from_file_location("old_clip_stats", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ClipStatsAccumulator


def timed(accumulator_class, gts: list[np.ndarray], lqs: list[np.ndarray]) -> tuple[float, float, object]:
    """(ms per frame of ``update_original``, of ``update_psnr``, the stats)."""
    acc = accumulator_class()
    start = time.perf_counter()
    for g in gts:
        acc.update_original(g)
    middle = time.perf_counter()
    for g, q in zip(gts, lqs, strict=True):
        acc.update_psnr(g, q)
    end = time.perf_counter()
    return 1e3 * (middle - start) / len(gts), 1e3 * (end - middle) / len(gts), acc.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gt", type=Path)
    parser.add_argument("lq", type=Path)
    parser.add_argument("--old", type=Path, default=None, help="another clip_stats.py, timed beside this one")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gts, lqs = decoded(args.gt, args.frames), decoded(args.lq, args.frames)
    h, w = gts[0].shape[:2]
    codes = {"this checkout": ClipStatsAccumulator}
    if args.old is not None:
        codes[f"{args.old}"] = load_accumulator(args.old)
    timed(ClipStatsAccumulator, gts[:2], lqs[:2])  # compiles the kernels (or loads them from numba's cache)
    print(f"{len(gts)} frames of {w}x{h}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load {os.getloadavg()}")
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
    results = {}
    for _ in range(args.repeat):
        for name, accumulator_class in codes.items():
            original, psnr, results[name] = timed(accumulator_class, gts, lqs)
            rows[name].append((original, psnr))
    if len(set(map(str, results.values()))) != 1:
        raise SystemExit("the two codes stored different statistics")
    print("| code | update_original, ms/frame (each round) | update_psnr, ms/frame (each round) |")
    print("|:---|---:|---:|")
    for name, runs in rows.items():
        each = [", ".join(f"{r[i]:.2f}" for r in runs) for i in range(2)]
        med = [float(np.median([r[i] for r in runs])) for i in range(2)]
        print(f"| {name} | {med[0]:.2f} ({each[0]}) | {med[1]:.2f} ({each[1]}) |")


if __name__ == "__main__":
    main()
