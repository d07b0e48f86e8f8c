"""Cleaning decisions under two definitions of the clip statistics, on prepared datasets (PNG layout).

Recomputes every video's statistics from its stored frames with this checkout's ``ClipStatsAccumulator``
and with an older ``clip_stats.py`` (``--old``, e.g. ``git show <commit>:vsr_lightning/data/clip_stats.py``),
checks the older one against what the manifest holds, runs every cleaning rule of
``conf/data/cleaning/default.yaml`` on both per split, and prints which clips each drops, the largest change
of each statistic (per frame and per clip as the rules aggregate it) and each rule's closest clip to its
threshold. The duplicates are recomputed too and compared with the manifest (a
dataset built before the current duplicate rule holds other duplicates: reported, not counted as a change).

    python benchmarks/compare_clip_stats.py --old old_clip_stats.py DATASET [DATASET ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np

from vsr_lightning.data.cleaning import FlatClipRule, PsnrOutlierRule, SceneCutRule, StaticClipRule, apply_cleaning
from vsr_lightning.data.clip_stats import ClipStatsAccumulator
from vsr_lightning.data.duplicates import DuplicateDetector
from vsr_lightning.data.manifest import Manifest
from vsr_lightning.data.video_io import frame_name, read_png

RULES = [SceneCutRule(), StaticClipRule(), FlatClipRule(), PsnrOutlierRule()]
KEYS = ("scene_change", "motion", "texture", "psnr_lq")


def load_old(path: Path):
    spec = importlib.util.spec_from_file_location("old_clip_stats", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ClipStatsAccumulator


def clip_aggregates(stats) -> dict[str, float]:
    motion = stats.motion[1:]
    return {
        "max scene_change": max(stats.scene_change),
        "mean motion": sum(motion) / len(motion) if motion else 0.0,
        "mean texture": sum(stats.texture) / len(stats.texture),
        "mean psnr_lq": sum(stats.psnr_lq) / len(stats.psnr_lq),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--old", type=Path, required=True, help="an older clip_stats.py")
    args = parser.parse_args()
    old_cls = load_old(args.old)
    thresholds = {
        "max scene_change": SceneCutRule().max_histogram_change,
        "mean motion": StaticClipRule().min_mean_motion,
        "mean texture": FlatClipRule().min_mean_texture,
    }
    all_same = True
    for root in args.datasets:
        manifest = Manifest.load(root)
        print(f"\n## {root.name} ({len(manifest.videos)} videos, build {manifest.build})")
        old_entries, new_entries = [], []
        frame_change = dict.fromkeys(KEYS, 0.0)
        clip_change = dict.fromkeys(thresholds, 0.0)
        closest: dict[str, tuple[float, str, float, float]] = {}
        stored_equal = stored_new = dups_stored = True
        for video in manifest.videos:
            old, new = old_cls(), ClipStatsAccumulator()
            dups = DuplicateDetector(manifest.build["duplicate_threshold"])
            base = root / video.split
            for t in range(video.num_frames):
                gt = read_png(base / "gt" / video.name / frame_name(t))
                lq = read_png(base / manifest.lq_dir_name / video.name / frame_name(t))
                old.update(gt, lq)
                new.update(gt, lq)
                dups.update(lq, gt)
            o, n = old.result(), new.result()
            stored = dataclasses.asdict(video.stats) if video.stats is not None else None
            stored_equal &= dataclasses.asdict(o) == stored
            stored_new &= dataclasses.asdict(n) == stored
            dups_stored &= dups.duplicates == video.duplicates
            for key in KEYS:
                frame_change[key] = max(
                    frame_change[key], float(np.max(np.abs(np.subtract(getattr(o, key), getattr(n, key)))))
                )
            ao, an = clip_aggregates(o), clip_aggregates(n)
            for key, limit in thresholds.items():
                clip_change[key] = max(clip_change[key], abs(ao[key] - an[key]))
                margin = min(abs(ao[key] - limit), abs(an[key] - limit))
                if key not in closest or margin < closest[key][0]:
                    closest[key] = (margin, video.name, ao[key], an[key])
            old_entries.append(dataclasses.replace(video, stats=o))
            new_entries.append(dataclasses.replace(video, stats=n))
        print(
            f"stored statistics equal the old definition's: {stored_equal}, the new one's: {stored_new}; "
            f"duplicates (this code) equal to the stored ones: {dups_stored}"
        )
        stored_equal |= stored_new
        print("largest change per frame: " + ", ".join(f"{k} {v:.4g}" for k, v in frame_change.items()))
        print(
            "largest change per clip (as the rules aggregate): "
            + ", ".join(f"{k} {v:.4g}" for k, v in clip_change.items())
        )
        for key, (_margin, name, a, b) in closest.items():
            print(f"closest to the {key} threshold {thresholds[key]}: {name} old {a:.4f} new {b:.4f}")
        for split in sorted({v.split for v in manifest.videos}):
            olds = [v for v in old_entries if v.split == split]
            news = [v for v in new_entries if v.split == split]
            per_rule_same = True
            for rule in RULES:
                d_old = sorted(v.name for v in olds if rule.check(v, olds) is not None)
                d_new = sorted(v.name for v in news if rule.check(v, news) is not None)
                per_rule_same &= d_old == d_new
                print(
                    f"split {split}, rule {rule.name}: old drops {len(d_old)} {d_old}, new drops {len(d_new)} {d_new}"
                )
            kept_o, drop_o = apply_cleaning(olds, RULES)
            kept_n, drop_n = apply_cleaning(news, RULES)
            same = per_rule_same and [(d.video, d.rule) for d in drop_o] == [(d.video, d.rule) for d in drop_n]
            all_same &= same and stored_equal
            print(
                f"split {split}: all rules: old keeps {len(kept_o)} drops {len(drop_o)}, "
                f"new keeps {len(kept_n)} drops {len(drop_n)}; same decisions: {same}"
            )
    print(f"\nALL SAME: {all_same}")
    sys.exit(0 if all_same else 1)


if __name__ == "__main__":
    main()
