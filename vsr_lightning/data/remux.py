"""Copy a compressed video stream without re-encoding: into Matroska (the imported LQ bitstream), or out
to a bare HEVC bitstream (HM's ``.bin``).

Bare HEVC bitstreams (HM writes ``.bin``) carry no timestamps; low-delay-P has no frame reordering,
so decode order is display order and packet ``i`` gets time ``i / fps``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from vsr_lightning.data.errors import DataError
from vsr_lightning.data.video_io import RAW_BITSTREAM_FORMATS


def _copy_stream(src: Path, dst: Path, out_format: str, fps: float) -> int:
    fmt = RAW_BITSTREAM_FORMATS.get(src.suffix.lower())
    time_base = 1 / Fraction(fps).limit_denominator(1001)
    copied = 0
    try:
        with av.open(str(src), format=fmt) as source, av.open(str(dst), "w", format=out_format) as target:
            stream_in = source.streams.video[0]
            stream_out = target.add_stream_from_template(stream_in)
            for packet in source.demux(stream_in):
                if not packet.size:
                    continue
                if fmt is not None or packet.pts is None:
                    packet.pts = packet.dts = copied
                    packet.time_base = time_base
                packet.stream = stream_out
                target.mux(packet)
                copied += 1
    except av.FFmpegError as err:
        raise DataError(src, f"cannot copy the bitstream into {dst.name} ({err})") from err
    return copied


def remux_to_mkv(src: Path, dst: Path, fps: float) -> int:
    """Write ``src``'s first video stream to ``dst`` (mkv) packet by packet; returns the packets copied."""
    return _copy_stream(src, dst, "matroska", fps)


def export_hevc_bitstream(src: Path, dst: Path) -> int:
    """``src``'s HEVC stream as a bare Annex-B bitstream (the ``.bin`` HM reads and writes), unchanged."""
    return _copy_stream(src, dst, "hevc", 25.0)
