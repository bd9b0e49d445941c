"""Small text formatters shared by the CLI and the TUI (no colour: words and glyphs)."""

from __future__ import annotations

from hermes_top.core.model import DashboardInfo, FdBudget, FdLimits, State

#: A glyph and a word for every state, so it reads without colour (NO_COLOR, logs,
#: dumb terminals). The CLI and the TUI show the same marks.
STATE_MARK = {
    State.LIVE: "· live",
    State.PARKED: "= parked",
    State.STALE: "~ stale",
    State.ABANDONED: "! abandoned",
    State.ORPHAN: "✗ orphan",
    State.ZOMBIE: "z zombie",
}
#: The widest mark, for column layouts.
STATE_WIDTH = max(len(mark) for mark in STATE_MARK.values())


def format_age(seconds: float) -> str:
    """Compact age like ps etime: 42s, 7m05s, 3h12m, 2d04h."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def format_limits(limits: FdLimits) -> str:
    """ "256 soft / unlimited hard (launchctl, inferred)"."""
    soft = "?" if limits.soft is None else str(limits.soft)
    hard = "unlimited" if limits.hard is None else str(limits.hard)
    if limits.source == "unknown":
        return f"limit unknown ({limits.detail})" if limits.detail else "limit unknown"
    return f"{soft} soft / {hard} hard ({limits.label})"


def format_bytes(n: int | None) -> str:
    """12 KB, 180 MB, 1.4 GB (powers of 1024, as ps and top count)."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit != "GB" else f"{value:.1f} GB"
        value /= 1024
    return f"{value:.1f} GB"


def format_budget(budget: FdBudget | None) -> str:
    """ "3 std · 5 live pipes · 93 leaked pipes · 0 dead pipes · state.db ×3 · 4 sockets" """
    if budget is None:
        return "FDs not readable"
    if not budget.exact:
        parts = [f"{budget.total} in all (pipes cannot be told apart here)"]
    else:
        parts = [
            f"{budget.std} std",
            f"{budget.live_pipes} live pipes",
            f"{budget.leaked_pipes} leaked pipes",
            f"{budget.dead_pipes} dead pipes",
        ]
    parts += [f"{db.rsplit('/', 1)[-1]} ×{n}" for db, n in sorted(budget.sqlite.items())]
    if budget.exact:
        parts += [f"{budget.sockets} sockets", f"{budget.ptys} ptys", f"{budget.other} other"]
    return " · ".join(parts)


def format_dashboard(d: DashboardInfo) -> list[str]:
    """A dashboard's header lines, for `list` and the details pane alike."""
    where = f" port {d.port}" if d.port else ""
    version = f" (hermes-agent {d.hermes_version})" if d.hermes_version else ""
    fds = "?" if d.num_fds is None else str(d.num_fds)
    reclaim = f"{'~' if d.reclaimable_is_estimate else ''}{d.reclaimable_fds}"
    lines = [
        f"Dashboard {d.pid}{where}{version}: FDs {fds} / {format_limits(d.limits)}; "
        f"a reap frees {reclaim}, a restart {d.restart_frees}; {len(d.sessions)} session(s), "
        f"{format_bytes(d.rss_bytes)}",
        f"  FDs: {format_budget(d.fd_budget)}",
    ]
    if d.remedy.value != "none":
        lines.append(f"  remedy: {d.remedy.value} — {d.remedy_reason}")
    return lines


#: What hermes-top looks for, said when it finds none (the CLI and the TUI alike).
NOTHING_FOUND = """No Hermes processes found.

Looked for, among the processes visible to you:
  • dashboards  hermes dashboard|serve, python -m hermes_cli.main dashboard
  • chat tabs   node … tui_dist/entry.js (or ui-tui/dist/entry.js)
  • tab entry   python -m tui_gateway.entry
  • workers     python -m tui_gateway.slash_worker --session-key …
  • services    hermes gateway run, and any other hermes CLI

Nothing to reap. To see what a leaking dashboard looks like, run:

  hermes-top demo
"""
