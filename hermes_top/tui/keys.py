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


KEYS: tuple[Key, ...] = (
    Key("T", "T", "sigterm", "TERM", "send SIGTERM to tagged (or selected) processes", True, True),
    Key("K", "K", "sigkill", "KILL", "send SIGKILL to tagged (or selected) processes", False, True),
    Key("space", "Space", "tag", "Tag", "tag / untag the selected process", True),
    Key("c", "c", "tag_subtree", "Tag tree", "tag the selected process and everything below it"),
    Key(
        "R",
        "R",
        "reap",
        "Reap",
        "reap all orphans (plan first; toggle to include stale)",
        True,
        True,
    ),
    Key(
        "L", "L", "restart", "Restart", "restart the dashboard agent (launchd/systemd)", False, True
    ),
    Key(
        "slash",
        "/",
        "filter",
        "Filter",
        "filter rows by pid, role, state, user, session, command",
        True,
    ),
    Key("t", "t", "toggle_tree", "Tree", "switch between tree and flat list"),
    Key("s", "s", "cycle_sort", "Sort", "cycle the sort column (pid, state, age, FDs, user)"),
    Key("p", "p", "pause", "Pause", "pause / resume refreshing", True),
    Key("plus,equals_sign", "+", "faster", "Faster", "refresh more often"),
    Key("minus", "-", "slower", "Slower", "refresh less often"),
    Key("enter", "Enter", "details", "Details", "show / hide the details pane (folds a group row)"),
    Key("left,right", "← →", "fold", "Fold", "fold / unfold the selected tree node"),
    Key("question_mark,f1", "? F1", "help", "Help", "this help", True),
    Key("q,f10", "q F10", "quit", "Quit", "quit", True),
)


def bindings() -> list[Binding]:
    # enter and left/right live on the table (it owns the cursor); the rest on the app.
    return [
        Binding(k.keys, k.action, k.label, show=k.footer)
        for k in KEYS
        if k.action not in ("details", "fold")
    ]


def markdown_table() -> str:
    """The key table as markdown (for README.md)."""
    lines = ["| key | action |", "| --- | --- |"]
    lines += [f"| `{k.shown}` | {k.help} |" for k in KEYS]
    return "\n".join(lines)
