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

Identity across scans: a namespace by its cookie (never reused during a boot; (dev, inode) where
the kernel gives no cookie); a link by (namespace, ifindex). A pair that vanished and one that
appeared with one end in common are reported as one ``end-moved`` when the other old end is gone
from where it was, the other new end was not there before, and both have the same kind and MAC
address (the kernel keeps a device's MAC when it changes namespace); anything else is reported as
the pair vanishing and a pair appearing. Nothing is invented: every pair in an event is a pair of
the Topology it came from.

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
from typing import Any, Dict, FrozenSet, Generator, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple

from . import resolve, scanner
from .host import netlink, ops
from .model import PEER_KINDS, Link, LinkRef, Namespace, NamespaceId, Pair, Topology, Unresolved

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
#: own, at most this many; past it, their changes are seen by the safety rescan. Each socket's
#: subscription walks every subscribed socket on the host, so the number is kept small.
OWN_WATCHES_MAX = 64

#: Event kinds, in the order they are given within one scan's changes.
KINDS = ("state", "synced", "warning", "netns-appeared", "netns-changed", "pair-vanished", "end-moved", "end-renamed",
         "master-changed", "master-renamed", "pair-appeared", "end-resolved", "end-unresolved",
         "end-vanished", "netns-vanished")

RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100

#: Directories whose entries coming and going may mean a namespace came or went (under --root).
WATCHED_DIRS = (
    "/run/netns", "/var/run/netns", "/run/docker/netns", "/var/run/docker/netns",
    "/var/lib/docker/containers", "/run/containerd/io.containerd.runtime.v2.task/moby",
    "/run/containerd/io.containerd.runtime.v2.task/k8s.io", "/run/systemd/machines", "/run/libvirt/lxc",
    "/run/user",
)

_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_IN_MASK = 0x100 | 0x200 | 0x40 | 0x80 | 0x400 | 0x800  # CREATE DELETE MOVED_FROM MOVED_TO DELETE_SELF MOVE_SELF


class Event(NamedTuple):
    """One change (or, before ``synced``, one item of the initial state). Immutable.

    ``topology`` is the scan the event's refs resolve in: the new one, or for ``pair-vanished`` and
    ``netns-vanished`` the previous one. Which other fields are set depends on ``kind``:
    ``state`` (``of`` = "pair": a, b; "unresolved": link, reason, detail; "netns": netns),
    ``pair-appeared``/``pair-vanished`` (a, b), ``end-moved`` (link, from_netns, from_ifindex; its
    peer is ``topology.peer_of(link)``),
    ``end-renamed`` (link, old_name), ``master-changed`` (link, old_master, new_master),
    ``master-renamed`` (link: the bridge or bond, old_name), ``netns-appeared``/
    ``netns-vanished`` (netns), ``netns-changed`` (netns, old_name, old_label: its name, label or
    runtime owners changed, e.g. `ip netns add` seen half-done, then named),
    ``end-unresolved`` (link, reason, detail), ``end-resolved`` (link),
    ``end-vanished`` (link, reason, detail: an unresolved end deleted; ``topology`` is the scan it
    was last in),
    ``warning`` (message).
    """

    #: Seconds since the epoch (time.time()) when the scan that saw the change ended.
    time: float
    kind: str
    topology: Optional[Topology] = None
    of: Optional[str] = None
    a: Optional[LinkRef] = None
    b: Optional[LinkRef] = None
    link: Optional[LinkRef] = None
    netns: Optional[NamespaceId] = None
    reason: Optional[str] = None
    detail: Optional[str] = None
    old_name: Optional[str] = None
    old_master: Optional[str] = None
    new_master: Optional[str] = None
    #: For ``netns-changed``: the label it had (``old_name``: the name it had).
    old_label: Optional[str] = None
    #: For ``end-moved``: the namespace the end was in (from the previous scan) and its ifindex there.
    from_netns: Optional[Namespace] = None
    from_ifindex: Optional[int] = None
    message: Optional[str] = None
    #: The Topology after the change (the newest scan; ``topology`` itself except for vanished things).
    after: Optional[Topology] = None

    def namespaces(self) -> List[Namespace]:
        """The namespaces this event touches (for narrowing a watch to some of them)."""
        top = self.topology
        if top is None:
            return []
        out: List[Namespace] = []
        for ref in (self.a, self.b, self.link):
            if ref is not None:
                out.append(top.namespace(ref.netns))
        if self.link is not None:
            # An end's change is its pair's too: unplugging a container's host veth from its
            # bridge is news to whoever watches the container.
            peer = top.peer_of(self.link)
            if peer is not None:
                out.append(top.namespace(peer.netns))
            if self.kind == "master-renamed":
                # So is its bridge's new name: the container's host veth now hangs off it.
                for port in top.links_in(self.link.netns):
                    if port.master != self.link.ifindex:
                        continue
                    port_peer = top.peer_of(port.ref)
                    if port_peer is not None:
                        out.append(top.namespace(port_peer.netns))
        if self.netns is not None:
            out.append(top.namespace(self.netns))
        if self.from_netns is not None:
            out.append(self.from_netns)
        return out


NsKey = Tuple[int, ...]
LinkKey = Tuple[NsKey, int]


def ns_key(ns: Namespace) -> NsKey:
    """A namespace's identity across scans: its cookie, else (dev, inode)."""
    return (ns.cookie,) if ns.cookie is not None else (ns.id.dev, ns.id.inode)


class _State:
    """What one Topology is compared by."""

    __slots__ = (
        "ends",
        "errors",
        "key_of",
        "links",
        "master_of",
        "masters",
        "namespaces",
        "paired",
        "pairs",
        "topology",
        "unresolved",
        "warnings",
    )

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.namespaces: Dict[NsKey, Namespace] = {ns_key(ns): ns for ns in topology.namespaces}
        self.key_of: Dict[NamespaceId, NsKey] = {ns.id: key for key, ns in self.namespaces.items()}
        key_of = self.key_of
        self.links: Dict[LinkKey, Link] = {(key_of[ref.netns], ref.ifindex): link
                                           for ref, link in topology.links.items()}
        self.ends: Dict[LinkKey, Link] = {key: link for key, link in self.links.items() if link.kind in PEER_KINDS}
        #: Each end's master, by identity (its namespace and ifindex): renaming a bridge changes
        #: no port's master.
        self.master_of: Dict[LinkKey, Optional[LinkKey]] = {}
        #: Every device that is some end's master.
        self.masters: Dict[LinkKey, Link] = {}
        for key, link in self.ends.items():
            master = topology.master_of(link.ref) if link.master is not None else None
            if master is None:
                self.master_of[key] = None
                continue
            master_key = self.lkey(master.ref)
            self.master_of[key] = master_key
            self.masters[master_key] = master
        self.pairs: Dict[FrozenSet[LinkKey], Pair] = {
            frozenset((self.lkey(pair.a), self.lkey(pair.b))): pair for pair in topology.pairs}
        self.paired: Set[LinkKey] = {key for pair_key in self.pairs for key in pair_key}
        self.unresolved: Dict[LinkKey, Unresolved] = {self.lkey(item.link): item for item in topology.unresolved}
        self.errors: Dict[NsKey, str] = {key: ns.error for key, ns in self.namespaces.items() if ns.error is not None}
        self.warnings = frozenset(topology.warnings)

    def lkey(self, ref: LinkRef) -> LinkKey:
        return (self.key_of[ref.netns], ref.ifindex)


def initial_events(topology: Topology, now: float) -> Iterator[Event]:
    """The state of one scan as ``state`` events (namespaces, pairs, unresolved ends), then ``synced``."""
    for ns in topology.namespaces:
        yield Event(now, "state", topology, of="netns", netns=ns.id, after=topology)
    for pair in topology.pairs:
        yield Event(now, "state", topology, of="pair", a=pair.a, b=pair.b, after=topology)
    for item in topology.unresolved:
        yield Event(now, "state", topology, of="unresolved", link=item.link, reason=item.reason, detail=item.detail,
                    after=topology)


def _warnings(old: Optional[_State], new: _State, now: float) -> Iterator[Event]:
    top = new.topology
    for key, error in new.errors.items():
        if old is None or old.errors.get(key) != error:
            ns = new.namespaces[key]
            yield Event(now, "warning", top, netns=ns.id,
                        message=f"namespace {ns.label} could not be read: {error}", after=top)
    for warning in top.warnings:
        if old is None or warning not in old.warnings:
            yield Event(now, "warning", top, message=warning, after=top)


def _known_as(ns: Namespace) -> Tuple[Any, ...]:
    """What people know a namespace by: its names, its label, its runtime owners. Not its holders
    (processes come and go: `ip netns exec` is no news), hence not a process owner."""
    return (ns.names, ns.label, tuple(owner for owner in ns.owners if owner.kind != "process"))


def diff(old: _State, new: _State, now: float) -> List[Event]:
    """The events that take ``old`` to ``new``, in ``KINDS`` order."""
    before, after = old.topology, new.topology
    events: List[Event] = list(_warnings(old, new, now))
    for nkey, ns in new.namespaces.items():
        was_ns = old.namespaces.get(nkey)
        if was_ns is None:
            events.append(Event(now, "netns-appeared", after, netns=ns.id))
        elif _known_as(was_ns) != _known_as(ns):
            events.append(Event(now, "netns-changed", after, netns=ns.id, old_name=was_ns.name,
                                old_label=was_ns.label))
    vanished = {pkey: pair for pkey, pair in old.pairs.items() if pkey not in new.pairs}
    appeared = {pkey: pair for pkey, pair in new.pairs.items() if pkey not in old.pairs}
    moves: List[Event] = []
    moved_renames: List[Event] = []
    by_end: Dict[LinkKey, FrozenSet[LinkKey]] = {end: pkey for pkey in vanished for end in pkey}
    for pkey in list(appeared):
        for end in pkey:
            old_key = by_end.get(end)
            if old_key is None or old_key not in vanished:
                continue
            (new_end,) = pkey - {end} or {end}
            (old_end,) = old_key - {end} or {end}
            if new_end == old_end or new_end in old.links or old_end in new.links:
                continue
            was, now_link = old.links[old_end], new.links[new_end]
            if was.kind != now_link.kind or was.mac is None or was.mac != now_link.mac:
                continue
            moves.append(Event(now, "end-moved", after, link=now_link.ref,
                               from_netns=before.namespace(was.ref.netns), from_ifindex=was.ref.ifindex))
            if was.name != now_link.name:
                # Renamed as well (`ip link set X netns B` then `ip -n B link set X name Y` within
                # one scan): said, not folded into the move.
                moved_renames.append(Event(now, "end-renamed", after, link=now_link.ref, old_name=was.name))
            del vanished[old_key]
            del appeared[pkey]
            break
    for pair in vanished.values():
        events.append(Event(now, "pair-vanished", before, a=pair.a, b=pair.b))
    events.extend(moves)
    renames: List[Event] = moved_renames
    masters: List[Event] = []
    #: Ends of the pairs said to vanish above: a consumer has let them go, and whatever they are
    #: now (in a new pair, unresolved) comes with their current name and master in that event. A
    #: rename of one (the peer's namespace deleted as it was renamed) would name an end it no
    #: longer has.
    let_go = {end for pkey in vanished for end in pkey}
    for end_key, link in new.ends.items():
        known = old.ends.get(end_key)
        if known is None or known.mac != link.mac or end_key in let_go:
            continue
        if known.name != link.name:
            renames.append(Event(now, "end-renamed", after, link=link.ref, old_name=known.name))
        master_before, master_now = old.master_of.get(end_key), new.master_of.get(end_key)
        if master_before != master_now:
            masters.append(Event(now, "master-changed", after, link=link.ref,
                                 old_master=old.masters[master_before].name if master_before is not None else None,
                                 new_master=new.masters[master_now].name if master_now is not None else None))
    for master_key, master in new.masters.items():
        known = old.masters.get(master_key)
        # Its kind, not its MAC: a bridge takes the lowest MAC of its ports, so a port plugged
        # in as the bridge is renamed changes it.
        if known is not None and known.kind == master.kind and known.name != master.name:
            renames.append(Event(now, "master-renamed", after, link=master.ref, old_name=known.name))
    events.extend(renames)
    events.extend(masters)
    for pair in appeared.values():
        events.append(Event(now, "pair-appeared", after, a=pair.a, b=pair.b))
    for end_key in old.unresolved:
        if end_key in new.paired:
            events.append(Event(now, "end-resolved", after, link=new.links[end_key].ref))
    for end_key, item in new.unresolved.items():
        was_item = old.unresolved.get(end_key)
        if was_item is None or was_item.reason != item.reason:
            events.append(Event(now, "end-unresolved", after, link=item.link, reason=item.reason,
                                detail=item.detail))
    for end_key, item in old.unresolved.items():
        if end_key not in new.links:
            # Deleted (or gone with its namespace) while unresolved: no pair-vanished says so, and
            # a consumer would keep it for ever. Said with its last known facts (``before``).
            events.append(Event(now, "end-vanished", before, link=item.link, reason=item.reason,
                                detail=item.detail))
    for gone, ns in old.namespaces.items():
        if gone not in new.namespaces:
            events.append(Event(now, "netns-vanished", before, netns=ns.id))
    return [event._replace(after=after) for event in events]


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
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        except OSError:
            sock = None
        if sock is not None:
            try:
                sock.bind((0, groups))
                try:
                    sock.setsockopt(netlink.SOL_NETLINK, netlink.NETLINK_LISTEN_ALL_NSID, 1)
                    self.listen_all = True
                except OSError:
                    pass
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                sock.setblocking(False)
            except OSError:
                sock.close()
                sock = None
        if sock is not None:
            self.netlink = sock
            self.poller.register(sock.fileno(), select.POLLIN)
        with contextlib.suppress(OSError):
            self.mounts = os.open(os.path.join(proc, "self/mountinfo"), os.O_RDONLY | os.O_CLOEXEC)
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
    from .discover import open_namespace_file

    paths = [*ns.paths[:2], *(f"{proc}/{pid}/ns/net" for pid in ns.pids[:2]),
             *(f"{proc}/{h.pid}/task/{h.detail}/ns/net" for h in ns.threads[:1])]
    for path in paths:
        try:
            fd = open_namespace_file(path)
        except (OSError, ValueError):
            continue
        try:
            info = os.fstat(fd)
        except OSError:
            ops.close_quietly(fd)
            continue
        if (info.st_dev, info.st_ino) == (ns.id.dev, ns.id.inode):
            return fd
        ops.close_quietly(fd)
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


def watch(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = False,
          proc: Optional[str] = None, root: str = "/", mount_namespaces: Optional[bool] = None,
          include_initial: bool = True, timeout: Optional[float] = None,
          hangup_fd: Optional[int] = None) -> Generator[Event, None, None]:
    """Scan, then yield every change until ``timeout`` seconds have passed (None: forever), or
    until ``hangup_fd`` (an output, e.g. stdout) reports that its reader went away.

    First the initial state (``state`` events, unless ``include_initial`` is False) and ``synced``,
    then one event per change. Options are ``scan()``'s. The generator holds a few file descriptors
    (a netlink socket, the mount table, an inotify instance): close it (or let it end) to free them.
    """
    proc = proc or os.path.join(root, "proc")
    deadline = None if timeout is None else time.monotonic() + timeout

    def scan() -> Tuple[_State, float]:
        started = time.monotonic()
        with ops.gc_paused():
            reading = scanner.read_host(netns_paths=netns_paths, addresses=addresses, sockets=sockets, proc=proc,
                                        mount_namespaces=mount_namespaces, root=root)
            topology = resolve.resolve(reading.snapshot, reading.pairing)
        return _State(topology), time.monotonic() - started

    signals = Signals(root=root, proc=proc, addresses=addresses, hangup_fd=hangup_fd)
    try:
        state, took = scan()
        signals.watch_namespaces(state.topology)
        now = time.time()
        if include_initial:
            yield from initial_events(state.topology, now)
        yield from _warnings(None, state, now)
        if not signals.listen_all:
            yield Event(now, "warning", state.topology,
                        message="other namespaces' link notifications cannot be heard (needs "
                                "CAP_NET_BROADCAST in the initial user namespace): their changes are "
                                "seen by periodic rescans", after=state.topology)
        yield Event(now, "synced", state.topology, after=state.topology)
        procs = ProcPass(proc)
        procs.new_namespace(_inodes(state.topology))
        last_scan = next_proc = time.monotonic()
        next_proc += PROC_PASS_S
        carried = False
        while True:
            safety = min(SAFETY_MAX_S, max(SAFETY_MIN_S, SAFETY_FACTOR * took))
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
