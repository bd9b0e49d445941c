"""The one way hermes-top opens the files it creates, appends to, replaces or reads
on someone's behalf: the signal journal, plists, systemd drop-ins, their backups,
the config file.

hermes-top often runs as root in other people's directories, so a planted link,
FIFO or device must not redirect, hang or flood it:

- Directories are opened one component at a time, each by fd relative to the
  one before (``openat`` style), and everything after happens relative to the
  opened directory: renaming or swapping a path afterwards changes nothing.
- A symbolic link owned by someone other than root or us is followed only to
  something its owner owns: a user's link may lead us into their own files,
  never into root's or ours (Linux's ``protected_symlinks`` rule, everywhere).
- New files are created with O_EXCL|O_NOFOLLOW; appends use O_NOFOLLOW. A file
  must be a regular one: it is looked at before opening (a device is never
  opened), opened O_NONBLOCK (a FIFO cannot hang us), checked again with fstat,
  then O_NONBLOCK is cleared. Reads are bounded.
- A rewrite or a backup keeps the owner, group and mode of the file it copies;
  what we create in someone's directory belongs to that directory's owner.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from collections.abc import Callable

from hermes_top.core.errors import HermesTopError

#: Config files, plists and unit files are a few KB; anything this big is not one.
MAX_READ_BYTES = 1 << 20
#: As the kernel's own limit on links followed in one lookup.
MAX_SYMLINKS = 40

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

Owner = tuple[int, int]
DirCheck = Callable[[str, os.stat_result], None]


class UnsafePath(HermesTopError):
    """A path we refuse to use. ``str()`` is "<path> <problem>" and says what to fix."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path} {problem}")
        self.path = path
        self.problem = problem


def why(err: OSError | UnsafePath, path: object) -> str:
    """The reason part of a "cannot <do> <path>: <reason>" message."""
    if isinstance(err, UnsafePath):
        return f"it {err.problem}" if err.path == str(path) else str(err)
    return err.strerror or str(err)


def kind_of(mode: int) -> str:
    """What a non-regular file is, for messages."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def writable_by_others(st: os.stat_result) -> bool:
    """Whether a user other than the owner (and root) may write to it.

    A group-writable entry is tolerated when the group is our own effective
    group: with user-private groups (umask 002) every directory is group-writable.
    """
    if st.st_mode & stat.S_IWOTH:
        return True
    return bool(st.st_mode & stat.S_IWGRP) and st.st_gid != os.getegid()


def _not_regular(path: str, mode: int) -> UnsafePath:
    return UnsafePath(path, f"is {kind_of(mode)}, not a regular file: remove or replace it")


def _absolute(path: object) -> str:
    text = os.fspath(path)  # type: ignore[call-overload]
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if "\0" in text:
        raise UnsafePath(text.replace("\0", "\\0"), "contains a NUL byte")
    # Joined, not normalised: ".." must mean the physical parent, as the kernel has it.
    return text if os.path.isabs(text) else os.path.join(os.getcwd(), text)


class PartialWrite(OSError):
    """A write that failed after ``written`` bytes had gone out."""

    def __init__(self, code: int | None, message: str | None, written: int) -> None:
        super().__init__(code, message)
        self.written = written


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (os.write may write fewer); PartialWrite says how many did."""
    view = memoryview(data)
    written = 0
    while written < len(view):
        try:
            n = os.write(fd, view[written:])
        except OSError as err:
            raise PartialWrite(err.errno, err.strerror, written) from err
        if n <= 0:
            raise PartialWrite(errno.EIO, "short write", written)
        written += n


