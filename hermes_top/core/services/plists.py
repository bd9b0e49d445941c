"""Read and edit launchd property lists without losing anything.

plistlib reads both formats; we remember which one the file was in and write the
same one back, so an XML plist stays XML and a binary one stays binary. Every key
we do not touch is written back as read (nested dicts, arrays, dates, data, bools).
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import plistlib
import xml.parsers.expat
from dataclasses import dataclass
from typing import Any

from hermes_top.core.errors import HermesTopError
from hermes_top.core.services.files import atomic_write, write_backup

SOFT_KEY = "SoftResourceLimits"
HARD_KEY = "HardResourceLimits"
NOFILE_KEY = "NumberOfFiles"
_BINARY_MAGIC = b"bplist00"


@dataclass(frozen=True)
class Plist:
    path: pathlib.Path
    data: dict[str, Any]
    fmt: plistlib.PlistFormat
    raw: bytes


@dataclass(frozen=True)
class NofileLimits:
    """``NumberOfFiles`` from the soft and hard resource-limit dicts (None = not set)."""

    soft: int | None
    hard: int | None

    @property
    def is_set(self) -> bool:
        return self.soft is not None or self.hard is not None


@dataclass(frozen=True)
class PlistEdit:
    """What ``set_nofile_limits`` did to one file."""

    path: pathlib.Path
    before: NofileLimits
    after: NofileLimits
    changed: bool
    backup: pathlib.Path | None


def load_plist(path: pathlib.Path) -> Plist:
    """Parse ``path``; HermesTopError naming the file if it is missing or not a dict plist."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise HermesTopError(f"cannot read plist {path}: {err.strerror or err}") from err
    fmt = plistlib.FMT_BINARY if raw.startswith(_BINARY_MAGIC) else plistlib.FMT_XML
    try:
        data = plistlib.loads(raw, fmt=fmt)
    except (plistlib.InvalidFileException, xml.parsers.expat.ExpatError, ValueError) as err:
        raise HermesTopError(f"cannot parse plist {path}: {err or type(err).__name__}") from err
    if not isinstance(data, dict):
        raise HermesTopError(f"cannot use plist {path}: top level is not a dictionary")
    return Plist(path, data, fmt, raw)


def nofile_limits(data: dict[str, Any], path: pathlib.Path) -> NofileLimits:
    return NofileLimits(
        _nofile(data, SOFT_KEY, path),
        _nofile(data, HARD_KEY, path),
    )


def _nofile(data: dict[str, Any], key: str, path: pathlib.Path) -> int | None:
    section = data.get(key)
    if section is None:
        return None
    if not isinstance(section, dict):
        raise HermesTopError(f"cannot use plist {path}: {key} is not a dictionary")
    value = section.get(NOFILE_KEY)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise HermesTopError(f"cannot use plist {path}: {key}.{NOFILE_KEY} is not an integer")
    return value


def set_nofile_limits(
    path: pathlib.Path, soft: int, hard: int, *, now: dt.datetime | None = None
) -> PlistEdit:
    """Raise the agent's NumberOfFiles limits to at least ``soft`` / ``hard``.

    Limits already higher are kept (we never lower them). When something changes,
    the original bytes go to a timestamped backup and the file is replaced
    atomically in its original format. A file that does not parse is never written.
    """
    # Edit the real file behind a symlink, not the link.
    path = pathlib.Path(os.path.realpath(path))
    plist = load_plist(path)
    before = nofile_limits(plist.data, path)
    after = NofileLimits(max(before.soft or 0, soft), max(before.hard or 0, hard))
    if after == before:
        return PlistEdit(path, before, after, changed=False, backup=None)
    data = dict(plist.data)
    for key, value in ((SOFT_KEY, after.soft), (HARD_KEY, after.hard)):
        section = dict(data.get(key) or {})
        section[NOFILE_KEY] = value
        data[key] = section
    # sort_keys=False keeps the author's key order; plistlib writes dicts in order.
    new_raw = plistlib.dumps(data, fmt=plist.fmt, sort_keys=False)
    mode = os.stat(path).st_mode & 0o7777
    backup = write_backup(path, plist.raw, now)
    atomic_write(path, new_raw, mode=mode)
    return PlistEdit(path, before, after, changed=True, backup=backup)
