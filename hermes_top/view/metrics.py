"""Prometheus text exposition of a snapshot, and of what a guard did, through the
maintained client library (``prometheus_client``).

``hermes-top metrics`` prints it once (node_exporter's textfile collector reads
the file); ``hermes-top guard --metrics-listen`` serves it. Numbers only: no
argv, no environment; the few label values taken from processes (profile,
user, version) are escaped and bounded like everything hermes-top shows.

Per dashboard (labels ``dashboard_pid``, ``port``, ``profile``, ``user``): open
FDs, soft and hard limit, processes below it by state, FDs a reap would free
and a restart would free, resident memory; from a guard also the leak rate and
the time left to the soft limit (they need minutes of history). Machine-wide:
Hermes processes by state, the number of dashboards, when the scan was taken.
From a guard: its counters (reset when the guard restarts, as Prometheus
counters may; ``rate()`` and ``increase()`` handle that).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from types import ModuleType
from typing import TYPE_CHECKING

from hermes_top.core.errors import HermesTopError
from hermes_top.core.escape import escape_control
from hermes_top.core.guard import GuardStats, LeakTrend
from hermes_top.core.model import DashboardInfo, Snapshot, State

if TYPE_CHECKING:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

#: What to install when the client library is missing.
INSTALL_HINT = (
    "hermes-top's metrics need the prometheus_client package, a dependency of hermes-top "
    "that is missing here: reinstall hermes-top (pip install ., pipx install --force ., "
    "uv tool install --reinstall .) or pip install 'prometheus_client>=0.20,<1'"
)
#: Longest label value taken from a process (a profile name, a user name).
MAX_LABEL = 64
DASHBOARD_LABELS = ("dashboard_pid", "port", "profile", "user")


def require_client() -> ModuleType:
    """``prometheus_client`` (with the modules used here loaded), or one clear
    HermesTopError saying how to get it."""
    try:
        import prometheus_client
        import prometheus_client.core
        import prometheus_client.exposition
    except ImportError as err:
        raise HermesTopError(INSTALL_HINT) from err
    return prometheus_client


def label_value(text: str | None) -> str:
    """A label value from a process: control characters escaped, bounded."""
    if not text:
        return ""
    shown = escape_control(text)
    return shown if len(shown) <= MAX_LABEL else shown[: MAX_LABEL - 3] + "..."


def dashboard_labels(snapshot: Snapshot, dash: DashboardInfo) -> list[str]:
    proc = snapshot.get(dash.pid)
    return [
        str(dash.pid),
        "" if dash.port is None else str(dash.port),
        label_value(dash.profile),
        label_value(proc.username if proc is not None else None),
    ]


def _limit(value: int | None) -> float:
    """A limit read as None means unlimited (RLIM_INFINITY, launchd's ``unlimited``)."""
    return math.inf if value is None else float(value)


def families(
    snapshot: Snapshot | None,
    *,
    trends: Mapping[int, LeakTrend] | None = None,
    guard: GuardStats | None = None,
) -> list[Metric]:
    """The metric families (prometheus_client ``Metric`` objects) to expose."""
    require_client()
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    out: list[Metric] = []
    if snapshot is not None:
        out += _snapshot_families(snapshot, trends or {}, GaugeMetricFamily)
    if guard is not None:
        out += _guard_families(guard, GaugeMetricFamily, CounterMetricFamily)
    return out


def _snapshot_families(
    snapshot: Snapshot, trends: Mapping[int, LeakTrend], gauge: type[GaugeMetricFamily]
) -> Iterator[Metric]:
    labels = list(DASHBOARD_LABELS)
    info = gauge(
        "hermes_dashboard_info",
        "A Hermes dashboard hermes-top sees (1), with its version and where its FD limit "
        "was read (proc, plist, launchctl, default: the last three are inferred)",
        labels=[*labels, "version", "fd_limit_source"],
    )
    fds = gauge(
        "hermes_dashboard_open_fds", "Open file descriptors of the dashboard", labels=labels
    )
    soft = gauge(
        "hermes_dashboard_fd_soft_limit", "Soft RLIMIT_NOFILE of the dashboard", labels=labels
    )
    hard = gauge(
        "hermes_dashboard_fd_hard_limit",
        "Hard RLIMIT_NOFILE of the dashboard (+Inf: unlimited)",
        labels=labels,
    )
    procs = gauge(
        "hermes_dashboard_processes",
        "Hermes processes below the dashboard (itself not counted), by state",
        labels=[*labels, "state"],
    )
    reclaimable = gauge(
        "hermes_dashboard_reclaimable_fds",
        "Dashboard FDs that reaping its leaked processes would free",
        labels=labels,
    )
    restart_frees = gauge(
        "hermes_dashboard_restart_frees_fds",
        "Dashboard FDs that a restart would give back (leaked and dead pipes, excess SQLite "
        "handles)",
        labels=labels,
    )
    rss = gauge(
        "hermes_dashboard_rss_bytes",
        "Resident memory of the dashboard and everything below it",
        labels=labels,
    )
    rate = gauge(
        "hermes_dashboard_fd_leak_rate_per_minute",
        "FDs per minute the dashboard gains (least squares over up to 30 min; guard only)",
        labels=labels,
    )
    left = gauge(
        "hermes_dashboard_fd_seconds_to_limit",
        "Seconds until the dashboard reaches its soft FD limit at its leak rate (guard only; "
        "absent while not rising)",
        labels=labels,
    )
    below: dict[int, dict[State, int]] = {
        d.pid: dict.fromkeys(State, 0) for d in snapshot.dashboards
    }
    for p in snapshot.processes:
        counts = below.get(p.dashboard_pid) if p.dashboard_pid is not None else None
        if counts is not None and p.pid != p.dashboard_pid:
            counts[p.state] += 1
    for dash in snapshot.dashboards:
        values = dashboard_labels(snapshot, dash)
        limits = dash.limits
        info.add_metric([*values, label_value(dash.hermes_version), label_value(limits.label)], 1.0)
        if dash.num_fds is not None:
            fds.add_metric(values, float(dash.num_fds))
        if limits.source != "unknown":
            soft.add_metric(values, _limit(limits.soft))
            hard.add_metric(values, _limit(limits.hard))
        for state, n in below[dash.pid].items():
            procs.add_metric([*values, state.value], float(n))
        reclaimable.add_metric(values, float(dash.reclaimable_fds))
        restart_frees.add_metric(values, float(dash.restart_frees))
        rss.add_metric(values, float(dash.rss_bytes))
        trend = trends.get(dash.pid)
        if trend is not None and trend.rate_per_min is not None:
            rate.add_metric(values, trend.rate_per_min)
        if trend is not None and trend.seconds_left is not None:
            left.add_metric(values, max(trend.seconds_left, 0.0))
    yield from (info, fds, soft, hard, procs, reclaimable, restart_frees, rss, rate, left)
    by_state = gauge(
        "hermes_processes", "Hermes processes hermes-top sees, by state", labels=["state"]
    )
    for name, n in snapshot.summary.items():
        if name != "total":
            by_state.add_metric([name], float(n))
    yield by_state
    yield gauge("hermes_dashboards", "Hermes dashboards hermes-top sees", len(snapshot.dashboards))
    yield gauge(
        "hermes_top_scan_timestamp_seconds",
        "When the scan these figures come from was taken (Unix time)",
        snapshot.taken_at,
    )
    yield gauge(
        "hermes_top_scan_problems",
        "Non-fatal problems the scan met (unreadable processes ...)",
        len(snapshot.errors),
    )


def _guard_families(
    guard: GuardStats, gauge: type[GaugeMetricFamily], counter: type[CounterMetricFamily]
) -> Iterator[Metric]:
    yield gauge(
        "hermes_top_guard_start_time_seconds",
        "When this guard started (its counters count from then)",
        guard.started_at,
    )
    yield counter("hermes_top_guard_ticks", "Ticks (scan, judge, act) the guard ran", guard.ticks)
    yield counter(
        "hermes_top_guard_tick_errors",
        "Ticks that failed (the scan or a step raised); the guard went on",
        guard.tick_errors,
    )
    if guard.last_tick_at is not None:
        yield gauge(
            "hermes_top_guard_last_tick_timestamp_seconds",
            "When the guard's last tick ended (Unix time)",
            guard.last_tick_at,
        )
    yield counter(
        "hermes_top_guard_reaped",
        "Processes the guard's reaps ended: reported terminated or killed after its signal",
        guard.reaped,
    )
    yield _by_label(
        counter(
            "hermes_top_guard_reap_outcomes",
            "Targets of the guard's reaps by reported outcome (terminated, killed, gone, "
            "denied, changed, survived, skipped, unknown, zombie)",
            labels=["outcome"],
        ),
        guard.outcomes.items(),
    )
    yield counter(
        "hermes_top_guard_restarts",
        "Dashboard restarts the guard ran that its supervisor reported done",
        guard.restarts,
    )
    yield _by_label(
        counter(
            "hermes_top_guard_recoveries",
            "Recover runs of the guard, by result (ok: answers again below 80 %)",
            labels=["result"],
        ),
        ((k, guard.recoveries.get(k, 0)) for k in ("ok", "failed")),
    )
    yield _by_label(
        counter(
            "hermes_top_guard_warnings",
            "Warnings the guard raised, by kind",
            labels=["kind"],
        ),
        guard.warnings.items(),
    )
    yield gauge(
        "hermes_top_guard_journal_writable",
        "1 while the signal journal can be written; at 0 the guard signals nothing",
        1.0 if guard.journal_writable else 0.0,
    )
    yield gauge(
        "hermes_top_guard_signalling",
        "1 when the guard may signal (not --readonly, journal writable)",
        1.0 if guard.signalling else 0.0,
    )


def _by_label(
    family: CounterMetricFamily, values: Iterable[tuple[str, int]]
) -> CounterMetricFamily:
    for key, n in values:
        family.add_metric([key], float(n))
    return family


class _Families:
    """A collector over a fixed list of families (one render)."""

    def __init__(self, found: list[Metric]) -> None:
        self.found = found

    def collect(self) -> Iterable[Metric]:
        return iter(self.found)


def render(
    snapshot: Snapshot | None,
    *,
    trends: Mapping[int, LeakTrend] | None = None,
    guard: GuardStats | None = None,
    accept: str | None = None,
) -> tuple[bytes, str]:
    """The exposition and its content type; ``accept`` is a scraper's Accept
    header (None: the classic text format node_exporter's textfile collector reads)."""
    require_client()
    from prometheus_client import CollectorRegistry, exposition

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families(snapshot, trends=trends, guard=guard)))
    if accept is None:
        # The classic text format (0.0.4): what every scraper and textfile reader takes.
        plain = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", exposition.CONTENT_TYPE_LATEST)
        return exposition.generate_latest(registry), str(plain)
    encoder, content_type = exposition.choose_encoder(accept)
    return encoder(registry), str(content_type)
