"""Simulated ``tui_gateway.slash_worker`` (hermes-top test double).

``python -m tui_gateway.slash_worker --session-key K [--model M]``. Like
installs before the mid-2026 watchdog: it keeps running when its parent dies.
``exit`` on stdin ends it; HERMES_SIM_IGNORE_TERM=1 makes it ignore SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import _hermes_sim as hs


def main() -> int:
    ap = argparse.ArgumentParser(prog="tui_gateway.slash_worker")
    ap.add_argument("--session-key", required=True)
    ap.add_argument("--model")
    args = ap.parse_args()
    if os.environ.get("HERMES_SIM_IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    hs.watch_owner()
    hs.send({"ready": hs.me(), "key": args.session_key})
    ctl = hs.Lines(0)
    while not ctl.eof:
        ctl.fill(None)
        while (line := ctl.next()) is not None:
            if line.strip() == "exit":
                return 0
    while True:  # parent gone: no watchdog, keep running
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
