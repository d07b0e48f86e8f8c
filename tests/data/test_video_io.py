"""Video reading and writing on real clips: containers, raw YUV, lossless round trip, bad files."""

from __future__ import annotations

import av
import numpy as np
import pytest

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.video_io import VideoReader, VideoWriter, parse_size, read_png, write_png


def test_container_reader_reports_size_fps_and_count(carphone_path):
    reader = VideoReader(carphone_path)
    assert (reader.info.width, reader.info.height, len(reader)) == (176, 144, 120)
    assert reader.info.fps == pytest.approx(29.97, abs=0.01)
    frames = reader.read(10, 13)
    assert frames.shape == (3, 144, 176, 3) and frames.dtype == np.uint8
    first = next(iter(reader))
    assert first.shape == (144, 176, 3) and first.std() > 10  # real content, not blank


def test_raw_yuv_reads_the_same_frames_as_the_container(tmp_path, carphone_path):
    reader = VideoReader(carphone_path)
    raw = tmp_path / "carphone_176x144.yuv"
    with open(raw, "wb") as handle:
        for i, frame in enumerate(reader.yuv_frames()):
            if i == 5:
                break
            handle.write(frame.to_ndarray().tobytes())  # yuv420p planes, (H*3/2, W)
    yuv = VideoReader(raw, size=(176, 144), fps=30)
    assert len(yuv) == 5
    np.testing.assert_array_equal(yuv.read(), reader.read(0, 5))


def test_lossless_writer_round_trips_rgb_exactly(tmp_path, carphone_path):
    frames = VideoReader(carphone_path).read(0, 6)
    out = tmp_path / "lossless.mkv"
    with VideoWriter(out, fps=25, lossless=True) as writer:
        for f in frames:
            writer.write(f)
    np.testing.assert_array_equal(VideoReader(out).read(), frames)


def test_png_round_trip(tmp_path, carphone_path):
    frame = VideoReader(carphone_path).read(0, 1)[0]
    write_png(frame, tmp_path / "000.png")
    np.testing.assert_array_equal(read_png(tmp_path / "000.png"), frame)


def test_truncated_container_names_the_file(tmp_path, carphone_path):
    bad = tmp_path / "truncated.mp4"
    bad.write_bytes(carphone_path.read_bytes()[:3000])
    with pytest.raises(DataError, match="truncated.mp4"):
        VideoReader(bad).read()


def test_truncated_mkv_stream_is_reported(tmp_path, carphone_path):
    # A Matroska file cut in the middle of its clusters still opens; frames are missing.
    good = tmp_path / "good.mkv"
    with av.open(str(good), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 176, 144, "yuv420p"
        for frame in VideoReader(carphone_path).yuv_frames():
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    data = good.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    reader = VideoReader(cut)
    assert len(reader) < 120  # the reader counts what is really there


def test_raw_yuv_errors_name_the_file(tmp_path):
    raw = tmp_path / "clip.yuv"
    raw.write_bytes(b"\0" * (176 * 144 * 3 // 2 * 2 + 7))
    with pytest.raises(DataError, match="clip.yuv: truncated"):
        VideoReader(raw, size=(176, 144))
    with pytest.raises(DataError, match="needs its frame size"):
        VideoReader(raw)
    with pytest.raises(DataError, match="even width and height"):
        VideoReader(raw, size=(175, 144))


def test_garbage_file_is_unreadable(tmp_path):
    bad = tmp_path / "noise.mkv"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match="noise.mkv: unreadable"):
        VideoReader(bad)


def test_parse_size():
    assert parse_size("416x240") == (416, 240)
    with pytest.raises(ValueError):
        parse_size("416")
