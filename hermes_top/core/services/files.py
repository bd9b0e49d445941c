"""Safe file edits: a timestamped backup first, then an atomic replace.

A reader (launchd, systemd, the user's editor) sees either the old file or the
new one, never half of it, and the old bytes stay on disk beside it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import tempfile

from hermes_top.core.errors import HermesTopError


def backup_path(path: pathlib.Path, now: dt.datetime | None = None) -> pathlib.Path:
    """``<name>.hermes-top-<YYYYmmdd-HHMMSS>.bak`` beside ``path``, never an existing file.

    The name does not end in ``.plist`` or ``.conf`` so neither launchd nor systemd
    picks the backup up as a second copy of the job.
    """
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.hermes-top-{stamp}.bak")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.hermes-top-{stamp}-{n}.bak")
    return candidate


def write_backup(path: pathlib.Path, data: bytes, now: dt.datetime | None = None) -> pathlib.Path:
    """Save ``data`` (the bytes just read from ``path``) as its backup; returns the backup path."""
    target = backup_path(path, now)
    try:
        # "x": never clobber a backup, even one made in the same second by another run.
        with target.open("xb") as fh:
            fh.write(data)
        with contextlib.suppress(OSError):
            os.chmod(target, os.stat(path).st_mode & 0o7777)
    except OSError as err:
        raise HermesTopError(f"cannot write backup {target}: {err.strerror or err}") from err
    return target


def atomic_write(path: pathlib.Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` via a temp file in the same directory + os.replace."""
    directory = path.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise HermesTopError(f"cannot write {path}: {err.strerror or err}") from err
    tmp = pathlib.Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise HermesTopError(f"cannot write {path}: {err.strerror or err}") from err
    # Make the rename itself durable; not all filesystems allow fsync on a directory.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
