"""HEVC compression in the style of the benchmark: libx265, fixed QP, low-delay P, PQF cascade.

NTIRE 2021/2022 compressed LDV with the HM reference encoder (low-delay P, QP 37): no B-frames, one
I frame, and a GOP of 4 whose per-frame QP offsets make every fourth frame the peak-quality frame
(PQF). x265 through PyAV rejects ``qpfile``, so the same per-frame QP cascade is carried by x265
``zones`` in constant-QP mode (zone ``k+1,k+1`` sets frame ``k``). This approximates HM: the
entropy coder, motion search and rate-distortion choices of x265 differ from HM's, so absolute PSNR
differs slightly from the official LDV data, while the PQF rhythm is the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType

from vsr_lightning.data.errors import DataError

HM_LDP_QP_OFFSETS: tuple[int, ...] = (3, 2, 3, 1)
"""QP offsets of GOP positions 1..4 in HM's low-delay-P configuration; position 4 is the PQF."""


@dataclass(frozen=True)
class HevcConfig:
    """How to compress: base QP, the GOP's QP offsets and x265's speed preset."""

    qp: int = 37
    gop_qp_offsets: tuple[int, ...] = HM_LDP_QP_OFFSETS
    preset: str = "medium"

    def __post_init__(self) -> None:
        if not 0 <= self.qp <= 51:
            raise ValueError(f"QP must be in 0..51, got {self.qp}")
        if not self.gop_qp_offsets:
            raise ValueError("gop_qp_offsets must not be empty")


@dataclass
class QpSidecar:
    """Per-frame QP and type of one compressed video, stored next to it as JSON."""

    qp: list[int]
    frame_type: list[str]
    pqf: list[bool]
    config: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> QpSidecar:
        try:
            data = json.loads(path.read_text())
            return cls(qp=data["qp"], frame_type=data["frame_type"], pqf=data["pqf"], config=data["config"])
        except (OSError, ValueError, KeyError) as err:
            raise DataError(path, f"unreadable QP sidecar ({err})") from err


def ldp_qp_schedule(num_frames: int, config: HevcConfig) -> list[int]:
    """Requested QP of each frame: the I frame at the base QP, then the GOP's cascade."""
    gop = config.gop_qp_offsets
    return [config.qp] + [config.qp + gop[(k - 1) % len(gop)] for k in range(1, num_frames)]


def pqf_flags(qps: Sequence[int], period: int | None = None) -> list[bool]:
    """Peak-quality frames: frame 0 and every P frame coded at the lowest P-frame QP.

    With the HM cascade (+3/+2/+3/+1) that is every fourth frame, the rhythm "1000 1000 ...".
    With ``period`` given, or when all P frames share one QP (no cascade to read), PQFs are every
    ``period``-th frame (default 4, HM's GOP size).
    """
    n = len(qps)
    p_qps = list(qps[1:])
    if period is None and p_qps and min(p_qps) != max(p_qps):
        lowest = min(p_qps)
        return [k == 0 or qps[k] == lowest for k in range(n)]
    period = period or 4
    return [k % period == 0 for k in range(n)]


def x265_params(qps: Sequence[int], config: HevcConfig) -> str:
    """x265 parameter string: constant QP, no B-frames, one I frame, one zone per offset frame."""
    zones = "/".join(f"{k + 1},{k + 1},q={q}" for k, q in enumerate(qps) if k > 0 and q != config.qp)
    params = f"qp={config.qp}:ipratio=1:pbratio=1:bframes=0:keyint=-1:min-keyint=1:scenecut=0:log-level=error"
    return params + (f":zones={zones}" if zones else "")


class HevcEncoder:
    """Streaming libx265 encoder: ``write`` yuv420p frames one by one, ``close`` returns the sidecar.

    The number of frames must be known up front because the QP cascade is passed as x265 zones.
    Frame types are read back by decoding, so the sidecar records what the stream really holds.
    """

    def __init__(
        self,
        out_path: Path,
        num_frames: int,
        width: int,
        height: int,
        fps: float,
        config: HevcConfig = HevcConfig(),
    ) -> None:
        if width % 2 or height % 2:
            raise DataError(out_path, f"odd frame size {width}x{height}: HEVC 4:2:0 needs even sizes")
        self.out_path, self.num_frames, self.config = out_path, num_frames, config
        self.qps = ldp_qp_schedule(num_frames, config)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(out_path), mode="w")
        self._stream = self._container.add_stream("libx265", rate=Fraction(fps).limit_denominator(1001))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
        self._stream.options = {"preset": config.preset, "x265-params": x265_params(self.qps, config)}
        self._stream.codec_context.time_base = Fraction(1) / self._stream.average_rate
        self.written = 0

    def write(self, frame: av.VideoFrame) -> None:
        # Decoders mark the source's own key frames as I; FFmpeg's libx265 wrapper would obey that
        # and insert I frames at the source's scene cuts. The low-delay-P structure has one I frame.
        frame.pict_type = PictureType.NONE
        frame.pts = self.written
        frame.time_base = self._stream.codec_context.time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.written += 1

    def close(self) -> QpSidecar:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        if self.written != self.num_frames:
            self.out_path.unlink(missing_ok=True)
            raise DataError(self.out_path, f"expected {self.num_frames} frames to compress, got {self.written}")
        with av.open(str(self.out_path)) as container:
            types = [PictureType(f.pict_type).name for f in container.decode(video=0)]
        if len(types) != self.num_frames:
            raise DataError(self.out_path, f"encoder wrote {len(types)} frames instead of {self.num_frames}")
        sidecar = QpSidecar(
            qp=self.qps,
            frame_type=types,
            pqf=pqf_flags(self.qps),
            config={
                "encoder": "libx265",
                "qp": self.config.qp,
                "gop_qp_offsets": list(self.config.gop_qp_offsets),
                "preset": self.config.preset,
            },
        )
        sidecar.save(sidecar_path(self.out_path))
        return sidecar


def compress_hevc(
    frames: Iterable[av.VideoFrame],
    num_frames: int,
    width: int,
    height: int,
    fps: float,
    out_path: Path,
    config: HevcConfig = HevcConfig(),
) -> QpSidecar:
    """Encode ``yuv420p`` frames to ``out_path`` (mkv/mp4) and write ``<out_path>.qp.json``."""
    encoder = HevcEncoder(out_path, num_frames, width, height, fps, config)
    for frame in frames:
        encoder.write(frame)
    return encoder.close()


def sidecar_path(video_path: Path) -> Path:
    """Where the QP sidecar of a compressed video lives."""
    return video_path.with_name(video_path.name + ".qp.json")
