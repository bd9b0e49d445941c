"""Relaunch a dashboard that was started by hand (a shell, nohup, tmux): the
same argv, working directory, environment and NOFILE limit, as the same user,
detached in a session of its own, its output appended to a log in hermes-top's
state dir. The old one is terminated first by the core (pinned, journaled).

The environment holds secrets: it is never shown or journaled (only how many
variables there are). A small launcher forks so the new dashboard is never
hermes-top's child, sets the limit, reports its PID on a pipe and execs.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from hermes_top.core.escape import escape_control
from hermes_top.core.journal import state_dir
from hermes_top.core.model import DashboardInfo, ProcessInfo
from hermes_top.core.platform import Platform
from hermes_top.core.recovery import RestartKind, RestartMethod, RestartResult
from hermes_top.core.redact import redact_argv
from hermes_top.core.safe_files import open_private_dir

LOG_DIR = "dashboards"
#: -1 stands for "unlimited" / "leave as it is" on the launcher's command line.
_UNSET = -1
_LAUNCHER = """
import os, resource, sys
soft, hard, report = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
argv = sys.argv[5:]
if os.fork():
    os._exit(0)  # the dashboard is nobody's child: it survives hermes-top
os.setsid()
if soft != -1:
    inf = resource.RLIM_INFINITY
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, inf if hard == -1 else hard))
os.write(report, str(os.getpid()).encode())
os.close(report)
os.execvp(argv[0], argv)
"""


def plan(dashboard: ProcessInfo, info: DashboardInfo, platform: Platform) -> RestartMethod:
    argv = list(dashboard.identity.cmdline)
    cwd = platform.cwd(dashboard.pid)
    if not argv or cwd is None:
        return RestartMethod(
            RestartKind.RELAUNCH,
            "",
            f"its command line or working directory is not readable (PID {dashboard.pid})",
            possible=False,
        )
    env = platform.environ(dashboard.pid)
    notes = []
    if env:
        notes.append(f"its environment ({len(env)} variables, not shown)")
    else:
        env = dict(os.environ)
        notes.append("its environment is not readable: hermes-top's own is used")
    limits = platform.nofile_of(dashboard.pid)
    if limits is not None:
        soft, hard = limits
        notes.append(
            f"NOFILE {'unlimited' if soft is None else soft}:"
            f"{'unlimited' if hard is None else hard}"
        )
    else:
        notes.append("NOFILE as hermes-top's (the old limit is not readable here)")
    ids = platform.groups_of(dashboard.pid)
    log = f"{dashboard.pid}.log" if info.port is None else f"port-{info.port}.log"
    shown = shlex.join(escape_control(w) for w in redact_argv(argv))
    return RestartMethod(
        RestartKind.RELAUNCH,
        f"relaunch {shown} in {escape_control(cwd)}",
        f"started by hand (parent PID {dashboard.ppid}); {', '.join(notes)}; output to "
        f"{state_dir() / LOG_DIR / log}",
        data={
            "argv": argv,
            "cwd": cwd,
            "env": dict(env),
            "nofile": limits,
            # Its own interpreter: its user can run it (ours may live under /root).
            "launcher": platform.exe(dashboard.pid) or sys.executable,
            "uid": dashboard.uid,
            "ids": ids,
            "log": log,
        },
        stop_first=True,
    )


def start(dashboard: ProcessInfo, method: RestartMethod) -> RestartResult:
    data = method.data
    nofile = data["nofile"]
    soft = _UNSET if nofile is None or nofile[0] is None else int(nofile[0])
    hard = _UNSET if nofile is None or nofile[1] is None else int(nofile[1])
    try:
        with open_private_dir(state_dir() / LOG_DIR) as logs:
            log_fd = logs.open_append(data["log"])
    except Exception as err:  # UnsafePath, OSError: no log, no relaunch
        return RestartResult(False, f"cannot open the relaunch log: {err}")
    read_end, write_end = os.pipe()
    try:
        user: int | None = None
        group: int | None = None
        groups: list[int] | None = None
        if os.geteuid() == 0 and data["uid"] != 0:
            user = int(data["uid"])  # root relaunches a user's dashboard as that user
            if data["ids"] is not None:
                group, groups = data["ids"]
        launcher = subprocess.Popen(
            [
                data["launcher"],
                "-I",  # the launcher ignores the dashboard's PYTHON* variables
                "-c",
                _LAUNCHER,
                str(soft),
                str(hard),
                str(write_end),
                "--",
                *data["argv"],
            ],
            cwd=data["cwd"],
            env=data["env"],
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            pass_fds=(write_end,),
            user=user,
            group=group,
            extra_groups=groups,
        )
        os.close(write_end)
        write_end = -1
        launcher.wait(timeout=30)
        pid_text = os.read(read_end, 32).decode() or "?"
    except (OSError, subprocess.SubprocessError) as err:
        return RestartResult(False, f"relaunch failed: {err}")
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)
        os.close(log_fd)
    if not pid_text.isdigit():
        return RestartResult(False, "relaunch failed: the launcher reported no PID")
    return RestartResult(True, f"relaunched as PID {pid_text}", int(pid_text))
