"""The confirmation dialog every destructive action goes through.

It lists PID, user, role and command of each target, focuses Cancel, and answers
with the targets it showed (the identities captured when it opened) or None.
For a reap it also offers the "include stale" toggle, re-planning on each change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from hermes_top.core.format import STATE_MARK
from hermes_top.core.model import ProcessInfo, ReapPlan
from hermes_top.tui.styles import STATE_STYLE
from hermes_top.tui.tree import ROLE_SHORT, short_command

#: (targets, excluded lines) for a given "include stale" choice.
Planner = Callable[[bool], ReapPlan]


def target_lines(targets: Sequence[ProcessInfo], width: int) -> Text:
    out = Text()
    head = f"{'PID':>7} {'USER':<8} {'ROLE':<7} {'STATE':<8} COMMAND"
    out.append(head[:width], style="bold underline")
    for p in targets:
        out.append("\n")
        out.append(f"{p.pid:>7} {p.username[:8]:<8} {ROLE_SHORT[p.role]:<7} ")
        out.append(f"{STATE_MARK[p.state]:<8}", style=STATE_STYLE[p.state])
        cmd = " " + short_command(p.cmdline)
        room = max(width - 33, 10)
        out.append(cmd if len(cmd) <= room else cmd[: room - 1] + "…")
    if not targets:
        out.append("\n   (nothing to do)", style="dim")
    return out


class ConfirmDialog(ModalScreen[tuple[ProcessInfo, ...] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Yes"),
        Binding("n,escape", "cancel", "No"),
        Binding("s", "toggle_stale", "Include stale", show=False),
    ]

    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog > Vertical {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $error; background: $surface; padding: 0 1;
    }
    ConfirmDialog #title { text-style: bold; }
    ConfirmDialog #targets { height: auto; max-height: 12; }
    ConfirmDialog #excluded { color: $text-muted; }
    ConfirmDialog #stale { margin-top: 1; text-style: bold; }
    ConfirmDialog Horizontal { height: auto; align-horizontal: right; }
    ConfirmDialog Button { margin-left: 2; }
    """

    def __init__(
        self,
        title: str,
        verb: str,
        targets: Sequence[ProcessInfo],
        *,
        note: str = "",
        planner: Planner | None = None,
        allow_empty: bool = False,
    ) -> None:
        super().__init__()
        self._title = title
        self._verb = verb
        self._note = note
        self._planner = planner
        self._allow_empty = allow_empty
        self._include_stale = False
        self.targets: tuple[ProcessInfo, ...] = tuple(targets)
        self.excluded: tuple[tuple[ProcessInfo, str], ...] = ()
        if planner is not None:
            self._replan()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="title")
            with VerticalScroll(id="targets"):
                yield Static(id="target-list")
            yield Static(id="excluded")
            if self._planner is not None:
                yield Static(id="stale")
            if self._note:
                yield Static(self._note, id="note")
            with Horizontal():
                yield Button("Cancel (n)", id="cancel", variant="primary")
                yield Button(f"{self._verb} (y)", id="confirm", variant="error")

    def on_mount(self) -> None:
        self._redraw()
        self.query_one("#cancel", Button).focus()

    def _replan(self) -> None:
        assert self._planner is not None
        plan = self._planner(self._include_stale)
        self.targets = plan.targets
        self.excluded = plan.excluded

    def _redraw(self) -> None:
        n = len(self.targets)
        self.query_one("#title", Static).update(
            f"{self._title}: {n} process{'es' if n != 1 else ''}"
        )
        width = max(self.app.size.width * 9 // 10 - 4, 40)
        self.query_one("#target-list", Static).update(target_lines(self.targets, min(width, 106)))
        excluded = self.query_one("#excluded", Static)
        excluded.display = bool(self.excluded)
        if self.excluded:
            reasons: dict[str, int] = {}
            for _, why in self.excluded:
                reasons[why] = reasons.get(why, 0) + 1
            excluded.update("left out: " + "; ".join(f"{n}× {w}" for w, n in reasons.items()))
        self.query_one("#confirm", Button).disabled = not (n or self._allow_empty)
        if self._planner is not None:
            mark = "[x]" if self._include_stale else "[ ]"
            self.query_one("#stale", Static).update(
                Text(f"{mark} include stale workers (older twins of live ones) — press s")
            )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.action_confirm()
        else:
            self.action_cancel()

    @property
    def include_stale(self) -> bool:
        return self._include_stale

    def action_toggle_stale(self) -> None:
        if self._planner is not None:
            self._include_stale = not self._include_stale
            self._replan()
            self._redraw()

    def action_confirm(self) -> None:
        if self.targets or self._allow_empty:
            self.dismiss(self.targets)

    def action_cancel(self) -> None:
        self.dismiss(None)
