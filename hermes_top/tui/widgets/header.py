"""The header strip: the dashboards (those in trouble first), then a status line.

Each dashboard gets its FD gauge (judged by core.problems.fd_level), its version
and, when the core's remedy is not ``none``, that remedy and the key for it. On
a tall terminal a dashboard gets a block of up to three lines (limit source,
counts, RSS, the remedy's reason, what a reap and a restart free, FD history);
when those blocks would take more than a quarter of the screen, one line each.
The status line starts with what the user set (mode, sort, tags, filter) so a
narrow terminal cuts the least useful end.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from hermes_top.core.model import DashboardInfo, Remedy, Snapshot, State
from hermes_top.core.problems import FdLevel, dashboard_problem, fd_level, remedy_problem
from hermes_top.tui.styles import DASHBOARD_MARK, PAUSED_MARK, STATE_STYLE, TAG_STYLE
from hermes_top.view.format import format_bytes
from hermes_top.view.history import FdHistory, sparkline
from hermes_top.view.tree import ACT_STATES, Sort

#: Near-limit levels (judged by core.problems): a word as well as a colour, for NO_COLOR.
LEVELS = {
    FdLevel.CRITICAL: ("✖ CRITICAL", "bold white on red"),
    FdLevel.HIGH: ("▲ HIGH", "bold yellow"),
    FdLevel.OK: ("", "green"),
}
GAUGE_WIDTH = 10
SPARK_WIDTH = 12
REMEDY_STYLE = "bold yellow"


@dataclass(frozen=True)
class Status:
    interval_s: float
    paused: bool
    readonly: bool
    tree: bool
    sort: Sort
    filter_text: str
    tagged: int


def level(ratio: float | None) -> tuple[str, str]:
    """(word, style) for an FD ratio: "" below the high mark."""
    return LEVELS[fd_level(ratio)]


def gauge(ratio: float | None, width: int = GAUGE_WIDTH) -> Text:
    if ratio is None:
        return Text("?" * width, style="dim")
    eighths = round(min(max(ratio, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")
    _, style = level(ratio)
    out = Text(bar, style=style)
    out.append("░" * (width - len(bar)), style="dim")
    return out


def in_trouble_first(snapshot: Snapshot) -> list[DashboardInfo]:
    """Dashboards the core finds a problem with first (worst first), then the rest."""

    def rank(d: DashboardInfo) -> int:
        found = [p for p in (dashboard_problem(d), remedy_problem(d)) if p is not None]
        return -max((int(p.severity) + 1 for p in found), default=0)

    return sorted(snapshot.dashboards, key=rank)


def where(info: DashboardInfo, *, compact: bool) -> Text:
    """ ":9119 (work) hermes 0.13.0" """
    out = Text()
    if info.port:
        out.append(f":{info.port}")
    if info.profile:
        out.append(f" ({info.profile})")
    if info.hermes_version:
        out.append(f" v{info.hermes_version}" if compact else f" hermes {info.hermes_version}")
    return Text(out.plain.strip())


def title_and_gauge(info: DashboardInfo, *, compact: bool, gauge_width: int = GAUGE_WIDTH) -> Text:
    out = Text()
    out.append(f"{DASHBOARD_MARK} " + ("" if compact else "dash ") + str(info.pid), style="bold")
    if not compact:
        out.append(" ")
        out.append_text(where(info, compact=False))
    ratio = info.fd_ratio
    used = "?" if info.num_fds is None else str(info.num_fds)
    soft = "?" if not info.limits.soft else str(info.limits.soft)
    out.append(" ")
    out.append_text(gauge(ratio, gauge_width))
    out.append(f" {used}/{soft}" + ("" if compact else " FDs"))
    if ratio is not None:
        out.append(f" {ratio:.0%}")
    word, style = level(ratio)
    if word:
        out.append(" ")
        out.append(word, style=style)
    return out


def remedy_text(info: DashboardInfo, *, compact: bool = False) -> Text:
    """ "needs reap+restart: L" (what the core says it needs, and the key that does it)."""
    key = "R" if info.remedy is Remedy.REAP else "L"
    needs = "" if compact else "needs "
    return Text(f"{needs}{info.remedy.value}: {key}", style=REMEDY_STYLE)


def trend_text(info: DashboardInfo, history: FdHistory) -> Text:
    trend = history.trend(info.pid, info.limits.soft)
    out = Text(trend.describe())
    if trend.seconds_left is not None and trend.seconds_left < 3600:
        out.stylize("bold")
    return out


def compact_line(info: DashboardInfo, history: FdHistory, width: int) -> Text:
    """One line: pid, gauge, FDs, level, remedy, then where and the trend if they fit."""
    gauge_width = GAUGE_WIDTH if width >= 100 else GAUGE_WIDTH - 4
    segments = [title_and_gauge(info, compact=True, gauge_width=gauge_width)]
    if info.remedy is not Remedy.NONE:
        segments.append(remedy_text(info, compact=True))
    segments += [where(info, compact=True), trend_text(info, history)]
    lines = flow(segments, width)
    line = lines[0]
    if len(lines) > 1:  # the rest did not fit: say so
        line.append(" …", style="dim")
        line.truncate(width, overflow="ellipsis")
    return line


def states_by_dashboard(snapshot: Snapshot) -> dict[int, Counter[State]]:
    """Per dashboard pid, how many processes below it are in each state (one pass)."""
    out: dict[int, Counter[State]] = defaultdict(Counter)
    for p in snapshot.processes:
        if p.dashboard_pid is not None:
            out[p.dashboard_pid][p.state] += 1
    return out


def full_block(
    snapshot: Snapshot,
    info: DashboardInfo,
    history: FdHistory,
    width: int,
    states: Counter[State] | None = None,
) -> list[Text]:
    limit = Text(f"limit: {info.limits.label}")
    if info.limits.inferred:
        limit.stylize("italic")
    counts = Text()
    if states is None:
        states = states_by_dashboard(snapshot)[info.pid]
    # No orphan count here: an orphan has, by definition, no dashboard above it.
    for state in (State.LIVE, State.PARKED, State.ABANDONED, State.STALE, State.ZOMBIE):
        n = states[state]
        if n or state is State.LIVE:
            if counts:
                counts.append(" ")
            counts.append(f"{n} {state.value}", style=STATE_STYLE[state] if n else "dim")
    rss = Text(f"RSS {format_bytes(info.rss_bytes)}" if info.rss_bytes else "")
    lines = flow([title_and_gauge(info, compact=False), limit, counts], width)
    if info.remedy is not Remedy.NONE:
        remedy = Text("  ")
        remedy.append_text(remedy_text(info))
        remedy.append(f" — {info.remedy_reason}")
        remedy.truncate(width, overflow="ellipsis")
        lines.append(remedy)
    approx = "~" if info.reclaimable_is_estimate else ""
    frees = Text(f"a reap frees {approx}{info.reclaimable_fds} FDs, a restart {info.restart_frees}")
    if info.reclaimable_fds or info.restart_frees:
        frees.stylize("bold")
    hist = Text(sparkline(history.values(info.pid), SPARK_WIDTH), style="cyan")
    if len(hist):
        hist.append(" ")
    hist.append_text(trend_text(info, history))
    lines += flow([Text("  ") + frees, rss, hist], width)
    return lines


def flow(segments: list[Text], width: int, indent: int = 2) -> list[Text]:
    """Lay segments out left to right, " · " between them, wrapping at ``width``."""
    lines: list[Text] = []
    line = Text()
    for seg in segments:
        if not seg.plain:
            continue
        if not line.plain:
            line = seg.copy()
            continue
        if line.cell_len + 3 + seg.cell_len <= width:
            line.append(" · ", style="dim")
            line.append_text(seg)
        else:
            lines.append(line)
            line = Text(" " * indent)
            line.append_text(seg)
    if line.plain:
        lines.append(line)
    for text in lines:
        text.truncate(width, overflow="ellipsis")
    return lines


def status_line(title: str, snapshot: Snapshot | None, status: Status) -> Text:
    parts: list[Text] = []
    if status.readonly:
        parts.append(Text("READ-ONLY", style="bold reverse"))
    if status.paused:
        parts.append(Text(f"{PAUSED_MARK} PAUSED", style="bold reverse"))
    parts.append(Text("tree" if status.tree else "flat", style="bold"))
    parts.append(Text(f"sort {status.sort.column} {status.sort.arrow}", style="bold"))
    if status.tagged:
        parts.append(Text(f"{status.tagged} tagged", style=TAG_STYLE))
    if status.filter_text:
        parts.append(Text(f"filter “{status.filter_text}”", style="bold reverse"))
    parts.append(Text(f"every {status.interval_s:g} s", style="dim"))
    if snapshot is not None:
        counts = snapshot.summary
        parts.append(Text(f"{counts['total']} procs"))
        for state in ACT_STATES:
            if counts[state.value]:
                parts.append(Text(f"{counts[state.value]} {state.value}", style=STATE_STYLE[state]))
        if snapshot.errors:
            n = len(snapshot.errors)
            parts.append(Text(f"⚠ {n} scan warning{'s' if n != 1 else ''}", style="yellow"))
    parts.append(Text(title, style="dim"))
    return Text(" · ", style="dim").join(parts)


class HeaderStrip(Static):
    """Redrawn only when its text changes (the text is cheap to build, repaints are not)."""

    DEFAULT_CSS = """
    HeaderStrip { height: auto; padding: 0 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._last: Text | None = None
        self._height = 0

    def show(
        self,
        title: str,
        snapshot: Snapshot | None,
        history: FdHistory,
        status: Status,
        size: tuple[int, int],
    ) -> None:
        width, height = size
        usable = max(width - 2, 20)
        lines: list[Text] = []
        if snapshot is not None:
            dashboards = in_trouble_first(snapshot)
            states = states_by_dashboard(snapshot)
            blocks = [
                full_block(snapshot, d, history, usable, states.get(d.pid, Counter()))
                for d in dashboards
            ]
            if sum(len(b) for b in blocks) + 1 <= height // 4:
                lines = [line for block in blocks for line in block]
            else:
                lines = [compact_line(d, history, usable) for d in dashboards]
        status_text = status_line(title, snapshot, status)
        status_text.truncate(usable, overflow="ellipsis")
        lines.append(status_text)
        text = Text("\n").join(lines)
        # Same characters and same styles (Text equality: cheaper than its markup).
        if text != self._last:
            self._last = text
            # Its height is "auto": only a change in line count needs a layout pass,
            # which would re-lay and repaint the whole screen.
            self.update(text, layout=len(lines) != self._height)
            self._height = len(lines)
