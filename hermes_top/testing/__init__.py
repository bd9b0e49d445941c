"""Test and demo helpers that need no real processes: a fake core and canned snapshots."""

from hermes_top.testing.demo_data import (
    demo_breakdowns,
    demo_core,
    demo_fd_samples,
    demo_snapshot,
    empty_snapshot,
)
from hermes_top.testing.fake_core import DEMO_NOW, FakeCore, ReapCall, SignalCall

__all__ = [
    "DEMO_NOW",
    "FakeCore",
    "ReapCall",
    "SignalCall",
    "demo_breakdowns",
    "demo_core",
    "demo_fd_samples",
    "demo_snapshot",
    "empty_snapshot",
]
