"""Small text formatters shared by the CLI and the TUI (no colour: words and glyphs)."""

from __future__ import annotations

from hermes_top.core.model import FdLimits, State

#: A glyph and a word for every state, so it reads without colour (NO_COLOR, logs,
#: dumb terminals). The CLI and the TUI show the same marks.
STATE_MARK = {
    State.LIVE: "· live",
    State.STALE: "~ stale",
    State.ORPHAN: "✗ orphan",
    State.ZOMBIE: "z zombie",
}


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
