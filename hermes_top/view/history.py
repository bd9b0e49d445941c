"""FD history per dashboard (a short ring of samples, its leak rate and time to
exhaustion) and CPU % per process from successive snapshots.

Pure Python (no Textual) so it can be unit-tested and reused by the CLI.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from hermes_top.core.model import Snapshot

#: Sparkline levels, lowest first.
_BARS = "▁▂▃▄▅▆▇█"
#: The rate is fitted over at most this much recent history: old samples describe
#: a leak that a reap may already have fixed.
RATE_WINDOW_S = 30 * 60.0
#: Below this many seconds of history a rate means nothing.
MIN_SPAN_S = 60.0
#: Slower than this (FD/min) counts as steady: no exhaustion estimate from noise.
STEADY_PER_MIN = 0.05


@dataclass(frozen=True)
class Trend:
    #: FDs per minute (least-squares slope); None until there is enough history.
    rate_per_min: float | None
    #: Seconds until ``limit`` at that rate; None if not rising or no limit.
    seconds_left: float | None
    limit: int | None

    def describe(self) -> str:
        """E.g. "~3 h to the 256 limit at +1.2 FD/min", "steady (+0.0 FD/min)"."""
        if self.rate_per_min is None:
            return "collecting history…"
        rate = f"{self.rate_per_min:+.1f} FD/min"
        if self.seconds_left is None:
            return f"steady ({rate})" if abs(self.rate_per_min) < STEADY_PER_MIN else rate
        if self.seconds_left <= 0:
            return f"at the {self.limit} limit ({rate})"
        return f"~{format_duration(self.seconds_left)} to the {self.limit} limit at {rate}"


def format_duration(seconds: float) -> str:
    """A coarse, honest duration: "45 s", "32 min", "3 h", "2 d"."""
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


class FdHistory:
    """Samples of each dashboard's FD count, keyed by dashboard pid."""

    def __init__(self, maxlen: int = 240) -> None:
        self._maxlen = maxlen
        self._samples: dict[int, deque[tuple[float, int]]] = {}

    def add(self, pid: int, t: float, fds: int | None) -> None:
        if fds is None:
            return
        ring = self._samples.setdefault(pid, deque(maxlen=self._maxlen))
        # A frozen clock (tests) or two scans in one tick would otherwise skew the fit.
        if ring and ring[-1][0] >= t:
            ring[-1] = (ring[-1][0], fds)
            return
        ring.append((t, fds))

    def extend(self, pid: int, samples: Iterable[tuple[float, int]]) -> None:
        for t, fds in samples:
            self.add(pid, t, fds)

    def forget_except(self, pids: Iterable[int]) -> None:
        """Drop dashboards that are gone (a restarted dashboard gets a new pid)."""
        keep = set(pids)
        for pid in list(self._samples):
            if pid not in keep:
                del self._samples[pid]

    def values(self, pid: int) -> list[int]:
        return [fds for _, fds in self._samples.get(pid, ())]

    def trend(self, pid: int, limit: int | None) -> Trend:
        return trend_of(list(self._samples.get(pid, ())), limit)


def trend_of(samples: list[tuple[float, int]], limit: int | None) -> Trend:
    if not samples:
        return Trend(None, None, limit)
    last_t = samples[-1][0]
    recent = [(t, v) for t, v in samples if last_t - t <= RATE_WINDOW_S]
    if len(recent) < 2 or recent[-1][0] - recent[0][0] < MIN_SPAN_S:
        return Trend(None, None, limit)
    slope_per_s = _slope(recent)
    rate = slope_per_s * 60.0
    seconds_left: float | None = None
    if limit and rate >= STEADY_PER_MIN:
        seconds_left = (limit - recent[-1][1]) / slope_per_s
    return Trend(rate, seconds_left, limit)


def _slope(points: list[tuple[float, int]]) -> float:
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def sparkline(values: list[int], width: int, *, floor: int | None = None) -> str:
    """The last ``width`` values as block characters, scaled between min and max."""
    if width <= 0:
        return ""
    tail = values[-width:]
    if not tail:
        return ""
    low = min(tail) if floor is None else min(floor, *tail)
    high = max(tail)
    span = high - low
    if span == 0:
        return _BARS[0] * len(tail)
    top = len(_BARS) - 1
    return "".join(_BARS[round((v - low) / span * top)] for v in tail)


class CpuSampler:
    """CPU % per process from the CPU times of two successive snapshots.

    Reads ``cpu_seconds`` (user + system time) where a ProcessInfo has it; a
    process is followed by identity (pid and create time), so a PID reused
    between two scans starts over instead of inheriting the old process's time.
    """

    def __init__(self) -> None:
        #: (pid, create time) -> (snapshot time, cpu seconds) of the last sample.
        self._last: dict[tuple[int, float], tuple[float, float]] = {}
        self._percent: dict[int, float] = {}
        #: Whether the last snapshot carried CPU times at all.
        self.available = False

    def update(self, snapshot: Snapshot) -> dict[int, float]:
        """Record ``snapshot``; return CPU % by pid (only where two samples exist)."""
        seen: dict[tuple[int, float], tuple[float, float]] = {}
        percent: dict[int, float] = {}
        for p in snapshot.processes:
            cpu = getattr(p, "cpu_seconds", None)
            if cpu is None:
                continue
            ident = (p.pid, p.create_time)
            seen[ident] = (snapshot.taken_at, float(cpu))
            before = self._last.get(ident)
            if before is None:
                continue
            elapsed = snapshot.taken_at - before[0]
            if elapsed <= 0:  # the same instant twice: keep what was shown
                if p.pid in self._percent:
                    percent[p.pid] = self._percent[p.pid]
                    seen[ident] = before
                continue
            percent[p.pid] = max(float(cpu) - before[1], 0.0) / elapsed * 100.0
        self.available = bool(seen)
        self._last = seen
        self._percent = percent
        return percent

    @property
    def percent(self) -> dict[int, float]:
        return self._percent