class Dir:
    """A directory held open by fd: every name is looked up in it, never re-resolved."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        #: How the directory was named, for messages only.
        self.path = path

    def __enter__(self) -> Dir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def show(self, name: str) -> str:
        return os.path.join(self.path, name)

    def stat(self) -> os.stat_result:
        return os.fstat(self.fd)

    def lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def open_regular(self, name: str, flags: int, mode: int = 0o600) -> int:
        """Open ``name`` without following a link; it must be a regular file."""
        shown = self.show(name)
        st = self.lstat(name)
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise UnsafePath(shown, "is a symbolic link: remove it")
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise _not_regular(shown, st.st_mode)  # a device is never opened
        try:
            fd = os.open(name, flags | _FILE_FLAGS, mode, dir_fd=self.fd)
        except OSError as err:
            # Swapped after the look: ELOOP (EMLINK on BSDs) for a link, ENXIO for a FIFO.
            if err.errno in (errno.ELOOP, errno.EMLINK, errno.ENXIO):
                now = self.lstat(name)
                if now is not None and not stat.S_ISREG(now.st_mode):
                    raise _not_regular(shown, now.st_mode) from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _not_regular(shown, st.st_mode)
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def open_append(self, name: str, mode: int = 0o600) -> int:
        """Open (creating it ``mode`` if missing) for appending. Read access too, so a
        writer can look at the last byte."""
        return self.open_regular(name, os.O_RDWR | os.O_APPEND | os.O_CREAT, mode)

    def read(self, name: str, limit: int = MAX_READ_BYTES) -> tuple[bytes, os.stat_result]:
        """The whole regular file ``name`` (at most ``limit`` bytes) and its stat."""
        fd = self.open_regular(name, os.O_RDONLY)
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fd)
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise UnsafePath(
                self.show(name), f"is larger than {limit} bytes: not a file hermes-top reads"
            )
        return data, st

    def create(self, name: str, data: bytes, *, mode: int, owner: Owner | None) -> None:
        """Write the new file ``name`` (never an existing file or link: O_EXCL) and
        fsync it; then give it ``owner`` and ``mode``. Removed again on failure."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=self.fd)
        try:
            write_all(fd, data)
            _give(fd, self.show(name), mode, owner)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=self.fd)
            raise
        os.close(fd)

    def replace(
        self,
        name: str,
        data: bytes,
        *,
        like: os.stat_result | None,
        mode: int = 0o644,
        owner: Owner | None = None,
    ) -> None:
        """Atomically replace ``name`` with ``data`` (temp file + rename here).

        ``like`` is the file being replaced, as read: the new one keeps its owner,
        group and mode, and it must still be the file at ``name`` at the rename.
        ``like=None`` creates ``name``, which must not appear meanwhile.
        """
        if like is not None:
            mode, owner = stat.S_IMODE(like.st_mode), (like.st_uid, like.st_gid)
        tmp = self._create_temp(name, data, mode, owner)
        try:
            now = self.lstat(name)
            if like is None and now is not None:
                raise UnsafePath(self.show(name), "appeared while hermes-top wrote it: run again")
            if like is not None and (
                now is None or (now.st_dev, now.st_ino) != (like.st_dev, like.st_ino)
            ):
                raise UnsafePath(self.show(name), "changed while hermes-top edited it: run again")
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self.fd)
            raise
        self.sync()

    def _create_temp(self, name: str, data: bytes, mode: int, owner: Owner | None) -> str:
        for _ in range(100):
            tmp = f".{name}.{secrets.token_hex(4)}.tmp"
            try:
                self.create(tmp, data, mode=mode, owner=owner)
            except FileExistsError:
                continue
            return tmp
        raise FileExistsError(errno.EEXIST, "no free temporary name", self.show(name))

    def unlink(self, name: str) -> None:
        os.unlink(name, dir_fd=self.fd)

    def sync(self) -> None:
        # Makes a rename durable; not every filesystem allows fsync on a directory.
        with contextlib.suppress(OSError):
            os.fsync(self.fd)


def _give(fd: int, shown: str, mode: int, owner: Owner | None) -> None:
    """chown then chmod (chown clears set-id bits). The owner is kept or we refuse;
    a group we may not give (not root, not a member) drops the group's permissions,
    so nobody gains access."""
    st = os.fstat(fd)
    if owner is not None and owner != (st.st_uid, st.st_gid):
        uid, gid = owner
        if uid != st.st_uid:
            try:
                os.fchown(fd, uid, gid)
            except PermissionError:
                raise UnsafePath(
                    shown, f"belongs to uid {uid}: only that user or root can rewrite it"
                ) from None
        else:
            try:
                os.fchown(fd, -1, gid)
            except PermissionError:
                mode &= ~0o070
    os.fchmod(fd, mode & 0o7777)


class _Walker:
    """Opens directories one component at a time (see the module docstring)."""

    def __init__(
        self,
        check: DirCheck | None = None,
        create_mode: int | None = None,
        *,
        parent_owns_created: bool = False,
        links: int = 0,
    ) -> None:
        self.check = check
        #: Missing components are created with this mode (None: not created).
        self.create_mode = create_mode
        #: Created directories go to the owner of the directory they are made in
        #: (someone's home), else they are ours.
        self.parent_owns_created = parent_owns_created
        self.links = links
        self.euid = os.geteuid()

    def open_dir(self, path: str, base: int | None = None, shown: str = "") -> int:
        """Open directory ``path``: absolute, or relative to the directory ``base``."""
        from_root = path.startswith("/") or base is None
        if from_root or base is None:
            fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            fd = os.dup(base)
        try:
            if from_root:
                shown = "/"
                self._check(shown, fd)
            for comp in path.split("/"):
                if comp in ("", "."):
                    continue
                shown = os.path.join(shown, comp)
                nfd = self._enter(fd, comp, shown)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _check(self, shown: str, fd: int) -> None:
        if self.check is not None:
            self.check(shown, os.fstat(fd))

    def _enter(self, fd: int, comp: str, shown: str) -> int:
        created = False
        if comp == "..":
            nfd = os.open("..", _DIR_FLAGS, dir_fd=fd)  # the physical parent; never a link
        else:
            try:
                st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                if self.create_mode is None:
                    raise FileNotFoundError(
                        errno.ENOENT, os.strerror(errno.ENOENT), shown
                    ) from None
                with contextlib.suppress(FileExistsError):  # made meanwhile: checked below
                    os.mkdir(comp, self.create_mode, dir_fd=fd)
                    created = True
                st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                nfd = self._follow(fd, comp, st, shown)
            elif stat.S_ISDIR(st.st_mode):
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            else:
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), shown)
        try:
            if created and self.parent_owns_created:
                parent = os.fstat(fd)
                _give(nfd, shown, self.create_mode or 0o700, (parent.st_uid, parent.st_gid))
            self._check(shown, nfd)
        except BaseException:
            os.close(nfd)
            raise
        return nfd

    def count_link(self, shown: str) -> None:
        self.links += 1
        if self.links > MAX_SYMLINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), shown)

    def _follow(self, fd: int, comp: str, link: os.stat_result, shown: str) -> int:
        self.count_link(shown)
        target = os.readlink(comp, dir_fd=fd)
        target_shown = os.path.join(os.path.dirname(shown), target)
        # Nothing is created through a link.
        inner = _Walker(self.check, links=self.links)
        nfd = inner.open_dir(target, base=fd, shown=os.path.dirname(shown))
        self.links = inner.links
        try:
            self.trust_link(shown, link.st_uid, os.fstat(nfd).st_uid, target_shown)
        except BaseException:
            os.close(nfd)
            raise
        return nfd

    def trust_link(self, shown: str, link_uid: int, target_uid: int, target: str) -> None:
        if link_uid in (0, self.euid) or target_uid == link_uid:
            return
        raise UnsafePath(
            shown,
            f"is a symbolic link owned by uid {link_uid} to {target}, which uid {target_uid} "
            "owns: hermes-top does not follow it (replace the link with the file itself)",
        )


