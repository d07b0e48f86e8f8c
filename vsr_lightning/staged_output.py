"""An output written under a unique hidden temporary beside its target and renamed onto it only when complete.

``enhance`` must never delete or overwrite what it did not create. So the target is checked before any
model time is spent (an existing file, or a non-empty folder, is refused unless ``overwrite``; an input is
never a target), the temporary name comes from ``tempfile`` in the target's folder (it cannot collide with
a user's file such as ``clip.partial.mkv``), a failed run removes only that temporary, and ``overwrite``
replaces the old target only once the new output is complete. A PNG folder is replaced only if it holds
nothing but frames, so a mistyped ``-o`` (a home folder, the input's own folder) loses nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from vsr_lightning.data.errors import DataError

FRAME_FILE = re.compile(r"^\d{3,}\.png$")
"""What a PNG output folder holds (``video_io.frame_name``): the only files ``overwrite`` may replace."""


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _foreign_entry(folder: Path) -> str | None:
    """The first entry of an old PNG output that is not a frame enhance writes (None: frames only)."""
    for entry in sorted(folder.iterdir()):
        if not (FRAME_FILE.match(entry.name) and entry.is_file() and not entry.is_symlink()):
            return entry.name
    return None


def check_target(output: Path, png: bool, overwrite: bool, inputs: Sequence[Path]) -> None:
    """Refuse a target the run would have to overwrite or delete user data for; one line naming it."""
    for source in inputs:
        if _same(output, source):
            raise DataError(output, f"output would overwrite the input {source}; choose another output")
    if not png:
        if output.is_dir():
            raise DataError(output, "is a folder; without --png the output is a video file")
        if output.suffix == "":
            raise DataError(output, "has no file extension to choose the video container from (e.g. .mkv)")
        if output.exists() and not overwrite:
            raise DataError(output, "already exists; pass --overwrite to replace it")
        return
    if output.exists() and not output.is_dir():
        raise DataError(output, "exists and is not a folder; --png writes a folder of frames")
    if output.is_dir() and any(output.iterdir()):
        if not overwrite:
            raise DataError(output, "folder is not empty; pass --overwrite to replace it")
        if held := next((source for source in inputs if _inside(source, output)), None):
            raise DataError(
                output, f"holds the input {held}; --overwrite would replace the folder, choose another output"
            )
        if (foreign := _foreign_entry(output)) is not None:
            raise DataError(
                output,
                f"holds {foreign!r}, which is not a frame enhance writes; --overwrite only "
                "replaces a folder of frames, empty it or choose another output",
            )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class StagedOutput:
    """A target file or folder, written at ``tmp`` and moved onto ``target`` by :meth:`commit`."""

    def __init__(self, target: Path, png: bool, overwrite: bool, inputs: Sequence[Path] = ()) -> None:
        check_target(target, png, overwrite, inputs)
        self.target, self.png, self.overwrite = target, png, overwrite
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            prefix = f".{target.name}."
            if png:
                self.tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=target.parent))
                os.chmod(self.tmp, 0o777 & ~_umask())
            else:
                fd, name = tempfile.mkstemp(prefix=prefix, suffix=".partial" + target.suffix, dir=target.parent)
                os.close(fd)
                self.tmp = Path(name)
                os.chmod(self.tmp, 0o666 & ~_umask())
        except OSError as exc:
            raise DataError(target.parent, f"cannot write the output here ({exc.strerror or exc})") from None
        self.done = False

    def commit(self) -> None:
        """Move the complete output onto the target (replacing the old one only with ``overwrite``)."""
        try:
            if self.png:
                self._commit_folder()
            else:
                self._commit_file()
        except FileExistsError:
            self.done = True  # keep the finished result: the target is someone else's now
            raise DataError(self.target, f"appeared while enhancing; the result is kept in {self.tmp}") from None
        self.done = True

    def _commit_file(self) -> None:
        if self.overwrite:
            os.replace(self.tmp, self.target)
            return
        try:
            os.link(self.tmp, self.target)  # fails if the target exists: never a silent overwrite
        except OSError as exc:
            if isinstance(exc, FileExistsError) or self.target.exists():
                raise FileExistsError(self.target) from None
            os.rename(self.tmp, self.target)  # a file system without hard links
            return
        os.unlink(self.tmp)

    def _commit_folder(self) -> None:
        if self.target.is_dir() and any(self.target.iterdir()):
            if not self.overwrite or _foreign_entry(self.target) is not None:
                raise FileExistsError(self.target)
            old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".old", dir=self.target.parent))
            os.rename(self.target, old / self.target.name)
            try:
                os.rename(self.tmp, self.target)
            except OSError:
                os.rename(old / self.target.name, self.target)  # put the old output back
                old.rmdir()
                raise
            shutil.rmtree(old)  # the old target itself: frames only, checked just above
            return
        if self.target.exists() and not self.target.is_dir():
            raise FileExistsError(self.target)
        os.rename(self.tmp, self.target)  # onto an empty folder, or a new name

    def abort(self) -> None:
        """Remove the temporary (only what this run created), unless it was committed or kept."""
        if self.done:
            return
        self.done = True
        if self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            self.tmp.unlink(missing_ok=True)
