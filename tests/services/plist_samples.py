"""Plist contents used across the service tests."""

from __future__ import annotations

import datetime as dt
import pathlib
import plistlib
from typing import Any


def rich_agent(label: str = "ai.hermes.dashboard", **extra: Any) -> dict[str, Any]:
    """A dashboard agent with keys of every plist type, none of them about limits."""
    return {
        "Label": label,
        "ProgramArguments": ["/opt/hermes/bin/hermes", "dashboard", "--port", "9119", "--no-open"],
        "EnvironmentVariables": {
            "HERMES_HOME": "/Users/me/.hermes",
            "NESTED": {"deep": [1, 2.5, True, {"x": "y"}]},
        },
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "Created": dt.datetime(2026, 5, 27, 14, 15, 3),
        "Blob": b"\x00\x01binary\xff",
        "Ratio": 0.25,
        "Disabled": False,
        "StandardErrorPath": "/Users/me/.hermes/logs/dashboard-launchd.err",
        **extra,
    }


def write_plist(
    path: pathlib.Path, data: dict[str, Any], fmt: plistlib.PlistFormat = plistlib.FMT_XML
) -> pathlib.Path:
    path.write_bytes(plistlib.dumps(data, fmt=fmt, sort_keys=False))
    return path


def read_plist(path: pathlib.Path) -> dict[str, Any]:
    data: dict[str, Any] = plistlib.loads(path.read_bytes())
    return data


def limits(soft: int | None, hard: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if soft is not None:
        out["SoftResourceLimits"] = {"NumberOfFiles": soft}
    if hard is not None:
        out["HardResourceLimits"] = {"NumberOfFiles": hard}
    return out
