"""Opening a namespace and proving it is one, the fd budget, and what discovery hands on.

``open_namespace_file`` is the one open-and-verify every source and ``reopen`` go through: a
network namespace file is an nsfs inode that NS_GET_NSTYPE calls CLONE_NEWNET; anything else
(a file someone put under /run/netns, a symbolic link) is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
from operator import attrgetter
from typing import List, NamedTuple, Optional, Tuple

from ..host import ops
from ..host.kernel import TunFile
from ..model import Namespace

# O_NONBLOCK: a FIFO put where a namespace file should be would block open() forever. O_NOCTTY: a
# terminal must never become ours. Neither changes anything for an nsfs file.
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY


def fd_reserve(limit: int) -> int:
    """File descriptors kept free of namespace handles: the reader's sockets need them."""
    return max(96, min(256, limit // 4))


def default_keep_fds() -> int:
    """How many namespace fds ``discover`` keeps when the caller does not say: what the current
    soft RLIMIT_NOFILE leaves after the fds already open and the reader's reserve."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(0, soft - ops.open_fd_count() - fd_reserve(soft))


# errnos meaning "it went away while we looked": a process exited, a mount was removed.
_VANISHED = (errno.ENOENT, errno.ESRCH, errno.ENOTDIR)


_DENIED = (errno.EACCES, errno.EPERM)


_O_PATH = getattr(os, "O_PATH", 0o10000000)


def open_namespace_file(path: str, flags: int = _OPEN_FLAGS) -> int:
    """Open a namespace file, and never anything else: ``O_PATH`` first (which opens nothing: a
    FIFO's writer is not woken, a device is not called), then, only if ``fstat`` says it is an
    nsfs file, the real open of that very inode through /proc/self/fd. A path that leads to
    something else now (a reused fd number, an entry replaced after it was looked at) raises
    ENOENT: it no longer leads to a namespace."""
    probe = os.open(path, _O_PATH | os.O_CLOEXEC | (flags & os.O_NOFOLLOW))
    try:
        if os.fstat(probe).st_dev != _nsfs_dev():
            raise OSError(errno.ENOENT, "not a namespace file", path)
        return os.open(f"/proc/self/fd/{probe}", flags & ~os.O_NOFOLLOW)
    finally:
        os.close(probe)


_NSFS_DEV: List[int] = []


def _nsfs_dev() -> int:
    if not _NSFS_DEV:
        _NSFS_DEV.append(os.stat("/proc/self/ns/net").st_dev)
    return _NSFS_DEV[0]


class FoundNamespace(NamedTuple):
    """A namespace discovery found (the ``model.Namespace`` record, its holders filled in) and the
    ways back into it. ``fd`` is an open handle (owned by the Discovery) or None when it was
    verified but not kept (see ``openers`` and ``reopen``)."""

    namespace: Namespace
    fd: Optional[int] = None
    #: (path, needs an NS_GET_NSTYPE check) that open it again, most durable first. Empty for a
    #: namespace only a socket or tun file reaches: its ``fd`` is then the only way in.
    openers: Tuple[Tuple[str, bool], ...] = ()

    @property
    def inode(self) -> int:
        return self.namespace.id.inode  # (replaced below by a C getter of the same)

    @property
    def dev(self) -> int:
        return self.namespace.id.dev

    @property
    def error(self) -> Optional[str]:
        return self.namespace.error


# Read for every namespace in every phase: a C getter instead of a Python frame (same value).
setattr(FoundNamespace, "inode", property(attrgetter("namespace.id.inode")))  # noqa: B010 (the type checker keeps the method)


class Discovery(NamedTuple):
    namespaces: Tuple[FoundNamespace, ...]
    own_inode: int
    root_inode: Optional[int]
    #: How the root namespace was identified: "pid 1", "kthreadd", "init inode", or "unknown".
    root_source: str
    warnings: Tuple[str, ...]
    #: Every open tun/tap file attached to a device, whichever namespace holds it.
    tun_files: Tuple[TunFile, ...] = ()

    def close(self) -> None:
        for found in self.namespaces:
            if found.fd is not None:
                with contextlib.suppress(OSError):
                    os.close(found.fd)


class Attempt(NamedTuple):
    """One reference tried: the fd when it led to the namespace, else why not (``error`` at
    ``stage`` "stat", "open" or "fstat"; ``other_type``: an nsfs file of another kind; neither:
    it now leads elsewhere)."""

    fd: Optional[int]
    error: Optional[OSError] = None
    stage: str = ""
    other_type: bool = False


def try_opener(path: str, check_type: bool, inode: int, dev: int) -> Attempt:
    """Open ``path`` as network namespace ``(dev, inode)``: the one open-and-verify that discovery
    and ``reopen`` share. ``check_type``: the path could be another kind of nsfs file, and a
    /proc/PID/fd path is opened only while it is still an nsfs file (the fd number may have been
    reused since it was listed: opening a device or FIFO through it would act on it)."""
    if check_type and "/fd/" in path:
        try:
            if os.stat(path).st_dev != dev:
                return Attempt(None)
        except OSError as error:
            return Attempt(None, error, "stat")
    try:
        fd = open_namespace_file(path)
    except OSError as error:
        return Attempt(None, error, "open")
    try:
        st = os.fstat(fd)
        if st.st_ino != inode or st.st_dev != dev:
            # The process moved or exited and its pid was reused, or the path now shows
            # something else: this reference no longer leads here.
            os.close(fd)
            return Attempt(None)
        if check_type and not ops.is_net_namespace(fd):
            os.close(fd)
            return Attempt(None, other_type=True)
    except OSError as error:
        os.close(fd)
        return Attempt(None, error, "fstat")
    return Attempt(fd)


def reopen(found: FoundNamespace, proc: str = "/proc") -> int:
    """A new fd for ``found``, opened through its openers and checked to be that namespace.

    Raises OSError: ENOENT when every opener failed because what it named is gone (or now leads
    elsewhere), EACCES when one was denied. A namespace without openers (held only by a socket or
    tun file) can only be duplicated from its kept ``fd``. ``proc`` is where procfs is mounted,
    for that duplicate.
    """
    denied = False
    for path, check_type in found.openers:
        attempt = try_opener(path, check_type, found.inode, found.dev)
        if attempt.fd is not None:
            return attempt.fd
        if attempt.error is not None and attempt.stage in ("stat", "open"):
            denied = denied or attempt.error.errno in _DENIED
    if found.fd is not None:
        # A fresh open file of the same namespace, not a dup sharing the caller's file offset and
        # flags; falls back to dup where /proc is not ours.
        try:
            return os.open(f"{proc}/self/fd/{found.fd}", _OPEN_FLAGS)
        except OSError:
            return os.dup(found.fd)
    if denied:
        raise OSError(errno.EACCES, f"net:[{found.inode}]: permission denied reopening it")
    raise OSError(errno.ENOENT, f"net:[{found.inode}]: nothing that held it leads to it any more")
