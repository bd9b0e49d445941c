"""Simulated ``tui_gateway.entry`` (hermes-top test double, stdlib only).

``python -m tui_gateway.entry``: on the spawn path, the child of the node tui.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import _hermes_sim as hs


def main() -> int:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # leaked entries outlive their tty
    hs.watch_owner()
    py, cwd = os.environ["HERMES_PYTHON"], os.environ.get("HERMES_CWD")
    key = os.environ["HERMES_SIM_SESSION_KEY"]
    wake = hs.wake_on_sigchld()
    ignore_term = os.environ.get("HERMES_SIM_WORKER_IGNORE_TERM") == "1"
    try:
        w, info = hs.spawn_worker(py, key, ignore_term=ignore_term, cwd=cwd)
    except Exception as err:
        hs.send({"ok": False, "error": f"{type(err).__name__}: {err}"})
        return 1
    workers = [w]
    hs.send({"ready": {"entry": hs.me(), "worker": info}})
    ctl = hs.Lines(0)
    while True:
        # After the tui dies stdin is at EOF; old installs keep running anyway.
        ready = hs.wait_readable([wake] if ctl.eof else [0, wake], None)
        if wake in ready:
            hs.drain(wake)
            for done in [w for w in workers if w.poll() is not None]:
                hs.close_pipes(done)
                workers.remove(done)
        if 0 not in ready:
            continue
        ctl.fill(0)
        while (line := ctl.next()) is not None:
            req = json.loads(line)
            try:
                if req["op"] == "close":
                    for w in workers:
                        hs.stop_child(w)
                    hs.send({"ok": True})
                    return 0
                if req["op"] == "restart_worker":
                    old = workers[-1] if workers else None
                    ignore = bool(req.get("ignore_term"))
                    w, info = hs.spawn_worker(py, key, ignore_term=ignore, cwd=cwd)
                    workers.append(w)
                    closed = None
                    if req.get("close_old") and old is not None:
                        workers.remove(old)
                        hs.stop_child(old)
                        closed = old.pid
                    hs.send({"ok": True, "worker": info, "closed": closed})
                else:
                    raise ValueError(f"unknown op {req['op']!r}")
            except Exception as err:
                hs.send({"ok": False, "error": f"{type(err).__name__}: {err}"})


if __name__ == "__main__":
    sys.exit(main())
