"""The recover dialog (`L`): what ``plan_recover`` will do to each dashboard.

Per dashboard: why it needs it (the core's remedy and reason), what is reaped,
how it restarts and the exact command (or why it cannot), what the restart
ends, named, and its FDs now against what it should hold after. Cancel has the
focus; it answers with the plan it showed, or None.
"""

from __future__ import annotations

from rich.text import Text

from hermes_top.core.model import Remedy
from hermes_top.core.recovery import RecoverPlan, RecoverStep
from hermes_top.tui.screens.confirm import DialogBase, left_out_lines
from hermes_top.tui.styles import DASHBOARD_MARK, STATE_STYLE
from hermes_top.view.format import STATE_MARK
from hermes_top.view.tree import ROLE_SHORT

_INDENT = "  "
#: Reap targets listed one per line up to this many, then counted.
_MAX_TARGETS = 8


def step_text(step: RecoverStep, width: int) -> Text:
    dash = step.dashboard
    out = Text()
    out.append(f"{DASHBOARD_MARK} dashboard {dash.pid}", style="bold")
    if dash.port:
        out.append(f" :{dash.port}")
    if dash.hermes_version:
        out.append(f" hermes {dash.hermes_version}")
    if dash.remedy is Remedy.NONE:
        out.append(" — needs nothing: this restarts it anyway", style="bold")
    else:
        out.append(f" — needs {dash.remedy.value}", style="bold")
        out.append(f"\n{_INDENT}why  {dash.remedy_reason}")
    out.append(f"\n{_INDENT}reap ", style="bold")
    if not step.reap:
        out.append("nothing")
    else:
        out.append(f"{len(step.reap)} (each with what runs below it)")
        for p in step.reap[:_MAX_TARGETS]:
            out.append(f"\n{_INDENT}  {p.pid:>7} {ROLE_SHORT[p.role]:<7} ")
            out.append(STATE_MARK[p.state], style=STATE_STYLE[p.state])
        if len(step.reap) > _MAX_TARGETS:
            out.append(f"\n{_INDENT}  … and {len(step.reap) - _MAX_TARGETS} more")
    if step.excluded:
        out.append("\n")
        out.append_text(_indented(left_out_lines(step.excluded)))
    out.append(f"\n{_INDENT}restart ", style="bold")
    method = step.restart
    if method is None:
        out.append("not needed (a reap is enough)")
    elif not method.possible:
        out.append(f"not possible here — {method.detail}", style="bold")
    else:
        out.append(f"({method.kind.value}) ")
        # The exact command, secrets already redacted by the core.
        out.append(method.command)
        if method.detail:
            out.append(f" [{method.detail}]", style="dim")
    if step.ends:
        out.append(f"\n{_INDENT}ends ", style="bold")
        out.append(("\n" + _INDENT + "     ").join(step.ends))
    out.append(f"\n{_INDENT}FDs  ", style="bold")
    now = "?" if dash.num_fds is None else str(dash.num_fds)
    expected = "?" if step.expected_fds is None else f"~{step.expected_fds}"
    soft = "?" if not dash.limits.soft else str(dash.limits.soft)
    out.append(f"{now} now → {expected} expected (soft limit {soft})")
    return out


def _indented(text: Text) -> Text:
    lines = text.split("\n")
    return Text("\n").join(Text(_INDENT) + line for line in lines)


def plan_text(plan: RecoverPlan, width: int) -> Text:
    parts = [step_text(step, width) for step in plan.steps]
    if not parts:
        parts = [Text("No dashboard to recover.", style="bold")]
    return Text("\n").join(parts)


class RecoverDialog(DialogBase[RecoverPlan | None]):
    def __init__(self, plan: RecoverPlan, *, grace_s: float) -> None:
        super().__init__("Recover", "Recover")
        self.plan = plan
        self._grace_s = grace_s

    def title_text(self) -> Text:
        n = len(self.plan.steps)
        if not n:
            return Text("Recover: nothing to do", style="bold")
        return Text(f"Recover {n} dashboard{'s' if n != 1 else ''}", style="bold")

    def body_text(self, width: int) -> Text:
        return plan_text(self.plan, width)

    def fixed_text(self) -> Text:
        out = Text()
        for pid, why in self.plan.skipped:
            out.append(("\n" if out else "") + f"skipped {pid} — {why}")
        if self.plan.steps:
            out.append(
                ("\n" if out else "")
                + f"Reaps (TERM, {self._grace_s:g} s, KILL), restarts, waits until it "
                "answers, then reaps what the old one left."
            )
        return out

    def can_confirm(self) -> bool:
        return bool(self.plan.steps)

    def result(self) -> RecoverPlan | None:
        return self.plan
