"""The references found so far, by namespace inode, and the fd budget they are opened under.

Every holder source (``named``, ``processes``, ``files``) adds to one ``Collector``; ``open_all``
then opens each namespace once through the first reference that still works
(``handle.open_namespace_file``), keeping at most the budget's fds open.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

from ..holding import DETAILED, KIND_OF
from ..host import ops
from ..host.kernel import TunFile
from ..model import Holder
from .handle import _DENIED, _VANISHED, try_opener
from .mounts import parse_nsfs_mounts
from .procs import _read_small_file, _readlink_text

#: The holder kinds with a detail (``holding.DETAILED``) that lead in by a path of their own.
_BY_PATH = tuple(kind.name for kind in DETAILED if kind.reach == "path")


class Refs:
    """What leads to one namespace: names, bind mounts and pids, and the holders of every other
    kind (``holding.HOLDERS``), each by kind in ``held`` with the paths that open it again."""

    __slots__ = ("covered", "dev", "extra_openers", "fd", "held", "names", "openers", "paths", "pids",
                 "unopenable_pids", "userns_uid")

    def __init__(self) -> None:
        self.names: List[Tuple[str, str]] = []  # (name, path)
        self.paths: List[str] = []
        self.covered: List[str] = []  # bind-mount paths another mount hides
        self.pids: List[int] = []
        self.unopenable_pids: Set[int] = set()  # listed by evidence other than their ns link
        #: Holder kind (threads, fds, sockets, tuns, rings) -> its holders, as found.
        self.held: Dict[str, List[Holder]] = {}
        #: Holder kind -> the paths its holders open the namespace by again (a kind that leads in
        #: by a path of its own), in the order found, each with whether to check what it opens.
        self.openers: Dict[str, List[Tuple[str, bool]]] = {}
        self.fd: Optional[int] = None
        self.dev = 0
        self.userns_uid: Optional[int] = None
        #: Paths that open the namespace without being a reference worth reporting.
        self.extra_openers: List[str] = []

    def add(self, kind: str, holder: Holder, opener: Optional[str] = None, check: bool = True) -> bool:
        """Record ``holder`` of ``kind`` (once), with the path that opens the namespace again;
        ``check``: that path could lead to something else by then (see ``try_opener``)."""
        held = self.held.get(kind)
        if held is None:
            held = self.held[kind] = []
        elif holder in held:
            return False
        held.append(holder)
        if opener is not None:
            self.openers.setdefault(kind, []).append((opener, check))
        return True

    def durable(self) -> bool:
        """Whether anything but a copy of a holder's fd (a socket, a tun file) leads to it."""
        held = self.held
        return bool(self.names or self.paths or self.pids or self.extra_openers
                    or (held and any(kind in held for kind in _BY_PATH)))

    def only_way(self) -> Optional[Tuple[str, Holder]]:
        """When nothing durable leads to it: what does, (``HolderKind.what``, the first holder),
        a kind whose fd can be copied before one that cannot be opened at all."""
        if self.durable():
            return None
        ways = sorted(self.held, key=lambda kind: KIND_OF[kind].reach != "copy")
        return (ways[0], self.held[ways[0]][0]) if ways else None


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

    def keep_only(self, inodes: Set[int]) -> None:
        """Forget every namespace but these (closing what was kept of the others)."""
        for inode in [inode for inode in self.refs if inode not in inodes]:
            refs = self.refs.pop(inode)
            if refs.fd is not None:
                os.close(refs.fd)
                refs.fd = None
                self.fd_room += 1
        self.evictable = [inode for inode in self.evictable if inode in inodes]
        self.dropped_fd_only = [inode for inode in self.dropped_fd_only if inode in inodes]

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
        for kind in _BY_PATH:
            yield from refs.openers.get(kind, ())
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
            elif (way := refs.only_way()) is not None:
                kind, holder = KIND_OF[way[0]], way[1]
                if kind.reach == "copy":
                    errors[inode] = f"not kept open: only {kind.what} reaches it, and the fd budget is spent"
                else:
                    errors[inode] = (f"held only by {kind.what} (pid {holder.pid}, {kind.held_by} {holder.detail}): "
                                     "it cannot be opened without using it")
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
