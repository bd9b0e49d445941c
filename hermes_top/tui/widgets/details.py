"""The details pane: everything known about the selected process (argv redacted)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from hermes_top.core.format import STATE_MARK, format_age
from hermes_top.core.model import FdBreakdown, ProcessInfo, Snapshot
from hermes_top.tui.styles import STATE_STYLE
from hermes_top.tui.tree import ROLE_SHORT, parent_chain


def render_details(
    proc: ProcessInfo | None,
    snapshot: Snapshot | None,
    breakdown: FdBreakdown | None,
    *,
    group_text: str = "",
) -> Text:
    if proc is None or snapshot is None:
        return Text(group_text or "Select a process to see its details.", style="dim")
    out = Text()
    out.append(f"PID {proc.pid}", style="bold")
    out.append(f"  {proc.role.value}  ")
    out.append(STATE_MARK[proc.state], style=STATE_STYLE[proc.state])
    out.append(f"  user {proc.username}  age {format_age(proc.age_s)}  status {proc.status}")
    out.append(f"  session {proc.session_key or '-'}")
    out.append("\nwhy   ", style="bold")
    out.append(proc.reason or "-")
    # ProcessInfo.cmdline is already redacted by the core; Identity.cmdline is never shown.
    out.append("\nargv  ", style="bold")
    out.append(" ".join(proc.cmdline) or f"[{proc.name}]")
    out.append("\nchain ", style="bold")
    out.append(
        " ← ".join(
            f"{pid} {_short_role(snapshot, pid)}" if snapshot.get(pid) else f"{pid} ({label})"
            for pid, label in parent_chain(snapshot, proc.pid)
        )
    )
    dash = snapshot.dashboard(proc.dashboard_pid or proc.pid)
    out.append("\nlimit ", style="bold")
    if dash is None:
        out.append("- (no live dashboard above it)", style="dim")
    else:
        hard = "unlimited" if dash.limits.hard is None else str(dash.limits.hard)
        soft = "?" if dash.limits.soft is None else str(dash.limits.soft)
        out.append(f"dashboard {dash.pid}: {soft} soft / {hard} hard ({dash.limits.label})")
        out.append(f", {dash.num_fds if dash.num_fds is not None else '?'} open")
        if dash.limits.detail:
            out.append(f" — {dash.limits.detail}", style="dim")
    out.append("\nFDs   ", style="bold")
    out.append_text(_fds(proc, breakdown))
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
        out.append("\n      top ", style="bold")
        out.append(", ".join(f"{path} ×{n}" for path, n in breakdown.top_targets[:4]))
    return out


class DetailsPane(VerticalScroll):
    DEFAULT_CSS = """
    DetailsPane { height: 10; border-top: solid $primary; padding: 0 1; display: none; }
    DetailsPane.-shown { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="details-body")

    def show(self, text: Text) -> None:
        self.query_one("#details-body", Static).update(text)