def open_dir(path: object, *, create_mode: int | None = None) -> Dir:
    """Open a directory; with ``create_mode``, missing components are created
    (owned by the owner of the directory each goes in)."""
    text = _absolute(path)
    walker = _Walker(create_mode=create_mode, parent_owns_created=True)
    return Dir(walker.open_dir(text), text)


def _trusted_ancestor(shown: str, st: os.stat_result) -> None:
    euid = os.geteuid()
    if st.st_uid not in (0, euid):
        raise UnsafePath(
            shown,
            f"is owned by uid {st.st_uid}, not by you (uid {euid}) or root",
        )
    # In a sticky directory (/tmp) others cannot rename or remove our entries.
    if not st.st_mode & stat.S_ISVTX and writable_by_others(st):
        raise UnsafePath(
            shown,
            f"is writable by other users (mode {stat.S_IMODE(st.st_mode):04o}): "
            f"run `chmod go-w {shown}`",
        )


def open_private_dir(path: object) -> Dir:
    """Our own state directory: created 0700 if missing; every directory above it
    must be root's or ours and not writable by others; it must be ours and not
    group- or world-writable. UnsafePath (saying what to fix) otherwise."""
    text = _absolute(path)
    d = Dir(_Walker(_trusted_ancestor, create_mode=0o700).open_dir(text), text)
    try:
        st = d.stat()
        euid = os.geteuid()
        if st.st_uid != euid:
            raise UnsafePath(text, f"is owned by uid {st.st_uid}, not by you (uid {euid})")
        if st.st_mode & 0o022:
            raise UnsafePath(
                text,
                f"is group- or world-writable (mode {stat.S_IMODE(st.st_mode):04o}): "
                f"run `chmod 700 {text}`",
            )
    except BaseException:
        d.close()
        raise
    return d


def locate(path: object, *, follow: bool = True) -> tuple[Dir, str]:
    """The open directory holding ``path``, and the name in it.

    With ``follow``, a final symbolic link is followed (by the same rule as a
    directory link) to the file it names, so an edit replaces the real file
    and leaves the link in place.
    """
    text = _absolute(path)
    head, name = os.path.split(text)
    if name in ("", ".", ".."):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), text)
    walker = _Walker()
    d = Dir(walker.open_dir(head), head)
    links: list[tuple[str, int]] = []
    try:
        while follow:
            st = d.lstat(name)
            if st is None or not stat.S_ISLNK(st.st_mode):
                break
            shown = d.show(name)
            walker.count_link(shown)
            target = os.readlink(name, dir_fd=d.fd)
            thead, tname = os.path.split(target)
            if tname in ("", ".", ".."):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), shown)
            nfd = walker.open_dir(thead, base=d.fd, shown=d.path)
            links.append((shown, st.st_uid))
            d.close()
            d = Dir(nfd, os.path.join(d.path, thead) if thead else d.path)
            name = tname
        if links:
            final = d.lstat(name)
            owner = (final or d.stat()).st_uid  # dangling: who owns where it points
            for shown, link_uid in links:
                walker.trust_link(shown, link_uid, owner, d.show(name))
    except BaseException:
        d.close()
        raise
    return d, name


def read_file(path: object, limit: int = MAX_READ_BYTES) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes (bounded) and its stat, read by the rules above."""
    d, name = locate(path)
    with d:
        return d.read(name, limit)


def open_for_reading(path: object) -> int:
    """An O_RDONLY fd on a regular file, by the rules above (for streaming reads)."""
    d, name = locate(path)
    with d:
        return d.open_regular(name, os.O_RDONLY)
