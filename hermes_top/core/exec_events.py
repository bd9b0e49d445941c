"""Which processes exec'd, from the kernel's process events connector (Linux).

An incremental scan must notice an old process that exec'd into a Hermes
shape; without events it reads every process's name again once per
FULL_PASS_S (core/scan.py). The connector (``NETLINK_CONNECTOR``,
``CN_IDX_PROC``: root only) reports each exec and rename as it happens, so the
scan reads just those and the rolling pass becomes a slow backstop.

Trust, in order: the connector may be missing or refused (not root, another
network namespace) -- then there are no events; its PIDs are the initial PID
namespace's -- so we must be in it (its inode is fixed), and a self-test at
open (a child of ours must be reported under the PID we know) checks the
rest; events can be dropped when the socket's queue fills (a fork storm) --
the kernel then fails the next receive with ENOBUFS, and ``drain`` answers
None: "not sure", so the scan falls back to the full-rate rolling pass until a
whole cycle has read every process again. Events can also stop without a word
(before Linux 6.6 another root program's "ignore" can switch them off for
all): every HEARTBEAT_S a drain runs the self-test's child again, and when its
exec is not reported the events are closed for good (the rolling pass again).
A single event the kernel fails to allocate is lost silently: the slow
rolling pass (core/scan.BACKSTOP_PASS_S) is there for that.

A classic BPF filter keeps fork and exit events (most of them) in the kernel.
"""

from __future__ import annotations

import array
import errno
import os
import select
import socket
import struct
import time

_NETLINK_CONNECTOR = 11
_CN_IDX_PROC = 1
_CN_VAL_PROC = 1
_MCAST_LISTEN, _MCAST_IGNORE = 1, 2
_NLMSG_DONE = 3
_SO_ATTACH_FILTER = 26
#: proc_event.what values that change what a process's name or argv can be.
_EXEC = 0x00000002
_COMM = 0x00000200
#: nlmsghdr (16) + cn_msg (20): where struct proc_event starts.
_EVENT_AT = 36
#: what, cpu, timestamp_ns, then the event's pid and tgid.
_EVENT = struct.Struct("=IIQii")
#: Queue for events between ticks: past it they are dropped (and we fall back).
RCVBUF = 256 * 1024
#: How long open() waits for its own child's exec to be reported.
SELF_TEST_S = 1.0
#: A program every Linux has; the self-test and the heartbeat run it.
_TRUE = ("/bin/true", "/usr/bin/true")
#: How often a drain checks that events still flow (one /bin/true, ~1 ms).
HEARTBEAT_S = 5.0
#: /proc/self/ns/pid of the initial PID namespace (PROC_PID_INIT_INO): the
#: connector names processes by their PIDs there.
_INIT_PID_NS = 0xEFFFFFFC
#: Set in a process that must not listen (a forked first scan: see refuse_here).
_refused = False


def refuse_here() -> None:
    """This process never opens events (a short-lived forked child: its socket
    and self-test would be thrown away with it)."""
    global _refused
    _refused = True


class EventsStopped(OSError):
    """The heartbeat's exec was not reported: events no longer flow (an OSError:
    the socket stopped delivering, as a broken one would)."""


def _bpf_keep_execs() -> bytes:
    """struct sock_filter[]: accept proc_event.what EXEC or COMM, drop the rest.
    BPF word loads are big-endian; ``what`` is in host order."""
    native = struct.Struct("=I")

    def loaded(value: int) -> int:
        return int.from_bytes(native.pack(value), "big")

    ld_abs_w, jeq_k, ret_k = 0x20, 0x15, 0x06
    insns = [
        (ld_abs_w, 0, 0, _EVENT_AT),
        (jeq_k, 2, 0, loaded(_EXEC)),
        (jeq_k, 1, 0, loaded(_COMM)),
        (ret_k, 0, 0, 0),
        (ret_k, 0, 0, 0xFFFFFFFF),
    ]
    return b"".join(struct.pack("=HBBI", *insn) for insn in insns)


def _message(op: int) -> bytes:
    body = struct.pack("=I", op)
    cn = struct.pack("=IIIIHH", _CN_IDX_PROC, _CN_VAL_PROC, 0, 0, len(body), 0) + body
    return struct.pack("=IHHII", 16 + len(cn), _NLMSG_DONE, 0, 0, 0) + cn


class ExecEvents:
    """A listening connector socket; ``drain`` says who exec'd since last time."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._filter = array.array("B", _bpf_keep_execs())  # kept alive while attached
        #: Messages received so far (each is one receive call: what a tick pays).
        self.received = 0
        self._poll = select.poll()  # not select(): our FD can be past 1024
        self._poll.register(sock, select.POLLIN)
        self._beat_at = time.monotonic()

    @classmethod
    def open(cls) -> ExecEvents | None:
        """Listening and self-tested, or None where events cannot be trusted."""
        if _refused or not _in_initial_pid_namespace():
            return None
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_CONNECTOR)
        except (OSError, AttributeError):
            return None  # no connector (another OS, a kernel without it)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.bind((0, _CN_IDX_PROC))
            events = cls(sock)
            events._attach_filter()
            sock.send(_message(_MCAST_LISTEN))
            if events._self_test():
                return events
            events._ignore()
        except Exception:  # EPERM (not root), EPROTONOSUPPORT, no /bin/true ...
            pass  # no events: the rolling pass finds execs, as without them
        sock.close()
        return None

    def _attach_filter(self) -> None:
        address, _ = self._filter.buffer_info()
        count = len(self._filter) // 8
        # struct sock_fprog { unsigned short len; struct sock_filter *filter; }
        prog = struct.pack("HL", count, address)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, prog)
        except OSError:
            pass  # unfiltered: every fork and exit is received, and ignored

    def _self_test(self) -> bool:
        """Our own child's exec is reported under the PID fork gave us: the
        events speak of the PIDs /proc shows (the same PID namespace)."""
        child = _run_true()
        if child is None:
            return False
        deadline = time.monotonic() + SELF_TEST_S
        while (left := deadline - time.monotonic()) > 0:
            self._poll.poll(left * 1000)
            got = self._receive()
            if got is None:
                return False
            if child in got:
                return True
        return False

    def drain(self) -> set[int] | None:
        """PIDs (thread group leaders) that exec'd or renamed themselves since
        the last drain; None when some events were lost (see the module).
        Raises EventsStopped when the heartbeat's exec was not reported."""
        beat = None
        if time.monotonic() - self._beat_at >= HEARTBEAT_S:
            self._beat_at = time.monotonic()
            beat = _run_true()  # its exec is queued before it can be waited for
        got = self._receive()
        if beat is not None and got is not None and beat not in got:
            raise EventsStopped(f"the exec of our own child {beat} was not reported")
        return got

    def _receive(self) -> set[int] | None:
        out: set[int] = set()
        while True:
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                return out
            except OSError as err:
                if err.errno == errno.ENOBUFS:
                    self._discard()
                    return None
                raise
            self.received += 1
            if len(data) < _EVENT_AT + _EVENT.size:
                continue  # the ack of LISTEN, or a message we do not know
            what, _cpu, _ts, pid, tgid = _EVENT.unpack_from(data, _EVENT_AT)
            # A thread renaming itself leaves the process's comm alone.
            if what == _EXEC or (what == _COMM and pid == tgid):
                out.add(tgid)

    def _discard(self) -> None:
        """Empty the queue after a loss: what is left is part of a gap anyway."""
        while True:
            try:
                self._sock.recv(65536)
            except (BlockingIOError, OSError):
                return

    def _ignore(self) -> None:
        try:
            self._sock.send(_message(_MCAST_IGNORE))
        except OSError:
            pass

    def close(self) -> None:
        self._ignore()
        self._sock.close()


def _in_initial_pid_namespace() -> bool:
    try:
        return os.stat("/proc/self/ns/pid").st_ino == _INIT_PID_NS
    except OSError:
        return False


def _run_true() -> int | None:
    """Run /bin/true and wait for it; its PID (None if it cannot be run)."""
    program = next((p for p in _TRUE if os.access(p, os.X_OK)), None)
    if program is None:
        return None
    try:
        child = os.posix_spawn(program, [program], {})
    except OSError:
        return None
    os.waitpid(child, 0)
    return child
