"""The real-Hermes tier: skipped unless HERMES_TOP_REAL=1 (``make test-real``).

Builds (or reuses) cached venvs of the real hermes-agent releases, runs a
stand-in model endpoint and a proxy trap on loopback in this process, and
starts real dashboards as children of pytest (a child subreaper, see
tests/conftest.py). Every process is pinned and registered; teardown kills
and reaps everything even when a test fails.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.real import venvs
from tests.real.dashboard import Dashboard
from tests.real.fake_llm import FakeLLM, ProxyTrap

ENABLED = os.environ.get("HERMES_TOP_REAL") == "1"
VERSIONS = ("0.13.0", "0.19.0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    skip = None
    if not ENABLED:
        skip = pytest.mark.skip(reason="real-Hermes tier: set HERMES_TOP_REAL=1 (make test-real)")
    elif not sys.platform.startswith("linux"):
        skip = pytest.mark.skip(reason="the real-Hermes tier needs Linux (/proc, pidfds)")
    if skip is None:
        return
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def llm() -> Iterator[FakeLLM]:
    server = FakeLLM()
    yield server
    server.close()


@pytest.fixture(scope="session")
def proxy_trap() -> Iterator[ProxyTrap]:
    trap = ProxyTrap()
    yield trap
    trap.close()


@pytest.fixture(scope="session")
def install() -> Callable[[str], venvs.Install]:
    """``install("0.13.0")``: the cached venv (built on first use, under a lock)."""
    cache: dict[str, venvs.Install] = {}

    def get(version: str) -> venvs.Install:
        if version not in cache:
            cache[version] = venvs.ensure(version)
        return cache[version]

    return get


@pytest.fixture
def start_dashboard(
    install: Callable[[str], venvs.Install],
    llm: FakeLLM,
    proxy_trap: ProxyTrap,
    tmp_path: Path,
) -> Iterator[Callable[..., Dashboard]]:
    """``start_dashboard("0.13.0", fd_limit=128)`` -> a started Dashboard; all of
    them (and everything below them) are stopped, killed and reaped at teardown."""
    started: list[Dashboard] = []

    def start(version: str, fd_limit: int | None = 128, **kw: object) -> Dashboard:
        workdir = tmp_path / f"hermes-{version}-{len(started)}"
        dash = Dashboard(install(version), workdir, llm, proxy_trap, fd_limit=fd_limit, **kw)
        started.append(dash)
        dash.start()
        return dash

    try:
        yield start
    finally:
        errors = []
        for dash in reversed(started):
            try:
                dash.close()
            except Exception as exc:  # keep closing the others
                errors.append(f"{dash.version}: {exc}")
        if errors:
            raise AssertionError("teardown: " + "; ".join(errors))


@pytest.fixture(scope="session")
def facts_log() -> Iterator[dict[str, object]]:
    """Facts the tests observed, written to $HERMES_TOP_REAL_FACTS (if set) at the end."""
    facts: dict[str, object] = {}
    yield facts
    out = os.environ.get("HERMES_TOP_REAL_FACTS")
    if out:
        Path(out).write_text(json.dumps(facts, indent=1, default=str, sort_keys=True))
