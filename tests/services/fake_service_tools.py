"""A stateful stand-in for ``launchctl`` and ``systemctl --user``.

Copied into a temp bin dir as both names (it dispatches on its own name). It keeps
the jobs it knows in a JSON state file ($HERMES_TOP_STUB_STATE), appends every argv
to a log ($HERMES_TOP_STUB_LOG), and answers the way the real tools do for the
subcommands hermes-top uses, including their failure messages and exit codes.
"""

from __future__ import annotations

import json
import os
import plistlib
import sys
from typing import Any


def load() -> dict[str, Any]:
    with open(os.environ["HERMES_TOP_STUB_STATE"]) as fh:
        state: dict[str, Any] = json.load(fh)
    return state


def save(state: dict[str, Any]) -> None:
    with open(os.environ["HERMES_TOP_STUB_STATE"], "w") as fh:
        json.dump(state, fh)


def fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


def next_pid(tool: dict[str, Any], old: int | None) -> int:
    pids = tool.setdefault("next_pids", [])
    return int(pids.pop(0)) if pids else (old or 40000) + 1


def plist_label(path: str) -> str:
    with open(path, "rb") as fh:
        return str(plistlib.load(fh)["Label"])


def launchctl(args: list[str], state: dict[str, Any]) -> int:
    tool = state["launchd"]
    services: dict[str, Any] = tool["services"]
    sub = args[0] if args else ""
    if sub in tool.get("fail", {}):
        rule = tool["fail"][sub]
        print(rule.get("stdout", ""), end="")
        return fail(rule["stderr"], rule["rc"])
    if args == ["limit", "maxfiles"]:
        if tool.get("maxfiles") is None:
            return fail("launchctl limit: not available", 1)
        soft, hard = tool["maxfiles"]
        print(f"\tmaxfiles    {soft:<15}{hard:<15}")
        return 0
    if sub == "print" and args[1].count("/") == 1:
        # The domain: its services block lists "PID  status  label" per job.
        print(f"{args[1]} = {{\n\ttype = gui\n\tservices = {{")
        for name, job in services.items():
            print(f"\t\t{job.get('pid') or '-'}\t0\t{name}")
        print("\t}\n}")
        return 0
    if sub == "print":
        label = args[1].split("/", 2)[2]
        job = services.get(label)
        if job is None:
            return fail(f'Could not find service "{label}" in domain for port', 113)
        pid_line = f"\tpid = {job['pid']}\n" if job.get("pid") else ""
        print(
            f"{args[1]} = {{\n"
            "\tactive count = 1\n"
            f"\tpath = {job.get('path', '')}\n"
            "\ttype = LaunchAgent\n"
            f"\tstate = {'running' if job.get('pid') else 'not running'}\n"
            "\n\tprogram = /opt/hermes/bin/hermes\n"
            "\targuments = {\n\t\t/opt/hermes/bin/hermes\n\t\tdashboard\n\t}\n"
            "\tenvironment = {\n\t\tpid = 99999\n\t}\n"
            f"{pid_line}"
            f"\tlast exit code = {job.get('last_exit', '(never exited)')}\n"
            "}"
        )
        return 0
    if sub == "kickstart" and args[1] == "-k":
        label = args[2].split("/", 2)[2]
        job = services.get(label)
        if job is None:
            return fail(f'Could not find service "{label}" in domain for port', 113)
        if job.get("pid"):
            job["last_exit"] = "Terminated: 15"
        job["pid"] = next_pid(tool, job.get("pid"))
        save(state)
        return 0
    if sub == "bootout":
        label = plist_label(args[2])
        if label not in services:
            return fail("Boot-out failed: 3: No such process", 3)
        del services[label]
        save(state)
        return 0
    if sub == "bootstrap":
        label = plist_label(args[2])
        if label in services:
            return fail("Bootstrap failed: 5: Input/output error", 5)
        services[label] = {"pid": next_pid(tool, None), "path": args[2]}
        save(state)
        return 0
    return fail(f"Unrecognized subcommand: {sub}", 64)


SHOW_DEFAULTS = {
    "LoadState": "not-found",
    "ActiveState": "inactive",
    "MainPID": "0",
    "ExecMainStatus": "0",
    "LimitNOFILE": "524288",
    "LimitNOFILESoft": "1024",
    "FragmentPath": "",
}


def systemctl_options(args: list[str]) -> tuple[set[str], dict[str, str], list[str]] | str:
    """Split argv as systemctl's getopt does: options anywhere before "--", words
    after it always positional. Returns (flags, valued options, positionals) or
    the error systemctl would print."""
    flags: set[str] = set()
    values: dict[str, str] = {}
    words: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            words.extend(rest)
            break
        if arg in ("-p", "--property"):
            values["-p"] = next(rest, "")
        elif arg in ("--user", "--no-pager", "--value"):
            flags.add(arg)
        elif arg.startswith("-"):
            return f"systemctl: invalid option -- '{arg.lstrip('-')[:1]}'"
        else:
            words.append(arg)
    return flags, values, words


def systemctl(args: list[str], state: dict[str, Any]) -> int:
    tool = state["systemd"]
    units: dict[str, Any] = tool["units"]
    parsed = systemctl_options(args)
    if isinstance(parsed, str):
        return fail(parsed, 1)
    flags, values, words = parsed
    if "--user" not in flags:
        return fail("test stub: only --user is expected", 1)
    sub = words[0] if words else ""
    if sub in tool.get("fail", {}):
        rule = tool["fail"][sub]
        return fail(rule["stderr"], rule["rc"])
    if sub == "show" and "-p" in values:
        unit = units.get(words[1], {})
        values_shown = {**SHOW_DEFAULTS, **({"LoadState": "loaded"} if unit else {}), **unit}
        for prop in values["-p"].split(","):
            value = values_shown.get(prop, "")
            print(value if "--value" in flags else f"{prop}={value}")
        return 0
    if sub == "restart":
        name = words[1]
        unit = units.get(name)
        if unit is None:
            return fail(f"Failed to restart {name}: Unit {name} not found.", 5)
        old = str(unit.get("MainPID", "0"))
        unit["MainPID"] = str(next_pid(tool, int(old) if old.isdigit() else None))
        unit["ActiveState"] = "active"
        save(state)
        return 0
    if sub == "daemon-reload":
        tool["reloads"] = tool.get("reloads", 0) + 1
        save(state)
        return 0
    return fail(f"Unknown command verb {sub}.", 1)


def main() -> int:
    name = os.path.basename(sys.argv[0])
    with open(os.environ["HERMES_TOP_STUB_LOG"], "a") as fh:
        fh.write(json.dumps([name, *sys.argv[1:]]) + "\n")
    state = load()
    return (launchctl if name == "launchctl" else systemctl)(sys.argv[1:], state)


if __name__ == "__main__":
    sys.exit(main())
