"""SIGTERM as an ordinary exit, so commands that stage their output remove what they half-wrote."""

from __future__ import annotations

import signal
import sys
import threading


def exit_on_sigterm() -> None:
    """Turn SIGTERM (a scheduler's cancel, ``kill``) into SystemExit(128 + 15) in the main thread.

    Python's default lets SIGTERM end the process at once, skipping the ``except``/``finally`` blocks
    that remove partial folders and temporary outputs.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
