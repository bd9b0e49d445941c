"""The two records classification works on: a process the rules matched
(``Candidate``) and what was decided about it (``Verdict``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hermes_top.core.model import Confidence, Role, State
from hermes_top.core.procfs import RawProc
from hermes_top.core.rules import Match


@dataclass(frozen=True)
class Candidate:
    """A process the rules matched (or a zombie child of one)."""

    raw: RawProc
    argv: tuple[str, ...]
    match: Match
    #: argv with secrets redacted (computed once per process, cached by the scan).
    shown: tuple[str, ...] = ()
    #: ``match.role``, kept as a field: classification reads it thousands of times a tick.
    role: Role = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", self.match.role)


@dataclass(frozen=True)
class Verdict:
    state: State
    reason: str
    host_pid: int | None
    dashboard_pid: int | None
    session_key: str | None
    evidence: tuple[str, ...] = ()
    confidence: Confidence | None = None
