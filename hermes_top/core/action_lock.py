"""One signalling action at a time, across hermes-top processes and threads.

Two reaps of the same processes at once would both see each target exit after
"their" SIGTERM and both report it terminated. Holding this lock for the whole
action makes outcomes attributable: the second reap starts only after the
first has finished, and finds the targets gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from hermes_top.core.errors import HermesTopError
from hermes_top.core.safe_files import UnsafePath, open_private_dir, why

LOCK_NAME = "actions.lock"
#: How long an action waits for another one to finish before giving up.
LOCK_WAIT_S = 60.0


@contextlib.contextmanager
def action_lock(directory: Path, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold ``directory/actions.lock`` (flock) for the duration of the block.

    ``directory`` is the journal's state dir: opened (and checked to be ours)
    the way the journal opens it, the lock file relative to it, never through a
    link, a regular file only. flock locks belong to the open file, so two
    threads of one process exclude each other too.
    """
    path = directory / LOCK_NAME
    try:
        with open_private_dir(directory) as state:
            fd = state.open_regular(LOCK_NAME, os.O_RDWR | os.O_CREAT)
    except (OSError, UnsafePath) as err:
        raise HermesTopError(
            f"cannot open the action lock {path}: {why(err, path)} (nothing was signalled)"
        ) from err
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise HermesTopError(
                        f"another hermes-top action still runs after {wait_s:g} s "
                        f"(it holds {path}); nothing was signalled"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock
