"""Run one scoped reap under a lowered RLIMIT_NOFILE, in a process of its own.

    python -m tests.hostile.reap_driver LIMIT GRACE JOURNAL PID [PID ...]

Prints {"results": {pid: outcome}, "detail": {pid: detail}, "elapsed_s": s}
or {"error": msg}. Only the PIDs given are in scope, so nothing else is touched.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from hermes_top.core.engine import Core
from hermes_top.core.errors import HermesTopError
from hermes_top.core.journal import Journal


def main(argv: list[str]) -> int:
    limit, grace, journal = int(argv[0]), float(argv[1]), Path(argv[2])
    pids = {int(p) for p in argv[3:]}
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    core = Core(scope=lambda p: p.pid in pids, journal=Journal(journal))
    try:
        snapshot = core.scan()
        targets = [p for p in core.plan_reap(snapshot).targets if p.pid in pids]
        report = core.reap(targets, grace_s=grace)
    except HermesTopError as err:
        print(json.dumps({"error": str(err)}))
        return 1
    finally:
        core.close()
    print(
        json.dumps(
            {
                "planned": len(targets),
                "results": {r.pid: r.outcome.value for r in report.results},
                "detail": {r.pid: r.detail for r in report.results},
                "elapsed_s": report.elapsed_s,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
