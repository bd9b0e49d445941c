"""``model.frozen_record`` builds the scan's ProcessInfo records without a frozen
dataclass's per-field ``object.__setattr__``; each must be exactly what the
class's own ``__init__`` builds."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from hermes_top.core.engine import Core
from hermes_top.core.model import Identity, ProcessInfo, Role, State, aged, frozen_record
from hermes_top.sim import Simulation


def _values() -> dict[str, object]:
    return {
        "identity": Identity(4242, 1_800_000_000.0, 501, ("python3", "-m", "x"), 7),
        "ppid": 1,
        "role": Role.SLASH_WORKER,
        "state": State.ORPHAN,
        "reason": "no live dashboard",
        "session_key": "20260101_000000_abcdef",
        "dashboard_pid": None,
        "host_pid": None,
        "username": "alice",
        "name": "python3",
        "status": "S",
        "age_s": 12.5,
        "num_fds": 9,
        "num_fds_error": None,
        "cmdline": ("python3", "-m", "x"),
        "evidence": ("parent: init 1",),
        "confidence": None,
        "rss_bytes": 1 << 20,
        "cpu_seconds": 0.25,
    }


def test_a_record_equals_the_one_init_builds() -> None:
    assert not hasattr(ProcessInfo, "__post_init__") and not hasattr(ProcessInfo, "__slots__")
    built = frozen_record(ProcessInfo, _values())
    plain = ProcessInfo(**_values())  # type: ignore[arg-type]
    assert built == plain and hash(built) == hash(plain) and repr(built) == repr(plain)
    assert dataclasses.replace(built, age_s=1.0) == dataclasses.replace(plain, age_s=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.age_s = 3.0  # type: ignore[misc]


def test_an_aged_record_is_replace_with_a_new_age() -> None:
    built = frozen_record(ProcessInfo, _values())
    older = aged(built, 99.0)
    assert older == dataclasses.replace(built, age_s=99.0) and older.age_s == 99.0
    assert built.age_s == 12.5  # the record it came from is left as it was
    assert type(older) is ProcessInfo
    assert hash(older) == hash(dataclasses.replace(built, age_s=99.0))


def test_a_missing_field_is_refused() -> None:
    values = _values()
    del values["cpu_seconds"]
    with pytest.raises(TypeError, match="ProcessInfo"):
        frozen_record(ProcessInfo, values)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_every_record_of_a_scan_is_what_init_builds(sim: Simulation) -> None:
    d = sim.start_dashboard(port=9374)
    sim.open_tab(d, "attach")
    sim.orphan_worker(d)
    core = Core(readonly=True, pin=False, scope=lambda p: sim.in_scope(p.identity.cmdline, p.pid))
    try:
        snap = core.scan()
    finally:
        core.close()
    assert len(snap.processes) >= 3
    names = {f.name for f in dataclasses.fields(ProcessInfo)}
    identity_names = {f.name for f in dataclasses.fields(Identity)}
    assert not hasattr(Identity, "__post_init__") and not hasattr(Identity, "__slots__")
    for proc in snap.processes:
        assert set(vars(proc)) == names
        assert proc == ProcessInfo(**{name: getattr(proc, name) for name in names})
        # The identity inside is built the same way: it is what a signal is checked against.
        assert set(vars(proc.identity)) == identity_names
        assert proc.identity == Identity(**vars(proc.identity))
        assert hash(proc.identity) == hash(Identity(**vars(proc.identity)))
