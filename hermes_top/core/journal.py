"""The append-only journal: one JSON line for every signal hermes-top sends.

It is opened *before* the first signal: if it cannot be opened, nothing is
signalled (``open`` raises). Its directory must be ours (see
``safe_files.open_private_dir``) and the file a regular one, opened without
following links.

A write never raises: a full disk must not stop a reap half-way. Each line goes
out under an flock on the journal (other hermes-top writers wait for it) on an
O_APPEND descriptor, and a line that did not go out whole is taken back — the
file is truncated to its size before the write — so earlier lines stay intact
and no fragment is left. If the fragment cannot be taken back (the truncate
fails, or the size shows that a writer that does not lock appended meanwhile),
the next line we write starts with a newline, so it still starts on a line of
its own; ``read_journal`` skips such fragments and says how many it skipped.

A line counts as written when the kernel has accepted all of it; the file is
fsynced once, on ``close`` (once per record would make a bulk reap take seconds).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from hermes_top.core.errors import HermesTopError
from hermes_top.core.redact import redact_argv
from hermes_top.core.safe_files import (
    PartialWrite,
    UnsafePath,
    open_for_reading,
    open_private_dir,
    why,
    write_all,
)

JOURNAL_NAME = "signals.jsonl"
#: How long a write waits for another writer's lock before writing without it.
LOCK_WAIT_S = 1.0


def state_dir() -> Path:
    """$HERMES_TOP_STATE_DIR, else $XDG_STATE_HOME/hermes-top, else ~/.local/state/hermes-top."""
    override = os.environ.get("HERMES_TOP_STATE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_STATE_HOME")
    # The XDG spec says a relative value is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "hermes-top"


class Journal:
    """One writer on the journal file.

    ``open()`` raises HermesTopError (what to fix; "nothing was signalled").
    ``write(record)`` returns True when the whole line is in the file, False
    otherwise (never raises); ``failed_writes`` counts the False ones and
    ``last_error`` says why the latest one failed.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / JOURNAL_NAME
        self.failed_writes = 0
        self.last_error: str | None = None
        self._fd: int | None = None
        #: The file does not end in a newline (a fragment we could not take back).
        self._unterminated = False
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
            with open_private_dir(self.path.parent) as directory:
                fd = directory.open_append(self.path.name)
        except (OSError, UnsafePath) as err:
            raise HermesTopError(
                f"cannot open the signal journal {self.path}: {why(err, self.path)}; "
                "fix that or set HERMES_TOP_STATE_DIR to a directory of your own "
                "(nothing was signalled)"
            ) from err
        self._fd = fd
        self._unterminated = not _ends_with_newline(fd)

    def write(self, record: dict[str, Any]) -> bool:
        try:
            if "argv" in record:
                record["argv"] = list(redact_argv(record["argv"]))
            line = json.dumps({"time": time.time(), **record}, sort_keys=True, default=str)
        except (TypeError, ValueError) as err:  # not I/O, but no reason to stop a reap
            return self._failed(f"record cannot be written as JSON: {err}")
        with self._lock:
            if self._fd is None:
                try:
                    self._open_locked()
                except HermesTopError as err:
                    return self._failed(str(err))
            assert self._fd is not None
            return self._append(self._fd, (line + "\n").encode())

    def _append(self, fd: int, data: bytes) -> bool:
        if self._unterminated:
            data = b"\n" + data
        locked = _lock(fd)
        try:
            try:
                before = os.fstat(fd).st_size
            except OSError as err:
                return self._failed(err.strerror or str(err))
            try:
                write_all(fd, data)
            except PartialWrite as err:
                self._take_back(fd, before, err.written)
                return self._failed(err.strerror or str(err))
            self._unterminated = False
            return True
        finally:
            if locked:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _take_back(self, fd: int, before: int, written: int) -> None:
        """Remove the ``written`` bytes of a failed line, or failing that make sure
        the next line starts on its own."""
        if written == 0:
            return
        try:
            if os.fstat(fd).st_size == before + written:
                os.ftruncate(fd, before)
                return  # as before the write (still unterminated if it was)
        except OSError:
            pass
        self._unterminated = True
        try:
            if os.write(fd, b"\n") == 1:
                self._unterminated = False
        except OSError:
            pass

    def _failed(self, error: str) -> bool:
        self.failed_writes += 1
        self.last_error = error
        return False

    def close(self) -> None:
        """Close, after an fsync; a failed fsync counts as a failed write."""
        with self._lock:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            except OSError as err:
                if err.errno not in (errno.EINVAL, errno.ENOTSUP):
                    self._failed(f"fsync: {err.strerror or err}")
            finally:
                os.close(fd)


def _lock(fd: int) -> bool:
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False  # a stuck writer: the size check still guards the take-back
            time.sleep(0.005)
        except OSError:
            return False  # a filesystem without flock


def _ends_with_newline(fd: int) -> bool:
    try:
        size = os.fstat(fd).st_size
        return size == 0 or os.pread(fd, 1, size - 1) == b"\n"
    except OSError:
        return True


class JournalRecords(list[dict[str, Any]]):
    """The records of a journal, in order; ``skipped`` lines did not parse (a
    fragment a full disk left, or anything that is not a JSON object)."""

    skipped: int = 0


def read_journal(path: Path) -> JournalRecords:
    """Every record of the journal at ``path``; unparsable lines are skipped and
    counted, never fatal. OSError/HermesTopError if it cannot be opened."""
    records = JournalRecords()
    with os.fdopen(open_for_reading(path), "rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
                value = None
            if isinstance(value, dict):
                records.append(value)
            else:
                records.skipped += 1
    return records
