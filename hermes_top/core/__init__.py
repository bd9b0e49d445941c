"""The reaping core: discovery, classification, FD accounting, safe signalling.

This package is its one face: ``Core`` (and the ``CoreAPI`` protocol), the
snapshot model, the problems judgement and the typed errors. It never imports
textual, the service control, the CLI or the simulator (tests/test_layers.py
checks), so cron jobs and other programs can use it cheaply. ``Core`` is
imported on first use: ``hermes_top.core.model`` alone stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hermes_top.core.errors import HermesTopError, ReadOnlyError, ScanError, UsageError
from hermes_top.core.model import (
    ActionReport,
    ActionResult,
    DashboardInfo,
    FdLimits,
    Identity,
    Outcome,
    ProcessInfo,
    ReapPlan,
    Role,
    SessionInfo,
    Snapshot,
    State,
)
from hermes_top.core.problems import Problem, Severity, problems

if TYPE_CHECKING:
    from hermes_top.core.engine import Core, CoreAPI

__all__ = [
    "ActionReport",
    "ActionResult",
    "Core",
    "CoreAPI",
    "DashboardInfo",
    "FdLimits",
    "HermesTopError",
    "Identity",
    "Outcome",
    "Problem",
    "ProcessInfo",
    "ReadOnlyError",
    "ReapPlan",
    "Role",
    "ScanError",
    "SessionInfo",
    "Severity",
    "Snapshot",
    "State",
    "UsageError",
    "problems",
]


def __getattr__(name: str) -> Any:
    if name in ("Core", "CoreAPI"):
        from hermes_top.core import engine

        return getattr(engine, name)
    raise AttributeError(name)
