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
import struct
import xml.parsers.expat
from dataclasses import dataclass
from typing import Any

from hermes_top.core.errors import HermesTopError
from hermes_top.core.safe_files import Dir, UnsafePath, locate, why
from hermes_top.service.config import MAX_NOFILE
from hermes_top.service.files import atomic_write, write_backup

SOFT_KEY = "SoftResourceLimits"
HARD_KEY = "HardResourceLimits"
NOFILE_KEY = "NumberOfFiles"
_BINARY_MAGIC = b"bplist00"
#: A launchd plist is a few KB; a bigger file is not one we will parse or rewrite.
MAX_PLIST_BYTES = 1 << 20
#: What plistlib raises on hostile input besides its own InvalidFileException.
_PARSE_ERRORS = (
    plistlib.InvalidFileException,
    xml.parsers.expat.ExpatError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
    struct.error,
)


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
    #: Set when the hard limit had to go above the target to stay >= the soft one.
    note: str | None = None


def load_plist(path: pathlib.Path) -> Plist:
    """Parse ``path``; HermesTopError naming the file if it is missing or not a dict plist."""
    d, name = _locate(path)
    with d:
        return _load(d, name, path)[0]


def _locate(path: pathlib.Path) -> tuple[Dir, str]:
    try:
        return locate(path)
    except (OSError, UnsafePath) as err:
        raise HermesTopError(f"cannot read plist {path}: {why(err, path)}") from err


def _load(d: Dir, name: str, path: pathlib.Path) -> tuple[Plist, os.stat_result]:
    try:
        raw, st = d.read(name, MAX_PLIST_BYTES)
    except (OSError, UnsafePath) as err:
        raise HermesTopError(f"cannot read plist {path}: {why(err, d.show(name))}") from err
    fmt = plistlib.FMT_BINARY if raw.startswith(_BINARY_MAGIC) else plistlib.FMT_XML
    try:
        data = plistlib.loads(raw, fmt=fmt)
    except _PARSE_ERRORS as err:
        detail = str(err)[:200] or type(err).__name__
        raise HermesTopError(f"cannot parse plist {path}: {detail}") from err
    if not isinstance(data, dict):
        raise HermesTopError(f"cannot use plist {path}: top level is not a dictionary")
    return Plist(path, data, fmt, raw), st


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
    if not 1 <= value <= MAX_NOFILE:
        shown = str(value) if len(str(value)) <= 30 else f"{str(value)[:30]}..."
        raise HermesTopError(
            f"cannot use plist {path}: {key}.{NOFILE_KEY} {shown} is out of range "
            f"(1 to {MAX_NOFILE})"
        )
    return value


def set_nofile_limits(
    path: pathlib.Path, soft: int, hard: int, *, now: dt.datetime | None = None
) -> PlistEdit:
    """Raise the agent's NumberOfFiles limits to at least ``soft`` / ``hard``.

    Limits already higher are kept (we never lower them); the hard limit is
    raised to the soft one if that is higher, so soft never ends above hard.
    When something changes, the original bytes go to a timestamped backup and
    the file is replaced atomically in its original format, owner, group and
    mode. A file that does not parse is never written. Through a symlink, the
    real file is edited (if the link's owner owns it: see safe_files).
    """
    d, name = _locate(path)
    with d:
        real = pathlib.Path(d.show(name))
        plist, st = _load(d, name, real)
        before = nofile_limits(plist.data, real)
        new_soft = max(before.soft or 0, soft)
        wanted_hard = max(before.hard or 0, hard)
        # Never soft > hard: launchd's setrlimit would refuse both.
        after = NofileLimits(new_soft, max(wanted_hard, new_soft))
        note = (
            f"hard raised to {after.hard} to match the soft limit"
            if after.hard != wanted_hard
            else None
        )
        if after == before:
            return PlistEdit(real, before, after, changed=False, backup=None)
        data = dict(plist.data)
        for key, value in ((SOFT_KEY, after.soft), (HARD_KEY, after.hard)):
            section = dict(data.get(key) or {})
            section[NOFILE_KEY] = value
            data[key] = section
        # sort_keys=False keeps the author's key order; plistlib writes dicts in order.
        try:
            new_raw = plistlib.dumps(data, fmt=plist.fmt, sort_keys=False)
        except (TypeError, ValueError, OverflowError) as err:
            raise HermesTopError(f"cannot write plist {real}: {err}") from err
        backup = write_backup(d, name, plist.raw, st, now)
        atomic_write(d, name, new_raw, like=st)
        return PlistEdit(real, before, after, changed=True, backup=backup, note=note)
