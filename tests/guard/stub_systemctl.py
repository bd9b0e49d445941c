"""A stand-in for ``systemctl --user`` with the verbs `guard install|uninstall|status`
use (daemon-reload, enable, disable --now, restart, show). State in
$HERMES_TOP_STUB_STATE (JSON), every argv appended to $HERMES_TOP_STUB_LOG."""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    args = sys.argv[1:]
    with open(os.environ["HERMES_TOP_STUB_LOG"], "a") as fh:
        fh.write(json.dumps(["systemctl", *args]) + "\n")
    path = os.environ["HERMES_TOP_STUB_STATE"]
    with open(path) as fh:
        state = json.load(fh)
    units = state.setdefault("units", {})
    if args[:1] != ["--user"]:
        print("stub: only --user is expected", file=sys.stderr)
        return 1
    words = [a for a in args[1:] if a != "--"]
    verb = words[0] if words else ""
    if verb == "daemon-reload":
        state["reloads"] = state.get("reloads", 0) + 1
    elif verb == "enable":
        units.setdefault(words[1], {})["enabled"] = True
    elif verb == "restart":
        unit = units.setdefault(words[1], {})
        unit["active"] = True
        unit["pid"] = unit.get("pid", 41000) + 1
    elif verb == "disable" and words[1] == "--now":
        units.pop(words[2], None)
    elif verb == "show":
        unit = units.get(words[-1])
        props = {
            "LoadState": "loaded" if unit else "not-found",
            "ActiveState": "active" if unit and unit.get("active") else "inactive",
            "MainPID": str(unit.get("pid", 0)) if unit else "0",
        }
        for key, value in props.items():
            print(f"{key}={value}")
    else:
        print(f"Unknown command verb {verb}.", file=sys.stderr)
        return 1
    with open(path, "w") as fh:
        json.dump(state, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
