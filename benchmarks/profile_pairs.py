"""CPU seconds of each thread of one ``prepare --pairs`` run (where the import's time goes).

Samples ``/proc/self/task/*/stat`` every 20 ms while the import runs in this process and sums user and
system time by thread name: ``read-gt`` / ``read-lq`` (decoding and the RGB conversion), ``stats`` (the
original's luma statistics), ``psnr`` (the RGB PSNR and the duplicate check), ``png`` (the source's
SHA-256, and PNG writes in that layout), ``MainThread`` (start-up imports, the frame writer), and
threads Python did not start (FFmpeg's decoding threads).

    python benchmarks/profile_pairs.py GT LQ [--layout video] [--skip stats psnr hash write]

``--skip`` leaves parts out (the dataset is then incomplete: for measuring only): ``stats`` the original's
statistics, ``psnr`` the PSNR and the duplicate check, ``hash`` the source's SHA-256, ``write`` the frames
written in the ``video`` layout (streams copied still are).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path


def skip(parts: list[str]) -> None:
    from vsr_lightning.data import dataset_builder, duplicates, pair_import
    from vsr_lightning.data.clip_stats import ClipStatsAccumulator

    if "stats" in parts:
        ClipStatsAccumulator.update_original = lambda self, gt: None  # type: ignore[method-assign]
    if "psnr" in parts:
        ClipStatsAccumulator.update_psnr = lambda self, gt, lq: None  # type: ignore[method-assign]
        duplicates.DuplicateDetector.update = lambda self, frame, original=None: False  # type: ignore[method-assign]
    if "hash" in parts:
        pair_import._source_hash = lambda source: "skipped"  # type: ignore[assignment]
    if "write" in parts:
        dataset_builder.GtVideoWriter.write = lambda self, frame: None  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gt", type=Path)
    parser.add_argument("lq", type=Path)
    parser.add_argument("--layout", default="video")
    parser.add_argument("--skip", nargs="*", default=[], choices=["stats", "psnr", "hash", "write"])
    args = parser.parse_args()
    skip(args.skip)
    tick = os.sysconf("SC_CLK_TCK")
    cpu: dict[int, tuple[float, float]] = {}
    names: dict[int, str] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for thread in threading.enumerate():
                if thread.native_id:
                    names[thread.native_id] = thread.name
            for tid in os.listdir("/proc/self/task"):
                try:
                    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                cpu[int(tid)] = (int(fields[11]) / tick, int(fields[12]) / tick)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, name="sampler", daemon=True)
    sampler.start()
    out = Path(tempfile.mkdtemp(prefix="profile_pairs-")) / "dataset"
    start = time.perf_counter()
    try:
        from vsr_lightning.prepare import main as prepare

        prepare(["--pairs", str(args.gt), str(args.lq), str(out), "--layout", args.layout, "--quiet"])
        wall = time.perf_counter() - start
    finally:
        done.set()
        sampler.join()
        shutil.rmtree(out.parent, ignore_errors=True)
    totals: dict[str, list[float]] = {}
    for tid, (user, system) in cpu.items():
        name = names.get(tid, "MainThread" if tid == os.getpid() else "FFmpeg (threads not started by Python)")
        name = name.split("_")[0]  # pool threads: png_0, stats_0, ...
        total = totals.setdefault(name, [0.0, 0.0])
        total[0] += user
        total[1] += system
    print(f"wall {wall:.2f} s, load {os.getloadavg()[0]:.1f}")
    print("| thread | CPU s | user | sys |\n|:---|---:|---:|---:|")
    for name, (user, system) in sorted(totals.items(), key=lambda item: -sum(item[1])):
        print(f"| {name} | {user + system:.2f} | {user:.2f} | {system:.2f} |")
    print(f"| all | {sum(map(sum, totals.values())):.2f} | | |")


if __name__ == "__main__":
    main()
