"""Safe file edits: a timestamped backup first, then an atomic replace.

A reader (launchd, systemd, the user's editor) sees either the old file or the
new one, never half of it, and the old bytes stay on disk beside it. Both go
through ``safe_files.Dir`` (the directory held by fd; no link followed; O_EXCL
for new files) and keep the owner, group and mode of the file they copy: a
root ``doctor --fix`` leaves a user's plist, and its backup, the user's.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib

from hermes_top.core.errors import HermesTopError
from hermes_top.core.safe_files import Dir, Owner, UnsafePath, why

#: Backups made in one second before we give up looking for a free name.
MAX_SAME_SECOND = 1000


def backup_name(name: str, now: dt.datetime | None = None, n: int = 1) -> str:
    """``<name>.hermes-top-<YYYYmmdd-HHMMSS>[-n].bak``.

    The name does not end in ``.plist`` or ``.conf`` so neither launchd nor systemd
    picks the backup up as a second copy of the job.
    """
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{name}.hermes-top-{stamp}.bak" if n == 1 else f"{name}.hermes-top-{stamp}-{n}.bak"


def write_backup(
    d: Dir, name: str, data: bytes, like: os.stat_result, now: dt.datetime | None = None
) -> pathlib.Path:
    """Save ``data`` (the bytes just read from ``name`` in ``d``, whose stat is
    ``like``) as its backup, never over an existing file; returns the backup path."""
    now = now or dt.datetime.now()
    for n in range(1, MAX_SAME_SECOND + 1):
        target = backup_name(name, now, n)
        try:
            d.create(target, data, mode=like.st_mode & 0o7777, owner=(like.st_uid, like.st_gid))
        except FileExistsError:
            continue  # made in the same second, by us or another run
        except (OSError, UnsafePath) as err:
            shown = d.show(target)
            raise HermesTopError(f"cannot write backup {shown}: {why(err, shown)}") from err
        return pathlib.Path(d.show(target))
    raise HermesTopError(f"cannot write a backup of {d.show(name)}: no free backup name")


def atomic_write(
    d: Dir,
    name: str,
    data: bytes,
    *,
    like: os.stat_result | None,
    mode: int = 0o644,
    owner: Owner | None = None,
) -> None:
    """Replace ``name`` in ``d`` via a temp file and a rename. ``like``: the file
    replaced (its owner, group and mode are kept); else a new file with ``mode``
    and ``owner``."""
    shown = d.show(name)
    try:
        d.replace(name, data, like=like, mode=mode, owner=owner)
    except (OSError, UnsafePath) as err:
        raise HermesTopError(f"cannot write {shown}: {why(err, shown)}") from err
