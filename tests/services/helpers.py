"""Test helpers for the service tests: an isolated home and the stub tools' state."""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass
from typing import Any

from hermes_top.service.config import ServiceSettings, load_settings

FAKE = pathlib.Path(__file__).with_name("fake_service_tools.py")


@dataclass
class Home:
    root: pathlib.Path
    launch_agents: pathlib.Path
    systemd_user: pathlib.Path
    tmp: pathlib.Path

    def settings(self, manager: str = "launchd") -> ServiceSettings:
        return load_settings().with_overrides(manager=manager)


class Tools:
    """The stub tools' state and call log."""

    def __init__(self, bin_dir: pathlib.Path, state: pathlib.Path, log: pathlib.Path) -> None:
        self.bin_dir = bin_dir
        self.state_file = state
        self.log = log

    @property
    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.state_file.read_text())
        return data

    def update(self, tool: str, **values: Any) -> None:
        state = self.state
        state[tool].update(values)
        self.state_file.write_text(json.dumps(state))

    def add_agent(
        self, label: str, pid: int | None, path: pathlib.Path | str = "", **extra: Any
    ) -> None:
        state = self.state
        state["launchd"]["services"][label] = {"pid": pid, "path": str(path), **extra}
        self.state_file.write_text(json.dumps(state))

    def add_unit(self, unit: str, **props: str) -> None:
        state = self.state
        state["systemd"]["units"][unit] = props
        self.state_file.write_text(json.dumps(state))

    def fail(self, tool: str, sub: str, rc: int, stderr: str) -> None:
        state = self.state
        state[tool].setdefault("fail", {})[sub] = {"rc": rc, "stderr": stderr}
        self.state_file.write_text(json.dumps(state))

    def calls(self, name: str | None = None) -> list[list[str]]:
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [r for r in rows if name is None or r[0] == name]

    def remove(self, name: str) -> None:
        (self.bin_dir / name).unlink()
