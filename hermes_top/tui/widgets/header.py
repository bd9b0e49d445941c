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
from dataclasses import dataclass, fields

from rich.text import Text
from textual.widgets import Static

from hermes_top.core.model import DashboardInfo, Remedy, Snapshot, State
from hermes_top.core.problems import FdLevel, dashboard_problem, fd_level, remedy_problem
from hermes_top.tui.styles import DASHBOARD_MARK, PAUSED_MARK, STATE_STYLE, TAG_STYLE
from hermes_top.view.format import format_bytes
from hermes_top.view.history import FdHistory, Trend, sparkline
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


def trend_is_urgent(trend: Trend) -> bool:
    """Under an hour to the limit: drawn bold."""
    return trend.seconds_left is not None and trend.seconds_left < 3600


def trend_text(trend: Trend) -> Text:
    out = Text(trend.describe())
    if trend_is_urgent(trend):
        out.stylize("bold")
    return out


def compact_line(info: DashboardInfo, trend: Trend, width: int) -> Text:
    """One line: pid, gauge, FDs, level, remedy, then where and the trend if they fit."""
    gauge_width = GAUGE_WIDTH if width >= 100 else GAUGE_WIDTH - 4
    segments = [title_and_gauge(info, compact=True, gauge_width=gauge_width)]
    if info.remedy is not Remedy.NONE:
        segments.append(remedy_text(info, compact=True))
    segments += [where(info, compact=True), trend_text(trend)]
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


#: The states a dashboard's block counts, in order. No orphan count: an orphan
#: has, by definition, no dashboard above it.
COUNTED = (State.LIVE, State.PARKED, State.ABANDONED, State.STALE, State.ZOMBIE)
#: DashboardInfo fields no header line shows (RSS is shown rounded: its text is
#: in the key instead). Every other field is in a block's key, new ones too.
NOT_SHOWN = frozenset({"sessions", "fd_budget", "rss_bytes"})
_SHOWN = tuple(f.name for f in fields(DashboardInfo) if f.name not in NOT_SHOWN)
BlockKey = tuple[object, ...]


def rss_text(info: DashboardInfo) -> str:
    return f"RSS {format_bytes(info.rss_bytes)}" if info.rss_bytes else ""


def block_key(
    info: DashboardInfo, counted: tuple[int, ...], spark: str, trend: Trend, width: int
) -> BlockKey:
    """Everything a dashboard's lines are drawn from: equal keys, equal lines."""
    shown = tuple(getattr(info, name) for name in _SHOWN)
    trend_shown = (trend.describe(), trend_is_urgent(trend))
    return shown, rss_text(info), counted, spark, trend_shown, width


def full_block(
    info: DashboardInfo, counted: tuple[int, ...], spark: str, trend: Trend, width: int
) -> list[Text]:
    """Up to three lines; ``counted``: how many below it are in each COUNTED state."""
    limit = Text(f"limit: {info.limits.label}")
    if info.limits.inferred:
        limit.stylize("italic")
    counts = Text()
    for state, n in zip(COUNTED, counted, strict=True):
        if n or state is State.LIVE:
            if counts:
                counts.append(" ")
            counts.append(f"{n} {state.value}", style=STATE_STYLE[state] if n else "dim")
    rss = Text(rss_text(info))
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
    hist = Text(spark, style="cyan")
    if len(hist):
        hist.append(" ")
    hist.append_text(trend_text(trend))
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
        #: (dashboard pid, compact) -> (key, lines): blocks are rebuilt only when
        #: what they show changed (Rich text for four dashboards is ~1 ms a tick).
        self._blocks: dict[tuple[int, bool], tuple[BlockKey, list[Text]]] = {}

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
            lines = dashboard_lines(snapshot, history, usable, height, self._blocks)
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


def dashboard_lines(
    snapshot: Snapshot,
    history: FdHistory,
    width: int,
    height: int,
    memo: dict[tuple[int, bool], tuple[BlockKey, list[Text]]] | None = None,
) -> list[Text]:
    """Each dashboard's block, or one line each when the blocks would take more
    than a quarter of ``height``. ``memo`` keeps lines whose key did not change."""
    memo = {} if memo is None else memo
    states = states_by_dashboard(snapshot)
    inputs = []
    for d in in_trouble_first(snapshot):
        below = states.get(d.pid, Counter())
        counted = tuple(below[state] for state in COUNTED)
        spark = sparkline(history.values(d.pid), SPARK_WIDTH)
        trend = history.trend(d.pid, d.limits.soft)
        inputs.append((d, counted, spark, trend, block_key(d, counted, spark, trend, width)))

    def lines_of(compact: bool) -> list[list[Text]]:
        out = []
        for d, counted, spark, trend, key in inputs:
            cached = memo.get((d.pid, compact))
            if cached is None or cached[0] != key:
                made = (
                    [compact_line(d, trend, width)]
                    if compact
                    else full_block(d, counted, spark, trend, width)
                )
                cached = memo[(d.pid, compact)] = (key, made)
            out.append(cached[1])
        return out

    blocks = lines_of(False)
    if sum(len(b) for b in blocks) + 1 > height // 4:
        blocks = lines_of(True)
    shown = {d.pid for d, *_ in inputs}
    for gone in [k for k in memo if k[0] not in shown]:
        del memo[gone]
    return [line for block in blocks for line in block]
