"""The references found so far, by namespace inode, and the fd budget they are opened under.

Every holder source (``named``, ``processes``, ``files``) adds to one ``Collector``; ``open_all``
then opens each namespace once through the first reference that still works
(``handle.open_namespace_file``), keeping at most the budget's fds open.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

from ..host import ops
from ..host.kernel import TunFile
from ..model import Holder
from .handle import _DENIED, _VANISHED, try_opener
from .mounts import parse_nsfs_mounts
from .procs import _read_small_file, _readlink_text


class Refs:
    __slots__ = ("covered", "dev", "extra_openers", "fd", "fd_paths", "fds", "names", "paths", "pids",
                 "rings", "sockets", "threads", "tuns", "unopenable_pids", "userns_uid")

    def __init__(self) -> None:
        self.names: List[Tuple[str, str]] = []  # (name, path)
        self.paths: List[str] = []
        self.covered: List[str] = []  # bind-mount paths another mount hides
        self.pids: List[int] = []
        self.unopenable_pids: Set[int] = set()  # listed by evidence other than their ns link
        self.threads: List[Holder] = []
        self.fds: List[Holder] = []
        self.fd_paths: List[str] = []  # where each of ``fds`` can be opened, same order
        self.sockets: List[Holder] = []
        self.tuns: List[Holder] = []
        self.rings: List[Holder] = []
        self.fd: Optional[int] = None
        self.dev = 0
        self.userns_uid: Optional[int] = None
        #: Paths that open the namespace without being a reference worth reporting.
        self.extra_openers: List[str] = []

    def durable(self) -> bool:
        """Whether anything but a socket or tun fd leads to it."""
        return bool(self.names or self.paths or self.pids or self.threads or self.fds or self.extra_openers)


class _TaskFiles(NamedTuple):
    """An fd table to read: ``holder`` is the id whose /proc/ID/fd shows it, ``base`` its dir."""

    holder: int
    base: str
    process: int


class Collector:
    """Accumulates references by inode while the sources are read."""

    def __init__(self, proc: str, nsfs_dev: int, fd_room: int = 1 << 30) -> None:
        self.proc = proc
        self.nsfs_dev = nsfs_dev
        #: How many more namespace fds may be kept open (the reader needs the rest for sockets).
        self.fd_room = fd_room
        self.fd_budget = fd_room
        #: Kept fds that ``reopen`` could replace, oldest first: given up for fd-only namespaces.
        self.evictable: List[int] = []
        self.dropped_fd_only: List[int] = []
        #: Namespaces opened and checked once already (kept or not): not opened again.
        self.verified: Set[int] = set()
        self.refs: Dict[int, Refs] = {}
        self.warnings: List[str] = []
        self.denied_pids: List[int] = []
        #: The namespace each process is in (its main thread's, or its first thread's).
        self.process_netns: Dict[int, int] = {}
        #: A /proc/PID (or /proc/PID/task/TID) base per mount namespace other than ours.
        self.mount_namespaces: Dict[str, str] = {}
        self.tun_files: List[Tuple[_TaskFiles, int]] = []
        #: What ``read_tuns`` learned about each tun/tap file attached to a device.
        self.tun_devices: List[TunFile] = []
        #: Whether pids under ``proc`` are in our pid namespace (kcmp and pidfds take ours).
        self.pids_are_ours = _readlink_text(f"{proc}/self") == str(os.getpid())
        self.socket_files: Dict[int, List[Tuple[_TaskFiles, int]]] = {}  # socket inode -> holders

    def at(self, inode: int) -> Refs:
        refs = self.refs.get(inode)
        if refs is None:
            refs = self.refs[inode] = Refs()
        return refs

    @property
    def denied_processes(self) -> int:
        return len(self.denied_pids)

    # -- the fd budget --------------------------------------------------------------------------
    def keep(self, inode: int, refs: Refs, fd: int, dev: int) -> bool:
        """Keep ``fd`` as the namespace's handle if the budget allows; closes it otherwise.

        A namespace only a socket or tun fd reaches cannot be reopened later, so it takes the slot
        of one that can when the budget is spent.
        """
        if refs.userns_uid is None:
            refs.userns_uid = ops.userns_owner(fd)
        durable = refs.durable()
        if durable:
            self.verified.add(inode)
        if self.fd_room <= 0 and not durable and self.evictable:
            victim = self.refs[self.evictable.pop(0)]
            if victim.fd is not None:
                os.close(victim.fd)
                victim.fd = None
                self.fd_room += 1
        if self.fd_room <= 0:
            os.close(fd)
            if not durable:
                self.dropped_fd_only.append(inode)
            return False
        refs.fd, refs.dev = fd, dev
        self.fd_room -= 1
        self.verified.add(inode)
        if durable:
            self.evictable.append(inode)
        return True

    # -- explicit paths -------------------------------------------------------------------------
    def add_path(self, path: str, nsfs_dev: int) -> int:
        """A namespace file the user named; returns its inode or raises OSError/ValueError."""
        st = os.stat(path)
        if st.st_dev != nsfs_dev:
            raise ValueError(f"{path} is not a namespace file")
        refs = self.at(st.st_ino)
        if path not in refs.paths and not any(p == path for _, p in refs.names):
            refs.paths.append(path)
        return st.st_ino

    # -- opening --------------------------------------------------------------------------------
    def candidates(self, refs: Refs) -> Iterable[Tuple[str, bool]]:
        """(path, needs a type check) for each reference, most durable first."""
        for _name, path in refs.names:
            yield path, True
        for path in refs.paths:
            yield path, True
        for pid in refs.pids:
            if pid not in refs.unopenable_pids:
                yield f"{self.proc}/{pid}/ns/net", False
        for holder in refs.threads:
            yield f"{self.proc}/{holder.pid}/task/{holder.detail}/ns/net", False
        for path in refs.fd_paths:
            yield path, True
        for path in refs.extra_openers:
            yield path, False

    def open_all(self, only: Optional[Sequence[Optional[int]]] = None
                 ) -> Tuple[Dict[int, Optional[str]], Set[int], Set[int]]:
        """Open and verify every namespace (or those in ``only``) that is not open yet, keeping
        the fd where the budget allows. Returns errors by inode, the inodes that vanished, and
        those that turned out to be another type."""
        errors: Dict[int, Optional[str]] = {}
        vanished: Set[int] = set()
        not_net: Set[int] = set()
        order = list(self.refs) if only is None else [i for i in dict.fromkeys(only) if i in self.refs]
        for inode in order:
            refs = self.refs[inode]
            if refs.fd is not None or inode in self.verified:
                errors[inode] = None
                continue
            last: Optional[OSError] = None
            denied = False
            other_type = False
            opened = False
            for path, check_type in self.candidates(refs):
                attempt = try_opener(path, check_type, inode, self.nsfs_dev)
                if attempt.fd is not None:
                    opened = True
                    self.keep(inode, refs, attempt.fd, self.nsfs_dev)
                    break
                if attempt.error is not None:
                    last = attempt.error
                    denied = denied or (attempt.stage == "open" and attempt.error.errno in _DENIED)
                other_type = other_type or attempt.other_type
            if opened:
                errors[inode] = None
            elif other_type and last is None and not denied:
                not_net.add(inode)  # not a network namespace at all: nothing to report
            elif denied:
                errors[inode] = "permission denied opening it"
            elif refs.covered:
                # The mount holds the namespace alive; only its path is hidden.
                errors[inode] = (f"alive but unreachable: its bind mount at {refs.covered[0]} is covered "
                                 "by another mount")
            elif refs.rings and not (refs.durable() or refs.sockets or refs.tuns):
                ring = refs.rings[0]
                errors[inode] = (f"held only by an io_uring registered file (pid {ring.pid}, ring fd {ring.detail}): "
                                 "it cannot be opened without using that ring")
            elif not refs.durable() and (refs.sockets or refs.tuns):
                errors[inode] = (f"not kept open: only a {'tun/tap file' if refs.tuns else 'socket'} reaches "
                                 "it, and the fd budget is spent")
            elif last is None or last.errno in _VANISHED:
                vanished.add(inode)
            else:
                errors[inode] = f"cannot open it: {last.strerror}"
        return errors, vanished, not_net

    def still_mounted(self, vanished: Set[int]) -> Dict[int, str]:
        """Of the namespaces that seemed to vanish, those our mountinfo still lists: mounted at a
        path that did not lead to them (covered after it was read, or by a mount we misjudged)."""
        if not vanished or not any(self.refs[i].paths for i in vanished):
            return {}
        data = _read_small_file(os.path.join(self.proc, "self/mountinfo"))
        if data is None:
            return {}
        alive: Dict[int, str] = {}
        for mount in parse_nsfs_mounts(data.decode("utf-8", "surrogateescape")):
            if mount.inode in vanished:
                alive.setdefault(mount.inode, mount.path)
        return alive
