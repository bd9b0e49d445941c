"""The append-only journal: one JSON line for every signal hermes-top sends.

It is opened *before* the first signal: if it cannot be written, nothing is
signalled. Each record is one ``write()`` on an O_APPEND descriptor, so
concurrent hermes-top instances never interleave partial lines.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from hermes_top.core.errors import HermesTopError
from hermes_top.core.redact import redact_argv

JOURNAL_NAME = "signals.jsonl"


def state_dir() -> Path:
    """$HERMES_TOP_STATE_DIR, else $XDG_STATE_HOME/hermes-top, else ~/.local/state/hermes-top."""
    override = os.environ.get("HERMES_TOP_STATE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "hermes-top"


class Journal:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / JOURNAL_NAME
        self._fd: int | None = None
        self._lock = threading.Lock()

    def for_action(self) -> Journal:
        """A separate writer on the same file for one action: two actions running
        at once (the TUI allows it) never share, or close, each other's fd."""
        return Journal(self.path)

    def open(self) -> None:
        with self._lock:
            self._open_locked()

    def _open_locked(self) -> None:
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as err:
            raise HermesTopError(
                f"cannot open the signal journal {self.path}: {err.strerror}; "
                "set HERMES_TOP_STATE_DIR to a writable directory (nothing was signalled)"
            ) from err

    def write(self, record: dict[str, Any]) -> None:
        if "argv" in record:
            record["argv"] = list(redact_argv(record["argv"]))
        line = json.dumps({"time": time.time(), **record}, sort_keys=True) + "\n"
        with self._lock:
            self._open_locked()
            assert self._fd is not None
            os.write(self._fd, line.encode())

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def read_journal(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]
