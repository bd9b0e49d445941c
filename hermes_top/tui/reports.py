"""What the notifications after an action say: counts by outcome, then each
failure with its reason; for a recovery, one notification per dashboard."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from hermes_top.core.model import ENDED_OUTCOMES, ActionReport, ActionResult, Outcome

if TYPE_CHECKING:
    from hermes_top.core.recovery import RecoverOutcome

Severity = Literal["information", "warning", "error"]

#: How many per-process failures a notification lists before "… and N more".
MAX_DETAIL_LINES = 6


def describe_results(what: str, results: Sequence[ActionResult]) -> tuple[str, Severity]:
    """(notification text, severity): counts by outcome, then each failure with its reason."""
    if not results:
        return f"{what}: nothing to do", "information"
    counts = Counter(r.outcome for r in results)
    lines = [f"{what}: " + ", ".join(f"{n} {o.value}" for o, n in counts.most_common())]
    ok = ENDED_OUTCOMES | {Outcome.SIGNALLED, Outcome.PLANNED}
    failures = [r for r in results if r.outcome not in ok]
    for r in failures[:MAX_DETAIL_LINES]:
        lines.append(f"{r.pid} {r.role.value}: {r.outcome.value} — {r.detail}")
    if len(failures) > MAX_DETAIL_LINES:
        lines.append(f"… and {len(failures) - MAX_DETAIL_LINES} more")
    if not failures:
        return "\n".join(lines), "information"
    return "\n".join(lines), "error" if len(failures) == len(results) else "warning"


def journal_note(report: ActionReport) -> str:
    """ "" or the line saying how many journal records were lost, and why."""
    if not report.journal_lost:
        return ""
    return f"{report.journal_lost} journal record(s) could not be written ({report.journal_error})"


def describe_recover(outcome: RecoverOutcome) -> tuple[str, str, Severity]:
    """(title, text, severity) of one dashboard's recovery."""
    title = f"recover {outcome.old_pid}"
    fds = f"FDs {_n(outcome.fds_before)} → {_n(outcome.fds_after)} of {_n(outcome.soft_limit)}"
    if outcome.ok:
        new = (
            f"now PID {outcome.new_pid}"
            if outcome.new_pid not in (None, outcome.old_pid)
            else "same PID"
        )
        lines = [f"dashboard {outcome.old_pid} recovered: {new}; {fds}"]
    else:
        lines = [f"dashboard {outcome.old_pid} not recovered: {outcome.detail}", fds]
    severity: Severity = "information" if outcome.ok else "error"
    for what, report in (("reaped", outcome.reaped), ("left behind, reaped", outcome.leftovers)):
        if report is None:
            continue
        text, sev = describe_results(what, report.results)
        lines.append(text)
        if note := journal_note(report):
            lines.append(note)
            sev = "error"
        if sev != "information" and severity == "information":
            severity = "warning"
    return title, "\n".join(lines), severity


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)
