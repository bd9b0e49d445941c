"""Row 2: ``hermes-top list --json`` as a whole process vs ``ps -eo pid,ppid,args``.

Both are timed from spawn to exit (interpreter start, imports, scan, output to
/dev/null), interleaved, same load. ``hermes-top`` is the venv's console script
(``sys.executable -m hermes_top`` if it is missing).

Run alone: ``.venv/bin/python benchmarks/bench_list.py [--quick]``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Row, median
from _load import run_standalone


def hermes_top_argv() -> list[str]:
    script = Path(sys.executable).parent / "hermes-top"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "hermes_top"]


def _time_process(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()[-300:]
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {err}")
    return elapsed


def run(repeats: int) -> list[Row]:
    ps = shutil.which("ps")
    hermes = [*hermes_top_argv(), "list", "--json"]
    with tempfile.TemporaryDirectory(prefix="hermes-bench-state-") as state:
        env = dict(os.environ, HERMES_TOP_STATE_DIR=state)
        # One untimed run of each: page cache, and a check that the JSON is whole.
        listed = subprocess.run(hermes, capture_output=True, env=env, check=True)
        doc = json.loads(listed.stdout)
        if ps is None:
            row = Row("2. `hermes-top list --json` process", None, None, "ms", "<= 1.2x", None)
            row.baseline_text = "n/a (no `ps`)"
            return [row]
        ps_argv = [ps, "-eo", "pid,ppid,args"]
        _time_process(ps_argv, env)
        # Where our time goes, measured in the same loop: the interpreter alone,
        # and the interpreter with what `list` imports before it scans.
        bare = [sys.executable, "-c", "pass"]
        imports = [sys.executable, "-c", "import hermes_top.cli, hermes_top.commands.procs"]
        ours: list[float] = []
        base: list[float] = []
        start: list[float] = []
        imported: list[float] = []
        for _ in range(repeats):
            base.append(_time_process(ps_argv, env))
            ours.append(_time_process(hermes, env))
            start.append(_time_process(bare, env))
            imported.append(_time_process(imports, env))
    m, b = median(ours) * 1000, median(base) * 1000
    row = Row("2. `hermes-top list --json` process", m, b, "ms", "<= 1.2x", m <= 1.2 * b, repeats)
    row.baseline_n = repeats
    row.notes.append(
        f"`{' '.join(hermes)}` listed {len(doc['processes'])} Hermes processes "
        f"({len(doc['dashboards'])} dashboards) in {len(listed.stdout) // 1024} KiB of JSON; "
        "both outputs to /dev/null"
    )
    row.notes.append(
        f"same loop: the interpreter alone (`python -c pass`) {median(start) * 1000:.1f} ms, "
        f"with `list`'s imports {median(imported) * 1000:.1f} ms; the rest is the scan "
        "(every process's stat line, the Hermes ones in full, four dashboards asked) and the JSON"
    )
    return [row]


def main() -> None:
    run_standalone(
        __doc__,
        lambda args: run(args.repeats or (3 if args.quick else 9)),
        lambda parser: parser.add_argument("--repeats", type=int, default=None),
    )


if __name__ == "__main__":
    main()
