"""Watching a host: a stream of proven changes (``vethpeer watch``, ``vethpeer.watch()``).

Design: a watch is a sequence of *full* scans (``scanner.read_host`` + ``resolve.resolve``, exactly
what ``list`` does), each compared with the previous Topology to produce events. So every pair a
watch reports carries the same proof as ``list``: nothing is inferred from a notification's
content, which only says *when* to look again. Scans are triggered by change signals and
debounced, so an idle host costs (nearly) nothing:

- **rtnetlink multicast**: one socket in the watcher's namespace, subscribed to links, addresses
  and nsid changes, with NETLINK_LISTEN_ALL_NSID: it also hears every namespace that namespace
  has an id for (the kernel gives root an id for a namespace as soon as a veth, a move or ``ip
  netns set`` links them). Needs CAP_NET_BROADCAST in the initial user namespace for the other
  namespaces' news; without it only the watcher's own namespace is heard.
- **the mount table** (poll POLLPRI on /proc/self/mountinfo): ``ip netns add/del``, Docker's and
  CNI's /run/.../netns bind mounts appear and vanish there.
- **inotify** on the netns directories and the runtime state directories owners are named from
  (Docker, containerd, systemd-nspawn, libvirt-lxc, /run/user): a namespace that is named but has
  no id in root (a lab wired namespace to namespace) is caught when its name appears.
- **an incremental /proc pass** every ``PROC_PASS_S``: only processes not seen in the previous pass
  are looked at (one stat of /proc/PID/ns/net each); one in a namespace the last scan did not
  have triggers a scan (``unshare -n``, a container runtime that never names its namespaces).
- **a safety full rescan** at ``max(SAFETY_MIN_S, SAFETY_FACTOR x the last scan's duration)``
  (capped at ``SAFETY_MAX_S``) for what no signal reports: a change inside a namespace that root
  has no id for (a veth between two namespaces that were already known). This is the one
  latency limit: such changes are seen within that interval, not at once.

Coalescing: signals are only drained, never parsed; after the first one the watcher waits until
``DEBOUNCE_S`` pass without another (at most ``MAX_DELAY_S`` after the first), then scans once.
Signals that arrive while a scan runs stay queued in their file descriptors and trigger the next
scan at once: at most one scan in flight and one pending, however many signals arrive, and none
lost. A netlink overflow (ENOBUFS) is a signal like any other.

What changed between two scans, and how namespaces and links are recognised across them, is
``events`` (pure). Nothing is invented: every pair in an event is a pair of the Topology it came
from.

Memory: the last Topology and the pids seen by the last /proc pass; every namespace handle and
socket a scan opens is closed when it ends. A namespace that cannot be read is reported once
(``warning``) until its error changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import select
import socket
import time
from typing import Dict, Generator, Iterator, List, Optional, Sequence, Set, Tuple

from . import owners, resolve, scanner
from .discover.mounts import DEFAULT_NETNS_DIRS
from .events import KINDS, Event, NsKey, State, diff, initial_events, new_warnings, ns_key
from .host import changes, netlink, ops
from .model import Namespace, Topology

__all__ = ["KINDS", "Event", "ns_key", "watch"]  # Event and KINDS live in ``events``

#: Quiet time after a signal before scanning, and the longest a scan waits for quiet.
DEBOUNCE_S = 0.05
MAX_DELAY_S = 0.1
#: The safety full rescan: at least this often, and never costing more than 1/SAFETY_FACTOR of a core.
SAFETY_MIN_S = 5.0
SAFETY_FACTOR = 200.0
SAFETY_MAX_S = 120.0
#: How often new processes are looked at.
PROC_PASS_S = 2.0
#: Namespaces with no pair to the root one (root may have no id for them, and then its socket
#: hears nothing of them: a lab wired namespace to namespace) watched through a socket of their
#: own, at most this many; past it, their changes are seen by the safety rescan. Every link change
#: on the host makes the kernel walk every subscribed socket, so the number is kept small: about
#: 60 ns a socket on every change, whoever makes it (``bench/bench_watch_sockets.py``: a rename took
#: 1.45x as long with 1000 such sockets, 3.3x with 3000).
OWN_WATCHES_MAX = 64

RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100

#: Directories whose entries coming and going may mean a namespace came or went (under --root).
WATCHED_DIRS = (*DEFAULT_NETNS_DIRS, *owners.WATCHED_DIRS)

_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_IN_MASK = 0x100 | 0x200 | 0x40 | 0x80 | 0x400 | 0x800  # CREATE DELETE MOVED_FROM MOVED_TO DELETE_SELF MOVE_SELF


# --- change signals -------------------------------------------------------------------------------


class Signals:
    """The file descriptors that say "look again": netlink, the mount table, inotify.

    Only drained, never parsed. Each is optional: what cannot be opened is left out (the /proc pass
    and the safety rescan still see every change, later).
    """

    def __init__(self, root: str = "/", proc: str = "/proc", addresses: bool = True,
                 hangup_fd: Optional[int] = None) -> None:
        self.poller = select.poll()
        self.root = root
        #: An output whose reader going away (POLLERR/POLLHUP on a pipe) ends the watch: on a quiet
        #: host nothing is written that would find out.
        self.hangup_fd = hangup_fd
        self.hung_up = False
        self.proc = proc
        if hangup_fd is not None:
            with contextlib.suppress(OSError, ValueError):
                self.poller.register(hangup_fd, 0)  # (error and hang-up are reported anyway)
        self.netlink: Optional[socket.socket] = None
        #: Sockets subscribed inside namespaces root's socket may not hear, by namespace identity.
        self.own: Dict[NsKey, socket.socket] = {}
        self._groups = 0
        self.listen_all = False
        self.mounts: Optional[int] = None
        self.inotify: Optional[int] = None
        self._libc: Optional[ctypes.CDLL] = None
        groups = netlink.RTMGRP_LINK | netlink.RTMGRP_NSID
        if addresses:
            groups |= RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR
        self._groups = groups
        sock, self.listen_all = changes.subscribed(groups, listen_all=True, rcvbuf=1 << 20)
        if sock is not None:
            self.netlink = sock
            self.poller.register(sock.fileno(), select.POLLIN)
        self.mounts = changes.open_mount_table(proc)
        if self.mounts is not None:
            self.poller.register(self.mounts, select.POLLPRI)
        try:
            self._libc = ctypes.CDLL(None, use_errno=True)
            fd = self._libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        except (OSError, AttributeError):
            fd = -1
        if fd >= 0:
            self.inotify = fd
            self.poller.register(fd, select.POLLIN)
            self.watch_dirs()

    def watch_dirs(self) -> None:
        """Add inotify watches for the directories that exist now (again after they were removed:
        adding a watch that exists only returns it). About ten syscalls, after every scan."""
        if self.inotify is None or self._libc is None:
            return
        for directory in WATCHED_DIRS:
            path = os.path.join(self.root, directory.lstrip("/"))
            if os.path.isdir(path):
                self._libc.inotify_add_watch(self.inotify, os.fsencode(path), _IN_MASK)

    def watch_namespaces(self, topology: Topology) -> None:
        """Keep a subscribed socket in each namespace that has no pair to the root one (root may
        have no id for it: then root's socket hears none of its changes), at most OWN_WATCHES_MAX;
        close those no longer wanted. Sockets are made by the setns thread (``ops.sockets_in``)."""
        root = next((ns for ns in topology.namespaces if ns.root), None)
        if root is None:
            return
        covered = {ref.netns for pair in topology.pairs for ref in (pair.a, pair.b)
                   if root.id in (pair.a.netns, pair.b.netns)}
        wanted: Dict[NsKey, Namespace] = {}
        for ns in topology.namespaces:
            if ns.root or ns.own or ns.error is not None or ns.id in covered:
                continue
            wanted[ns_key(ns)] = ns
            if len(wanted) >= OWN_WATCHES_MAX:
                break
        for key in [key for key in self.own if key not in wanted]:
            sock = self.own.pop(key)
            with contextlib.suppress(KeyError, ValueError):
                self.poller.unregister(sock.fileno())
            sock.close()
        fresh = [(key, ns) for key, ns in wanted.items() if key not in self.own]
        if not fresh:
            return
        fds: List[Optional[int]] = []
        keys: List[NsKey] = []
        for key, ns in fresh:
            fd = _open_namespace(ns, self.proc)
            if fd is not None:
                fds.append(fd)
                keys.append(key)
        try:
            made = ops.sockets_in(fds) if fds else []
        except OSError:
            made = []
        finally:
            for fd in fds:
                if fd is not None:
                    ops.close_quietly(fd)
        for key, result in zip(keys, made):
            if not isinstance(result, socket.socket):
                continue
            try:
                result.bind((0, self._groups & ~netlink.RTMGRP_NSID))
                result.setblocking(False)
                self.poller.register(result.fileno(), select.POLLIN)
            except OSError:
                result.close()
                continue
            self.own[key] = result

    def _drain(self, fd: int) -> None:
        for sock in self.own.values():
            if fd == sock.fileno():
                while True:
                    try:
                        if not sock.recv(1 << 16):
                            return
                    except (BlockingIOError, InterruptedError):
                        return
                    except OSError as error:
                        if error.errno != errno.ENOBUFS:
                            return
        if self.netlink is not None and fd == self.netlink.fileno():
            while True:
                try:
                    if not self.netlink.recv(1 << 16):
                        return
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as error:  # ENOBUFS: news were lost, which a scan makes up for
                    if error.errno != errno.ENOBUFS:
                        return
        elif fd == self.inotify:
            while True:
                try:
                    data = os.read(fd, 1 << 16)
                except (BlockingIOError, InterruptedError):
                    return
                if not data:
                    return
        # the mount table: poll() itself re-arms it

    def wait(self, timeout: Optional[float]) -> bool:
        """Whether a signal came within ``timeout`` seconds (None: wait for one); drains them all."""
        ms = -1 if timeout is None else max(0, int(timeout * 1000 + 0.999))
        try:
            ready = self.poller.poll(ms)
        except InterruptedError:
            return False
        for fd, flags in ready:
            if fd == self.hangup_fd:
                if flags & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    self.hung_up = True
                continue
            self._drain(fd)
        return bool(ready)

    def close(self) -> None:
        for sock in self.own.values():
            sock.close()
        self.own = {}
        if self.netlink is not None:
            self.netlink.close()
            self.netlink = None
        for fd in (self.mounts, self.inotify):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.mounts = self.inotify = None


def _open_namespace(ns: Namespace, proc: str) -> Optional[int]:
    """An fd of ``ns`` through a path that leads to it (a bind mount, a process, a thread), checked
    to be that very namespace; None when none does."""
    from .discover.handle import try_opener

    paths = [*ns.paths[:2], *(f"{proc}/{pid}/ns/net" for pid in ns.pids[:2]),
             *(f"{proc}/{h.pid}/task/{h.detail}/ns/net" for h in ns.threads[:1])]
    for path in paths:
        with contextlib.suppress(ValueError):  # (a path with a NUL byte)
            fd = try_opener(path, False, ns.id.inode, ns.id.dev).fd
            if fd is not None:
                return fd
    return None


class ProcPass:
    """Processes new since the last pass, and whether one is in a namespace the last scan lacked."""

    def __init__(self, proc: str) -> None:
        self.proc = proc
        self.seen: Set[str] = set()

    def new_namespace(self, known_inodes: Set[int]) -> bool:
        try:
            pids = {entry for entry in os.listdir(self.proc) if entry.isdigit()}
        except OSError:
            return False
        found = False
        for pid in pids - self.seen:
            try:
                inode = os.stat(f"{self.proc}/{pid}/ns/net").st_ino
            except OSError:
                continue
            if inode not in known_inodes:
                found = True
                break
        self.seen = pids
        return found


def _inodes(topology: Topology) -> Set[int]:
    return {ns.id.inode for ns in topology.namespaces}


def _start(state: State, include_initial: bool, listen_all: bool, now: float) -> Iterator[Event]:
    """What a watch says before its first change: the state (if wanted), warnings, ``synced``."""
    if include_initial:
        yield from initial_events(state.topology, now)
    yield from new_warnings(None, state, now)
    if not listen_all:
        yield Event(now, "warning", state.topology,
                    message="other namespaces' link notifications cannot be heard (needs "
                            "CAP_NET_BROADCAST in the initial user namespace): their changes are "
                            "seen by periodic rescans", after=state.topology)
    yield Event(now, "synced", state.topology, after=state.topology)


def watch(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = False,
          proc: Optional[str] = None, root: str = "/", mount_namespaces: Optional[bool] = None,
          include_initial: bool = True, timeout: Optional[float] = None,
          hangup_fd: Optional[int] = None,
          safety_s: Optional[Tuple[float, float]] = None) -> Generator[Event, None, None]:
    """Scan, then yield every change until ``timeout`` seconds have passed (None: forever), or
    until ``hangup_fd`` (an output, e.g. stdout) reports that its reader went away.
    ``safety_s``: the bounds of the safety rescan's period instead of (``SAFETY_MIN_S``,
    ``SAFETY_MAX_S``) (tests).

    First the initial state (``state`` events, unless ``include_initial`` is False) and ``synced``,
    then one event per change. Options are ``scan()``'s. The generator holds a few file descriptors
    (a netlink socket, the mount table, an inotify instance): close it (or let it end) to free them.
    """
    proc = proc or os.path.join(root, "proc")
    safety_min, safety_max = safety_s or (SAFETY_MIN_S, SAFETY_MAX_S)
    deadline = None if timeout is None else time.monotonic() + timeout

    def scan() -> Tuple[State, float]:
        started = time.monotonic()
        with ops.gc_paused():
            reading = scanner.read_host(netns_paths=netns_paths, addresses=addresses, sockets=sockets, proc=proc,
                                        mount_namespaces=mount_namespaces, root=root)
            topology = resolve.resolve(reading.snapshot, reading.pairing)
        return State(topology), time.monotonic() - started

    signals = Signals(root=root, proc=proc, addresses=addresses, hangup_fd=hangup_fd)
    try:
        state, took = scan()
        signals.watch_namespaces(state.topology)
        yield from _start(state, include_initial, signals.listen_all, time.time())
        procs = ProcPass(proc)
        procs.new_namespace(_inodes(state.topology))
        last_scan = next_proc = time.monotonic()
        next_proc += PROC_PASS_S
        carried = False
        while True:
            safety = min(safety_max, max(safety_min, SAFETY_FACTOR * took))
            moment = time.monotonic()
            if deadline is not None and moment >= deadline:
                return
            wake = min(last_scan + safety, next_proc)
            if deadline is not None:
                wake = min(wake, deadline)
            due = False
            if signals.hung_up:
                return
            if carried:
                # Signals came while the last scan ran: their burst has had that long to settle,
                # so the next scan starts at once (waiting again only adds latency under churn).
                signals.wait(0)
                carried = False
                due = True
            elif signals.wait(max(0.0, wake - moment)):
                if signals.hung_up:
                    return
                first = time.monotonic()
                while time.monotonic() - first < MAX_DELAY_S and signals.wait(DEBOUNCE_S):
                    pass
                due = True
            else:
                moment = time.monotonic()
                if moment >= next_proc:
                    next_proc = moment + PROC_PASS_S
                    due = procs.new_namespace(_inodes(state.topology))
                if moment >= last_scan + safety:
                    due = True
            if not due:
                continue
            new, took = scan()
            signals.watch_dirs()
            signals.watch_namespaces(new.topology)
            last_scan = time.monotonic()
            carried = signals.wait(0)
            yield from diff(state, new, time.time())
            state = new
    finally:
        signals.close()
