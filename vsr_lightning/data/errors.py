"""One exception type for bad data, so every failure names the file and the problem."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Raised for unreadable, truncated, mismatched or malformed inputs.

    The message always reads ``<path>: <problem>`` so a user sees at once which file to fix.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self) -> tuple[type[DataError], tuple[Path, str]]:
        return type(self), (self.path, self.problem)  # pickled back from a worker process as it was raised


def os_error_line(err: OSError) -> str:
    """``<path>: <reason>`` for a failed read or write (disk full, read-only folder, ...), as DataError reads."""
    where = err.filename if err.filename is not None else "output"
    return f"{where}: {err.strerror or err}"
