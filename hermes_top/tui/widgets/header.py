"""The header strip: one block per dashboard (FD gauge, limit source, counts, history)
and a status line (interval, paused, read-only, filter, sort)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from hermes_top.core.model import (
    FD_CRITICAL_RATIO,
    FD_HIGH_RATIO,
    DashboardInfo,
    Snapshot,
    State,
)
from hermes_top.tui.history import FdHistory, sparkline
from hermes_top.tui.styles import STATE_STYLE

#: Near-limit levels: (ratio, word, style). A word as well as a colour, for NO_COLOR.
LEVELS = (
    (FD_CRITICAL_RATIO, "✖ CRITICAL", "bold white on red"),
    (FD_HIGH_RATIO, "▲ HIGH", "bold yellow"),
)
GAUGE_WIDTH = 10
SPARK_WIDTH = 12


@dataclass(frozen=True)
class Status:
    interval_s: float
    paused: bool
    readonly: bool
    tree: bool
    sort: str
    filter_text: str
    tagged: int


def level(ratio: float | None) -> tuple[str, str]:
    """(word, style) for an FD ratio: "" below 80%."""
    if ratio is not None:
        for threshold, word, style in LEVELS:
            if ratio >= threshold:
                return word, style
    return "", "green"


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


def dashboard_segments(snapshot: Snapshot, info: DashboardInfo, history: FdHistory) -> list[Text]:
    """The pieces of one dashboard's block, most important first."""
    title = Text("▣ dash ", style="bold")
    title.append(str(info.pid), style="bold")
    if info.port:
        title.append(f" :{info.port}")
    if info.profile:
        title.append(f" ({info.profile})")

    ratio = info.fd_ratio
    used = "?" if info.num_fds is None else str(info.num_fds)
    soft = "?" if not info.limits.soft else str(info.limits.soft)
    fds = gauge(ratio)
    fds.append(f" {used}/{soft} FDs")
    if ratio is not None:
        fds.append(f" {ratio:.0%}")
    word, style = level(ratio)
    if word:
        fds.append(" ")
        fds.append(word, style=style)

    limit = Text(f"limit: {info.limits.label}")
    if info.limits.inferred:
        limit.stylize("italic")

    approx = "~" if info.reclaimable_is_estimate else ""
    reclaim = Text(f"reclaimable {approx}{info.reclaimable_fds} FDs")
    if info.reclaimable_fds:
        reclaim.stylize("bold")

    counts = Text()
    mine = [p for p in snapshot.processes if p.dashboard_pid == info.pid]
    # No orphan count here: an orphan has, by definition, no dashboard above it
    # (the status line counts them).
    for state in (State.LIVE, State.STALE, State.ZOMBIE):
        n = sum(1 for p in mine if p.state == state)
        if counts:
            counts.append(" ")
        counts.append(f"{n} {state.value}", style=STATE_STYLE[state] if n else "dim")

    values = history.values(info.pid)
    trend = history.trend(info.pid, info.limits.soft)
    hist = Text(sparkline(values, SPARK_WIDTH), style="cyan")
    if len(hist):
        hist.append(" ")
    hist.append(trend.describe())
    if trend.seconds_left is not None and trend.seconds_left < 3600:
        hist.stylize("bold")
    title.append(" ")
    title.append_text(fds)
    return [title, limit, counts, reclaim, hist]


def flow(segments: list[Text], width: int, indent: int = 2) -> list[Text]:
    """Lay segments out left to right, " · " between them, wrapping at ``width``."""
    lines: list[Text] = []
    line = Text()
    for seg in segments:
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
    out = Text(title, style="bold")
    out.append(" · ")
    if status.paused:
        out.append("⏸ PAUSED", style="bold reverse")
        out.append("  ")
    if status.readonly:
        out.append("READ-ONLY", style="bold reverse")
        out.append("  ")
    out.append(f"every {status.interval_s:g} s", style="dim")
    if snapshot is not None:
        counts = snapshot.summary
        out.append(" · ")
        out.append(f"{counts['total']} procs")
        for state in (State.ORPHAN, State.STALE, State.ZOMBIE):
            if counts[state.value]:
                out.append(" · ")
                out.append(f"{counts[state.value]} {state.value}", style=STATE_STYLE[state])
        if snapshot.errors:
            out.append(" · ")
            out.append(f"⚠ {len(snapshot.errors)} scan warnings", style="yellow")
    out.append(" · ")
    out.append(("tree" if status.tree else "flat") + f" by {status.sort}", style="dim")
    if status.tagged:
        out.append(" · ")
        out.append(f"{status.tagged} tagged", style="bold yellow")
    if status.filter_text:
        out.append(" · ")
        out.append(f"filter “{status.filter_text}”", style="bold")
    return out


class HeaderStrip(Static):
    """Redrawn only when its text changes (the text is cheap to build, repaints are not)."""

    DEFAULT_CSS = """
    HeaderStrip { height: auto; padding: 0 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._last: str | None = None
        self._height = 0

    def show(
        self,
        title: str,
        snapshot: Snapshot | None,
        history: FdHistory,
        status: Status,
        width: int,
    ) -> None:
        usable = max(width - 2, 20)
        lines: list[Text] = []
        if snapshot is not None:
            for info in snapshot.dashboards:
                lines += flow(dashboard_segments(snapshot, info, history), usable)
        lines.append(status_line(title, snapshot, status))
        lines[-1].truncate(usable, overflow="ellipsis")
        text = Text("\n").join(lines)
        key = text.markup
        if key != self._last:
            self._last = key
            # Its height is "auto": only a change in line count needs a layout pass,
            # which would re-lay and repaint the whole screen.
            self.update(text, layout=len(lines) != self._height)
            self._height = len(lines)
