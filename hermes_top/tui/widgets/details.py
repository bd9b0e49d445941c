"""The details pane: everything known about the selected row (argv redacted).

A process: its state and why, the evidence and how sure the verdict is, argv,
parent chain, its dashboard's limits and its FDs; a dashboard also gets the
lines ``hermes-top list`` prints for it (version, FD budget, remedy). A group
row: what core.problems says about the processes in it.
"""

from __future__ import annotations

from collections.abc import Collection

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from hermes_top.core.model import (
    Confidence,
    FdBreakdown,
    ProcessInfo,
    Role,
    SessionInfo,
    Snapshot,
    State,
)
from hermes_top.core.problems import problems
from hermes_top.tui.styles import GROUP_HINT, LOW_CONFIDENCE_MARK, STATE_STYLE
from hermes_top.view.format import STATE_MARK, format_age, format_bytes, format_dashboard
from hermes_top.view.tree import ROLE_SHORT, parent_chain

_LABEL_WIDTH = 7


def _label(out: Text, label: str) -> None:
    out.append("\n" + label.ljust(_LABEL_WIDTH), style="bold")


def render_details(
    proc: ProcessInfo | None,
    snapshot: Snapshot | None,
    breakdown: FdBreakdown | None,
    *,
    group_text: Text | str = "",
) -> Text:
    if proc is None or snapshot is None:
        if isinstance(group_text, Text):
            return group_text
        return Text(group_text or "Select a process to see its details.", style="dim")
    out = Text()
    out.append(f"PID {proc.pid}", style="bold")
    out.append(f"  {proc.role.value}  ")
    out.append(STATE_MARK[proc.state], style=STATE_STYLE[proc.state])
    out.append(f"  user {proc.username}  age {format_age(proc.age_s)}  status {proc.status}")
    out.append(f"  RSS {format_bytes(proc.rss_bytes)}")
    out.append(f"  session {proc.session_key or '-'}")
    session = _session(snapshot, proc)
    if session is not None and len(session.pids) > 1:
        out.append(f" ({len(session.pids)} processes, RSS {format_bytes(session.rss_bytes)})")
    _label(out, "why")
    out.append(proc.reason or "-")
    if proc.evidence:
        _label(out, "proof")
        out.append(" · ".join(proc.evidence))
    if proc.confidence is not None:
        _label(out, "sure")
        out.append_text(_confidence(proc))
    # ProcessInfo.cmdline is already escaped and redacted by the core; Identity.cmdline
    # is never shown.
    _label(out, "argv")
    out.append(" ".join(proc.cmdline) or f"[{proc.name}]")
    _label(out, "chain")
    out.append(
        " ← ".join(
            f"{pid} {_short_role(snapshot, pid)}" if snapshot.get(pid) else f"{pid} ({label})"
            for pid, label in parent_chain(snapshot, proc.pid)
        )
    )
    dash = snapshot.dashboard(proc.dashboard_pid or proc.pid)
    if proc.role is Role.DASHBOARD and dash is not None:
        _label(out, "board")
        out.append("\n".join(format_dashboard(dash)).replace("\n", "\n" + " " * _LABEL_WIDTH))
    else:
        _label(out, "limit")
        if dash is None:
            out.append("- (no live dashboard above it)", style="dim")
        else:
            hard = "unlimited" if dash.limits.hard is None else str(dash.limits.hard)
            soft = "?" if dash.limits.soft is None else str(dash.limits.soft)
            version = f" (hermes {dash.hermes_version})" if dash.hermes_version else ""
            out.append(f"dashboard {dash.pid}{version}: {soft} soft / {hard} hard")
            out.append(
                f" ({dash.limits.label}), {dash.num_fds if dash.num_fds is not None else '?'}"
            )
            out.append(" open")
            if dash.limits.detail:
                out.append(f" — {dash.limits.detail}", style="dim")
    _label(out, "FDs")
    out.append_text(_fds(proc, breakdown))
    return out


def _session(snapshot: Snapshot, proc: ProcessInfo) -> SessionInfo | None:
    dash = snapshot.dashboard(proc.dashboard_pid) if proc.dashboard_pid else None
    if dash is None:
        return None
    return next((s for s in dash.sessions if proc.pid in s.pids), None)


def _confidence(proc: ProcessInfo) -> Text:
    if proc.confidence is Confidence.HIGH:
        return Text("high: R reaps it")
    out = Text()
    out.append(f"low {LOW_CONFIDENCE_MARK} ", style="bold")
    out.append(
        "R will not reap it: read the proof; T or K signal it, "
        f"`hermes-top reap --pid {proc.pid}` reaps it"
    )
    return out


def group_details(snapshot: Snapshot, state: State, members: Collection[int]) -> Text:
    """A group row: its count and hint, then what core.problems says about its processes."""
    out = Text()
    out.append(STATE_MARK[state], style="bold " + STATE_STYLE[state])
    out.append(f"  {len(members)} process{'es' if len(members) != 1 else ''}: ")
    out.append(GROUP_HINT[state])
    wanted = set(members)
    for problem in problems(snapshot):
        if wanted.intersection(problem.pids):
            out.append(f"\n• {problem.message}")
            if problem.remedy:
                out.append(f"  (CLI: {problem.remedy})", style="dim")
    return out


def _short_role(snapshot: Snapshot, pid: int) -> str:
    proc = snapshot.get(pid)
    return ROLE_SHORT[proc.role] if proc else "?"


def _fds(proc: ProcessInfo, breakdown: FdBreakdown | None) -> Text:
    out = Text()
    if proc.num_fds is None:
        out.append(f"unknown ({proc.num_fds_error or 'not readable'})", style="dim")
        return out
    out.append(str(proc.num_fds))
    if breakdown is None or breakdown.pid != proc.pid:
        out.append("  (breakdown loading…)", style="dim")
        return out
    if breakdown.error:
        out.append(f"  (breakdown unavailable: {breakdown.error})", style="dim")
        return out
    kinds = " · ".join(f"{n} {kind}" for kind, n in sorted(breakdown.counts.items()))
    out.append(f": {kinds}  [{breakdown.source}]")
    if breakdown.top_targets:
        _label(out, "  top")
        out.append(", ".join(f"{path} ×{n}" for path, n in breakdown.top_targets[:4]))
    return out


class DetailsPane(VerticalScroll):
    DEFAULT_CSS = """
    DetailsPane {
        height: 45%; max-height: 14; min-height: 4;
        border-top: solid $primary; padding: 0 1; display: none;
    }
    DetailsPane.-shown { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="details-body", markup=False)

    def show(self, text: Text) -> None:
        self.query_one("#details-body", Static).update(text)
