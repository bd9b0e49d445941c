"""The TUI's key map: one table drives the bindings, the footer, the help screen,
the command palette and the README's key table."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    keys: str  # Textual key names, comma separated
    shown: str  # how the help screen writes it
    action: str
    label: str  # footer label
    help: str  # one line for the help screen and the command palette
    footer: bool = False
    destructive: bool = False
    #: Bound on the table (it owns the cursor), not on the app.
    table: bool = False
    #: Not in the command palette (it needs a row or a typed key).
    palette: bool = True


KEYS: tuple[Key, ...] = (
    Key("T", "T", "sigterm", "TERM", "send SIGTERM to tagged (or selected) processes", True, True),
    Key("K", "K", "sigkill", "KILL", "send SIGKILL to tagged (or selected) processes", False, True),
    Key(
        "k,f9",
        "k F9",
        "signal_menu",
        "Signal",
        "signal menu (TERM KILL INT HUP STOP CONT) for tagged or selected",
        True,
        True,
    ),
    Key("space", "Space", "tag", "Tag", "tag / untag the selected process"),
    Key("c", "c", "tag_subtree", "Tag tree", "tag the selected process or group and all below it"),
    Key("u", "u", "untag_all", "Untag", "untag everything"),
    Key(
        "R",
        "R",
        "reap",
        "Reap",
        "reap orphans and sure abandoned (s: stale too)",
        True,
        True,
    ),
    Key(
        "L",
        "L",
        "recover",
        "Recover",
        "recover a dashboard (selected, or all in trouble): reap, restart",
        True,
        True,
    ),
    Key(
        "slash",
        "/",
        "filter",
        "Filter",
        "filter by pid, role, state, user, session, command",
        True,
    ),
    Key("escape", "Esc", "clear_filter", "Clear filter", "clear the filter", True, palette=False),
    Key("t,f5", "t F5", "toggle_tree", "Tree", "problems first + tree, or a flat list"),
    Key("greater_than_sign,s", "> s", "sort_next", "Sort →", "sort by the next column"),
    Key("less_than_sign", "<", "sort_prev", "Sort ←", "sort by the previous column"),
    Key("P", "P", "sort_cpu", "By CPU", "sort by CPU % (when the scan has CPU times)"),
    Key("M", "M", "sort_rss", "By memory", "sort by memory (RSS)"),
    Key("I", "I", "sort_invert", "Invert", "invert the sort order (click a header: sort by it)"),
    Key("p,Z", "p Z", "pause", "Pause", "pause / resume refreshing"),
    Key("plus,equals_sign", "+", "faster", "Faster", "refresh more often"),
    Key("minus", "-", "slower", "Slower", "refresh less often"),
    Key(
        "enter",
        "Enter",
        "details",
        "Details",
        "show / hide the details pane (folds a group row)",
        table=True,
    ),
    Key("left,right", "← →", "fold", "Fold", "fold / unfold the selected row", table=True),
    Key("home,end", "Home End", "first", "First", "first / last row", table=True, palette=False),
    Key("question_mark,f1", "? F1", "help", "Help", "this help", True),
    Key("q,f10", "q F10", "quit", "Quit", "quit", True),
)


def bindings() -> list[Binding]:
    return [Binding(k.keys, k.action, k.label, show=k.footer) for k in KEYS if not k.table]


def markdown_table() -> str:
    """The key table as markdown (for README.md)."""
    lines = ["| key | action |", "| --- | --- |"]
    lines += [f"| `{k.shown}` | {k.help} |" for k in KEYS]
    return "\n".join(lines)
