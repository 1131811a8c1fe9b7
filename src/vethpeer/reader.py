"""Reading every namespace over rtnetlink while watching it, and asking the kernel what pairing needs.

Takes a Discovery, gives a Snapshot. Per namespace: one socket made inside it (by
``ops.sockets_in``'s thread) and subscribed to link notifications *before* anything is dumped
through it, one link dump, one address dump, its cookie. The questions ``resolve.Pairing`` plans
are then put to the kernel round by round (``resolve.drive``).

A pair is kept only when it held at one moment. Each namespace is watched from just before its
dump until its socket is closed; a pair is confirmed when the watches of its two namespaces
overlap and no notification since each dump touched either end. Then, at the later of the two
dumps, both ends were what was read: a change to an end shows up as a notification in its own
namespace (a device leaving, arriving, renamed or re-pointed at that ifindex), and the one change
that is silent there, the *peer* moving away, is a notification in the peer's namespace. Ends
that changed are read again, a bounded number of times; what keeps changing is reported with the
reason ``changing``.

With fewer free file descriptors than namespaces, namespaces are read in windows (the own and
root ones stay open throughout) and pairs whose namespaces were not watched at the same time are
read again together. No interpretation happens here beyond what choosing sockets needs.

One socket watches for many (the hub). Subscribing a socket and closing a subscribed one each
walk every subscribed NETLINK_ROUTE socket on the host (netlink_update_listeners), so one watch
per namespace is quadratic: measured 67 ms of binds and 70 ms of closes at 3000 namespaces, about
10 ms at 1000. The root namespace's socket is therefore subscribed with NETLINK_LISTEN_ALL_NSID
(and to id changes, RTNLGRP_NSID) before anything is read: it hears every namespace root has an
id for, each notification tagged with that id. A namespace is watched through it (``proxy``)
when root's id for it is proven by the kernel (RTM_GETNSID, asked anyway to confirm the pairs to
root) and no id change for that id was heard since the hub was subscribed (so the id meant that
namespace the whole time). Where root's veths reach most namespaces (container hosts) the others
are read without a subscription of their own; where they do not (labs wired namespace to
namespace) every namespace is watched itself, as before. The kernel delivers another
namespace's notifications only with CAP_NET_BROADCAST over it, so the hub is used only from the
initial user namespace with that capability.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple

from . import discover
from .discover import Discovery, FoundNamespace
from .host import netlink, ops
from .host.netlink import Channel, LinkRecord
from .model import PEER_KINDS
from .resolve import Answer, EndKey, FdQuestion, HintQuestion, Pairing, Question, ViaQuestion, drive
from .snapshot import HintAnswer, NamespaceRecord, NsidAnswer, Snapshot, ViaAnswer

#: How often ends that changed during the scan are read again before they are called ``changing``.
REREADS = 3

#: Attempts at a link dump of a namespace watched while it is dumped. A cut dump (NLM_F_DUMP_INTR:
#: the device list changed meanwhile) of a busy root namespace was made again up to 8 times, each
#: a thousand links, under steady churn. Watched, it can be kept: every device that changed during
#: the dump is in a notification (its ends are suspect as for any change); the kernel walks
#: devices by ifindex (since 6.7), so the others are each reported once; older kernels walk hash
#: chains and may skip or repeat an unchanged one: repeats are dropped, and an end whose peer is
#: missing from a cut dump has that namespace read again (``confirm``).
WATCHED_DUMP_ATTEMPTS = 2

#: A watched namespace with at least this many links, of which at most ``REFRESH_MAX`` changed,
#: has those read again one by one (RTM_GETLINK) instead of being dumped again: a busy root
#: namespace under churn was dumped again (a thousand links) in every reread round. The watch
#: says which links changed since the dump; the others are as read.
REFRESH_MIN_LINKS = 64
REFRESH_MAX = 64

_FOREVER = 1 << 62

#: Watch namespaces through the root namespace's socket: None decides by the host's wiring (root's
#: veths reach at least ``HUB_SHARE`` of the namespaces), True/False force it (tests).
HUB_WATCH: Optional[bool] = None
HUB_SHARE = 0.9

#: The kernel's fixed inode for the initial user namespace (PROC_USER_INIT_INO).
_INIT_USER_NS_INODE = 0xEFFFFFFD
_CAP_NET_BROADCAST = 11


def hub_allowed(proc: str = "/proc") -> bool:
    """Whether another namespace's notifications can reach us: NETLINK_LISTEN_ALL_NSID delivers
    them only to a socket whose opener has CAP_NET_BROADCAST in that namespace's user namespace,
    which holding it in the initial user namespace guarantees."""
    try:
        if os.stat(f"{proc}/self/ns/user").st_ino != _INIT_USER_NS_INODE:
            return False
    except OSError:
        return False
    effective = ops.effective_caps(f"{proc}/self/status")
    return effective is not None and bool(effective >> _CAP_NET_BROADCAST & 1)

#: Reasons that may be an artefact of reading while things changed.
_RETRY = frozenset(("peer-missing", "unproven", "peer-gone", "peer-netns-unreachable"))


def _enter_error(error: OSError) -> str:
    if error.errno == errno.EPERM:
        return "cannot enter it: operation not permitted (needs CAP_SYS_ADMIN)"
    if error.errno == errno.EINVAL:
        return "cannot enter it: not a network namespace (a stale file?)"
    return f"cannot enter it: {error.strerror}"


def _open_error(error: OSError) -> str:
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied opening it"
    if error.errno == errno.ENOENT:
        return "it went away during the scan"
    return f"cannot open it: {error.strerror}"


def _has_cross_ends(links: Sequence[LinkRecord]) -> bool:
    return any(link.kind in PEER_KINDS and link.link_netnsid is not None for link in links)


def _relevant(link: LinkRecord) -> Tuple[object, ...]:
    """What a notification must leave alone for a link's record to still hold (carrier, flags and
    counters change all the time and say nothing about what it is plugged into)."""
    return (link.name, link.kind, link.link, link.link_netnsid, link.master)


class _Namespace:
    """The reader's state for one namespace: its record so far and how it is being watched."""

    __slots__ = ("_by_index", "addresses", "channel", "cookie", "cut", "dumped", "error", "found", "inode",
                 "links", "overflow", "proxy", "read_at", "stuck", "taint", "until", "watching")

    def __init__(self, found: FoundNamespace) -> None:
        self.found = found
        self.inode = found.inode
        self.channel: Optional[Channel] = None
        #: The channel is subscribed since before the last dump (its events say what changed).
        self.watching = False
        self.links: List[LinkRecord] = []
        self._by_index: Optional[Dict[int, LinkRecord]] = None
        self.addresses: List[netlink.AddressRecord] = []
        self.cookie: Optional[int] = None
        self.error: Optional[str] = found.error
        if found.fd is None and not found.openers and found.error is None:
            self.error = "could not be opened"
        #: Ticks: when the last dump started, and when its watch ended (``_FOREVER`` while open).
        self.dumped = -1
        self.until = -1
        #: ifindex -> tick: links read again one by one since the last dump (``_Reader.refresh``).
        self.read_at: Dict[int, int] = {}
        #: ifindexes that notifications touched since the last dump; ``overflow``: some were lost.
        self.taint: Set[int] = set()
        self.overflow = False
        #: The last dump was cut by a change and kept (watched: see ``WATCHED_DUMP_ATTEMPTS``).
        self.cut = False
        #: Its socket stopped answering: no more questions go to it.
        self.stuck = False
        #: Not watched itself but through the hub, without a gap since its last dump (as of the
        #: last ``confirm``; ``taint`` then holds what the hub heard about it).
        self.proxy = False

    def tick_of(self, index: int) -> int:
        """When the record of the link at ``index`` was read (or found absent)."""
        return self.read_at.get(index, self.dumped) if self.read_at else self.dumped

    @property
    def by_index(self) -> Dict[int, LinkRecord]:
        """The links by ifindex (built only when a notification or a retry needs it)."""
        if self._by_index is None:
            self._by_index = {link.ifindex: link for link in self.links}
        return self._by_index


def _watched(ns: _Namespace) -> bool:
    return ns.watching or ns.proxy


class Reading(NamedTuple):
    snapshot: Snapshot
    #: The pairing state the questions were planned with (None when ``pair`` was False).
    pairing: Optional[Pairing]


class _Reader:
    def __init__(self, discovery: Discovery, addresses: bool, room: int, sockets_searched: bool = True) -> None:
        self.discovery = discovery
        self.sockets_searched = sockets_searched
        self.addresses = addresses
        #: File descriptors this reader may hold at once: open channels plus temporary namespace fds.
        self.room = max(8, room)
        self.nss: Dict[int, _Namespace] = {found.inode: _Namespace(found) for found in discovery.namespaces}
        #: Every namespace read, in record order: discovery's, then any found by ``adopt_new``.
        self.found: List[FoundNamespace] = list(discovery.namespaces)
        #: Discoveries made during the read (closed with the reader), and whether one was made.
        self.extra: List[Discovery] = []
        self.rediscovered = False
        self.pinned: Set[int] = {inode for inode in (discovery.own_inode, discovery.root_inode)
                                 if inode is not None and inode in self.nss}
        #: Namespaces with an open channel, oldest first (closed first when room is needed).
        self.open: Dict[int, _Namespace] = {}
        self.tick = 0
        self.warnings: List[str] = list(discovery.warnings)
        #: Bumped by every dump: the records built for a snapshot stay good until then.
        self.dumps = 0
        #: The namespace whose socket hears every namespace it has an id for (root), if allowed.
        self.hub: Optional[_Namespace] = None
        if discovery.root_inode in self.nss and (HUB_WATCH is not False) and hub_allowed():
            self.hub = self.nss[discovery.root_inode]
        #: Whether namespaces other than the pinned ones are read without a watch of their own.
        self.proxied = False
        #: What the hub heard from other namespaces: (tick taken, event), and the tick it last lost some.
        self.hub_events: List[Tuple[int, netlink.LinkEvent]] = []
        self.hub_lost = -1
        #: Positive ids the kernel gave: (asker, target) -> id.
        self.given: Dict[Tuple[int, int], int] = {}
        #: Namespaces read again because an end's peer might have come into them unseen.
        self.refreshed: Set[int] = set()
        self._records: Optional[Tuple[object, Tuple[NamespaceRecord, ...]]] = None

    def _now(self) -> int:
        self.tick += 1
        return self.tick

    # -- file descriptors and channels ----------------------------------------------------------
    def _ns_fd(self, ns: _Namespace) -> Tuple[int, bool]:
        """An fd for the namespace and whether the caller must close it."""
        if ns.found.fd is not None:
            return ns.found.fd, False
        if ns.channel is not None:
            try:
                return ops.socket_netns(ns.channel.sock.fileno()), True  # our own socket: no side effect
            except OSError:
                pass
        return discover.reopen(ns.found), True

    def _take_events(self, ns: _Namespace) -> None:
        channel = ns.channel
        if channel is None or not ns.watching:
            return
        try:
            channel.drain()
        except OSError:
            ns.overflow = True
        if channel.overflow:
            ns.overflow = True
        tick = -1
        if ns is self.hub:
            tick = self._now()
            if ns.overflow:
                self.hub_lost = tick
        for event in channel.events:
            if event.nsid is not None:
                self.hub_events.append((tick, event))
                continue
            index = event.link.ifindex
            if event.deleted:
                ns.taint.add(index)
                continue
            record = ns.by_index.get(index)
            if record is None or _relevant(record) != _relevant(event.link):
                ns.taint.add(index)
        channel.events.clear()

    def _close(self, ns: _Namespace) -> None:
        channel = ns.channel
        if channel is None:
            return
        if ns.watching:
            self._take_events(ns)
            ns.until = self._now()
        channel.close()
        ns.channel = None
        ns.watching = False
        self.open.pop(ns.inode, None)

    def close_all(self) -> None:
        for ns in list(self.open.values()):
            if ns.channel is not None:
                ns.channel.close()
                ns.channel = None
        self.open.clear()
        for extra in self.extra:
            extra.close()
        self.extra.clear()

    def _free(self, keep: Set[int]) -> int:
        """Close the oldest channels not in ``keep`` (nor pinned) until half the room is free;
        returns how many channels may be made now (each needs a temporary fd while it is made)."""
        want = self.room // 2
        for inode in list(self.open):
            if self.room - len(self.open) >= want:
                break
            if inode not in keep and inode not in self.pinned:
                self._close(self.open[inode])
        return max(0, (self.room - len(self.open) - 2) // 2)

    def _connect(self, targets: Sequence[_Namespace], watch: bool, keep: Set[int]) -> int:
        """Make channels for a prefix of ``targets``; returns how many were dealt with (made, or
        failed with ``error`` set). 0 means no room could be made."""
        fits = self._free(keep)
        batch = list(targets[:fits])
        if not batch:
            return 0
        own = self.discovery.own_inode
        fds: List[Optional[int]] = []
        owned: List[int] = []
        made: List[_Namespace] = []
        for ns in batch:
            if ns.inode == own:
                fds.append(None)  # no setns needed (and works without privilege)
                made.append(ns)
                continue
            try:
                fd, mine = self._ns_fd(ns)
            except OSError as error:
                ns.error = _open_error(error)
                continue
            fds.append(fd)
            made.append(ns)
            if mine:
                owned.append(fd)
        try:
            results = ops.sockets_in(fds) if fds else []
        finally:
            for fd in owned:
                ops.close_quietly(fd)
        for ns, sock in zip(made, results):
            if isinstance(sock, OSError):
                ns.error = _enter_error(sock)
                continue
            try:
                ns.channel = netlink.Channel(sock, watch=watch, listen_all=watch and ns is self.hub)
            except OSError as error:
                sock.close()
                ns.error = f"cannot watch it: {error.strerror}"
                continue
            ns.watching = watch
            self.open[ns.inode] = ns
        return len(batch)

    def _batches(self, pending: List[_Namespace], watch: bool, keep: Set[int]) -> Iterator[List[_Namespace]]:
        """Channels for ``pending``, as many at a time as the room allows; yields each batch made.
        What no fd could be found for is marked unreadable."""
        while pending:
            done = self._connect(pending, watch, keep)
            if done == 0:
                for ns in pending:
                    ns.error = "not read: no file descriptor was free for it"
                return
            batch, pending = pending[:done], pending[done:]
            yield batch

    def _ensure(self, targets: Sequence[_Namespace], watch: bool) -> None:
        """A channel for every target that can have one (keeping them all open at once if the room
        allows; callers never ask for more than the room)."""
        pending = [ns for ns in targets if ns.channel is None and ns.error is None]
        for _batch in self._batches(pending, watch, {ns.inode for ns in targets}):
            pass

    # -- dumping --------------------------------------------------------------------------------
    def _label(self, ns: _Namespace) -> str:
        found = ns.found.namespace
        if found.names:
            return found.names[0]
        if found.paths:
            return found.paths[0]
        return f"net:[{ns.inode}]"

    def _dump(self, ns: _Namespace) -> None:
        channel = ns.channel
        assert channel is not None
        # What was queued before this dump belongs to before it (a channel made just now has
        # nothing queued worth a system call: anything that came would only make it cautious).
        if ns is self.hub:
            self._take_events(ns)  # what it heard of others stays news
        elif ns.dumped >= 0:
            with contextlib.suppress(OSError):
                channel.drain()
        channel.events.clear()
        channel.overflow = False
        if ns.taint:
            ns.taint = set()
        ns.overflow = False
        self.dumps += 1
        ns.dumped = self._now()
        ns.until = _FOREVER if ns.watching else -1
        ns.read_at = {}
        watched = ns.watching or (ns is self.hub and channel.listen_all)
        channel.dump_attempts = WATCHED_DUMP_ATTEMPTS if watched else netlink.DUMP_ATTEMPTS
        try:
            dump = channel.dump_links()
        except OSError as error:
            ns.error = f"cannot read it: {error.strerror or error}"
            self._close(ns)
            return
        ns.error = None
        ns.links = dump.records
        ns._by_index = None
        ns.cut = dump.interrupted
        if dump.interrupted:
            if len({link.ifindex for link in dump.records}) != len(dump.records):
                ns.links = list({link.ifindex: link for link in dump.records}.values())
            if not watched:
                self.warnings.append(f"the links of {self._label(ns)} kept changing while they were read")
        self._read_addresses(ns)
        if ns.cookie is None:
            ns.cookie = channel.cookie()
            if ns.cookie is None and ns.found.fd is not None:
                ns.cookie = ops.netns_fd_cookie(ns.found.fd)

    def _read_addresses(self, ns: _Namespace) -> None:
        channel = ns.channel
        assert channel is not None
        ns.addresses = []
        if self.addresses:
            try:
                ns.addresses, cut = channel.dump_addresses()
            except OSError as error:
                # Addresses are only shown: their trouble never costs the links.
                self.warnings.append(f"addresses of {self._label(ns)} could not be read: "
                                     f"{error.strerror or error}")
            else:
                if cut:
                    self.warnings.append(f"the addresses of {self._label(ns)} kept changing while they "
                                         "were read; shown as last read")

    def _refreshable(self, ns: _Namespace) -> bool:
        return (ns.channel is not None and ns.watching and ns.error is None and not ns.overflow and not ns.cut
                and ns.dumped >= 0 and len(ns.links) >= REFRESH_MIN_LINKS and 0 < len(ns.taint) <= REFRESH_MAX)

    def refresh(self, ns: _Namespace) -> None:
        """Bring a watched namespace's record up to date: the links its watch says changed since
        they were read are read again one by one, each at a tick of its own (``read_at``), the
        others stay as read (nothing touched them). Anything the watch cannot vouch for (lost
        notifications, a cut dump, too many changes) is dumped again instead."""
        channel = ns.channel
        self._take_events(ns)
        if channel is None or not self._refreshable(ns):
            self._dump(ns)
            return
        indexes = sorted(ns.taint)
        ns.taint = set()
        by_index = dict(ns.by_index)
        self.dumps += 1
        for index in indexes:
            ns.read_at[index] = self._now()
            try:
                record = channel.link(index)
            except OSError:
                self._dump(ns)  # (says why, as any failed dump does)
                return
            if record is None:
                by_index.pop(index, None)
            else:
                by_index[index] = record
        ns.links = sorted(by_index.values(), key=lambda link: link.ifindex)
        ns._by_index = None
        # Addresses are not watched: those dumped may belong to a device since deleted and
        # replaced at the same ifindex (or miss one made since). Read with the links again.
        self._read_addresses(ns)

    def _read(self, targets: Sequence[_Namespace], keep_open: bool, watch: bool = True) -> None:
        """Watch and dump each target, in windows when they do not all fit. A namespace without
        cross-namespace ends is closed right after its dump (nothing of it needs watching beyond
        its own consistency) unless ``keep_open``."""
        for ns in targets:
            if ns.channel is not None and not ns.watching:
                self._close(ns)  # a channel made only for questions: a watched one replaces it
        pending = [ns for ns in targets if ns.error is None and ns.channel is None]
        keep = {ns.inode for ns in targets} if keep_open else set()
        for batch in self._batches(pending, watch, keep):
            for position, ns in enumerate(batch):
                if ns.channel is None:
                    continue
                self._dump(ns)
                if position % 64 == 63:
                    self._hear_pinned()
                if ns.channel is not None and ns.inode not in self.pinned and not _has_cross_ends(ns.links):
                    self._close(ns)
            self._hear_pinned()

    def _hear_pinned(self) -> None:
        """Namespaces watched throughout (the root one) hear of every change on a busy host while
        the others are read: read their news as it comes, so that the kernel never has to drop
        any (which would make all of their pairs suspect)."""
        for inode in self.pinned:
            self._take_events(self.nss[inode])

    def read_all(self) -> None:
        """Every namespace watched from before its dump: the pinned ones (the hub among them)
        by sockets of their own; the rest by their own too, unless the hub's
        NETLINK_LISTEN_ALL_NSID socket hears them (``_hub_serves``: root's veths reach most of
        them), which spares the kernel a walk over every subscribed socket per subscription,
        quadratic in the namespaces (see the note above on what the hub hears)."""
        first = [self.nss[inode] for inode in sorted(self.pinned)]
        rest = [ns for inode, ns in self.nss.items() if inode not in self.pinned]
        self._read(first, keep_open=False)
        self.proxied = self._hub_serves(rest)
        self._read(rest, keep_open=False, watch=not self.proxied)

    def _hub_serves(self, others: Sequence[_Namespace]) -> bool:
        """Whether to read ``others`` without watches of their own: the hub hears every namespace
        root has an id for, and root's veths point into most of them (ids it surely has)."""
        hub = self.hub
        if hub is None or hub.channel is None or not hub.channel.listen_all:
            return False
        if HUB_WATCH is not None:
            return HUB_WATCH
        reached = {link.link_netnsid for link in hub.links
                   if link.kind in PEER_KINDS and link.link_netnsid is not None and link.link_netnsid >= 0}
        readable = sum(1 for ns in others if ns.error is None)
        return readable > 0 and len(reached) >= HUB_SHARE * readable

    # -- asking ---------------------------------------------------------------------------------
    def answer_round(self, questions: List[Question]) -> List[Answer]:
        by_asker: Dict[int, List[Question]] = {}
        for question in questions:
            by_asker.setdefault(question.asker, []).append(question)
        askers = list(by_asker)
        hub = self.hub
        if hub is not None and hub.inode in by_asker:
            # The hub answers last: what it can vouch for rests on the other sides' answers.
            askers.remove(hub.inode)
            askers.append(hub.inode)
        # Where the fd limit is low, the askers of one round take turns at the channels.
        turn_size = max(1, (self.room - 2) // 2)
        out: List[Answer] = []
        for start in range(0, len(askers), turn_size):
            turn = [self.nss[inode] for inode in askers[start : start + turn_size] if inode in self.nss]
            self._ensure([ns for ns in turn if not ns.stuck], watch=False)
            for asker in askers[start : start + turn_size]:
                fd_questions = [q for q in by_asker[asker] if isinstance(q, FdQuestion)]
                if hub is not None and asker == hub.inode and fd_questions:
                    vouched = self._vouch_all(fd_questions)
                    out.extend(vouched)
                    done = {answer.target for answer in vouched}
                    fd_questions = [q for q in fd_questions if q.target not in done]
                if len(fd_questions) > 1:
                    out.extend(self._answer_fds(asker, fd_questions))
                else:
                    out.extend(self._answer(question) for question in fd_questions)
                out.extend(self._answer(q) for q in by_asker[asker] if not isinstance(q, FdQuestion))
        return out

    def _answer_fds(self, asker: int, questions: List[FdQuestion]) -> List[Answer]:
        """Many RTM_GETNSID(NETNSA_FD) on one socket, pipelined (a root namespace may be asked
        about every other one, to confirm each pair from its side)."""
        channel = self._channel(asker)
        nsids: List[Optional[int]] = [None] * len(questions)
        if channel is not None:
            for start in range(0, len(questions), netlink.PIPELINE):
                chunk = questions[start : start + netlink.PIPELINE]
                fds: List[int] = []
                owned: List[int] = []
                asked: List[int] = []
                for i, question in enumerate(chunk):
                    target = self.nss.get(question.target)
                    if target is None:
                        continue
                    try:
                        fd, mine = self._ns_fd(target)
                    except OSError:
                        continue
                    fds.append(fd)
                    asked.append(start + i)
                    if mine:
                        owned.append(fd)
                try:
                    for position, nsid in zip(asked, channel.nsids_of_fds(fds)):
                        nsids[position] = nsid
                except OSError as error:
                    self._stuck(asker, error)
                    break
                finally:
                    for fd in owned:
                        ops.close_quietly(fd)
        for question, nsid in zip(questions, nsids):
            if nsid is not None and nsid >= 0:
                self.given[(question.asker, question.target)] = nsid
        return [NsidAnswer(q.asker, q.target, nsid) for q, nsid in zip(questions, nsids)]

    def _vouch_all(self, questions: Sequence[FdQuestion]) -> List[NsidAnswer]:
        """Root's ids that its watch shows, without asking (each RTM_GETNSID on root walks root's
        whole id table: 10 ms per thousand namespaces, and quadratic in them).

        Root's end h reported its peer at (ifindex e, id X) when root was dumped. If, since then,
        root saw no change at h and heard nothing from (X, e) (a peer moving away is a
        notification at its old place, tagged with root's id for that namespace), and X was
        neither given nor taken back, then h's peer sat at (X, e) the whole time. A namespace M
        dumped after root, with an end at e whose peer the kernel places at root's h (M's own id
        for root, which M's socket confirmed), is where h's peer is: veth peers are mutual, so X
        names M."""
        hub = self.hub
        assert hub is not None
        channel = hub.channel
        if (channel is None or not hub.watching or not channel.listen_all or not self.proxied
                or hub.overflow or self.hub_lost >= hub.dumped or hub.error is not None):
            return []
        self._take_events(hub)
        if hub.overflow or self.hub_lost >= hub.dumped:
            return []
        changed = set(channel.nsid_changes or ())
        heard = {(event.nsid, event.link.ifindex) for tick, event in self.hub_events if tick >= hub.dumped}
        out: List[NsidAnswer] = []
        for question in questions:
            target = self.nss.get(question.target)
            if target is None:
                continue
            nsid = self._vouch(hub, target, changed, heard)
            if nsid is not None:
                self.given[(hub.inode, target.inode)] = nsid
                out.append(NsidAnswer(hub.inode, target.inode, nsid, watched=True))
        return out

    def _vouch(self, hub: _Namespace, target: _Namespace, changed: Set[int],
               heard: Set[Tuple[Optional[int], int]]) -> Optional[int]:
        back = self.given.get((target.inode, hub.inode))
        if back is None or target.error is not None or target.dumped <= hub.dumped:
            return None
        found: Optional[int] = None
        for link in target.links:
            if link.kind not in PEER_KINDS or link.link_netnsid != back:
                continue
            index = link.link if link.link is not None else link.ifindex
            end = hub.by_index.get(index)
            if (end is None or end.kind not in PEER_KINDS or end.link_netnsid is None or end.link_netnsid < 0
                    or (end.link if end.link is not None else end.ifindex) != link.ifindex or index in hub.taint
                    or target.dumped <= hub.tick_of(index)):
                continue
            nsid = end.link_netnsid
            if nsid in changed or (nsid, link.ifindex) in heard:
                continue
            if found is not None and found != nsid:
                return None  # two ends disagree: let the kernel say
            found = nsid
        return found

    def _channel(self, inode: int) -> Optional[Channel]:
        ns = self.nss.get(inode)
        if ns is None or ns.stuck:
            return None
        return ns.channel

    def _stuck(self, inode: int, error: OSError) -> None:
        if isinstance(error, netlink.NetlinkTimeout):
            ns = self.nss[inode]
            if not ns.stuck:
                ns.stuck = True
                self.warnings.append(f"namespace {self._label(ns)} stopped answering ({error.strerror}); "
                                     "its questions were skipped")

    def _answer(self, question: Question) -> Answer:
        channel = self._channel(question.asker)
        if isinstance(question, FdQuestion):
            nsid: Optional[int] = None
            target = self.nss.get(question.target)
            if channel is not None and target is not None:
                try:
                    fd, mine = self._ns_fd(target)
                except OSError:
                    fd, mine = -1, False
                if fd >= 0:
                    try:
                        nsid = channel.nsid_of_fd(fd)
                    except OSError as error:
                        self._stuck(question.asker, error)
                    finally:
                        if mine:
                            ops.close_quietly(fd)
            if nsid is not None and nsid >= 0:
                self.given[(question.asker, question.target)] = nsid
            return NsidAnswer(question.asker, question.target, nsid)
        if isinstance(question, ViaQuestion):
            via: Optional[int] = None
            if channel is not None:
                try:
                    via = channel.nsid_via(question.nsid, question.hub_nsid)
                except OSError as error:
                    self._stuck(question.asker, error)  # or EPERM without CAP_NET_ADMIN over the hub
            return ViaAnswer(question.asker, question.nsid, question.hub, via)
        assert isinstance(question, HintQuestion)
        link: Optional[LinkRecord] = None
        if channel is not None:
            try:
                link = channel.link_in(question.nsid, question.ifindex)
            except OSError as error:
                self._stuck(question.asker, error)
        return HintAnswer(question.asker, question.nsid, question.ifindex, link)

    # -- confirming -----------------------------------------------------------------------------
    def _covers(self, watched: _Namespace, index: int, other: _Namespace, other_index: int) -> bool:
        """Whether ``watched`` was watched, without a change to its end ``index``, from when that
        end was read until after ``other``'s end ``other_index`` was read: then, at that moment,
        both ends were what was read. (The same namespace: one dump holds both ends, and only they
        matter; when one of them was read again on its own, neither may have changed since.)"""
        if watched.proxy and not watched.watching:
            # Watched through the hub, which has listened since before any dump.
            return index not in watched.taint and (watched is other
                                                   or watched.tick_of(index) <= other.tick_of(other_index))
        until = _FOREVER if watched.watching else watched.until
        if watched is other:
            if until < 0:
                return True
            apart = index in watched.read_at or other_index in watched.read_at
            return (not watched.overflow and index not in watched.taint
                    and not (apart and other_index in watched.taint))
        return (until >= 0 and not watched.overflow and index not in watched.taint
                and watched.tick_of(index) <= other.tick_of(other_index) <= until)

    def confirm(self, pairing: Pairing) -> Tuple[Set[EndKey], List[Tuple[int, int]]]:
        """The ends that cannot be shown to have held at one moment (those of pairs, and unpaired
        ones seen changing), and the groups of namespaces worth reading again together."""
        watched = [ns for ns in self.open.values() if ns.watching and ns.channel is not None]
        poller = select.poll()
        by_fd: Dict[int, _Namespace] = {}
        for ns in watched:
            assert ns.channel is not None
            fd = ns.channel.sock.fileno()
            by_fd[fd] = ns
            poller.register(fd, select.POLLIN)
        # One poll says which of thousands of sockets have anything queued at all; what arrived
        # while answers were read is already in ``events``.
        ready = {by_fd[fd].inode for fd, _event in poller.poll(0)}
        for ns in watched:
            assert ns.channel is not None
            if ns.inode in ready or ns.channel.events or ns.channel.overflow:
                self._take_events(ns)
        self._update_proxies(pairing)
        bad: Set[EndKey] = set()
        groups: Dict[Tuple[int, int], None] = {}
        for key, other in pairing.proven():
            a, b = self.nss[key[0]], self.nss[other[0]]
            held = self._covers(a, key[1], b, other[1]) or self._covers(b, other[1], a, key[1])
            if not held:
                bad.update((key, other))
                groups[(min(a.inode, b.inode), max(a.inode, b.inode))] = None
        # Ends the kernel could not pair while they, or where they point, changed: reading again may
        # pair them (a peer still being made, one that moved in), and if they never settle they
        # are ``changing``, not a verdict about their peer.
        changed = [ns.inode for ns in self.nss.values() if ns.taint or ns.overflow]
        for ns in self.nss.values():
            # A port's master, or a device's lower in the same namespace, missing from a cut dump
            # may have been skipped (see ``skipped``).
            if ns.cut and ns.error is None and any(
                    (link.master and link.master not in ns.by_index)
                    or (link.link_netnsid is None and link.link and link.link not in ns.by_index)
                    for link in ns.links):
                groups[(ns.inode, ns.inode)] = None
        cut = [ns for ns in self.nss.values() if ns.cut and ns.error is None]
        if cut:
            # A lower in another namespace: its namespace's, or (not known yet: a skipped lower
            # leaves no candidate to ask about) each cut one without that ifindex.
            for end, known in pairing.lowers.waiting():
                for ns in cut:
                    if (known is None or known == ns.inode) and end.target not in ns.by_index:
                        groups[(ns.inode, ns.inode)] = None
        for key, reason in pairing.reasons():
            if reason not in _RETRY:
                continue
            ns = self.nss[key[0]]
            link = ns.by_index.get(key[1])
            if link is None:
                continue
            target = pairing.facts.named(ns.inode, link.link_netnsid)
            peer_ns = self.nss.get(target) if target is not None else None
            if peer_ns is not None:
                peer_index = link.link if link.link is not None else link.ifindex
                # Unwatched, a contradiction is itself the sign of a change: read both, watched.
                unknown = (reason != "peer-netns-unreachable" and peer_ns.error is None
                           and not (_watched(ns) and _watched(peer_ns)))
                # A cut dump may have skipped an unchanged device (older kernels): a peer missing
                # from one is looked for again.
                skipped = peer_ns.cut and peer_index not in peer_ns.by_index
                if not (unknown or skipped or key[1] in ns.taint or ns.overflow or peer_index in peer_ns.taint
                        or peer_ns.overflow):
                    continue
                bad.add(key)
                groups[(min(ns.inode, peer_ns.inode), max(ns.inode, peer_ns.inode))] = None
            else:
                if link.link_netnsid is None and ns.cut and link.link and link.link not in ns.by_index:
                    # Both ends here, the other missing from a cut dump: as ``skipped`` above.
                    bad.add(key)
                    groups[(ns.inode, ns.inode)] = None
                    continue
                if link.link_netnsid is not None:
                    # A peer skipped by a cut dump leaves no candidate to ask about, so its
                    # namespace stays unknown: each cut one without that ifindex is read again
                    # (not ``bad``: a peer that is truly hidden is not ``changing``).
                    peer_index = link.link if link.link is not None else link.ifindex
                    for suspect in cut:
                        if suspect is not ns and peer_index not in suspect.by_index:
                            groups[(min(ns.inode, suspect.inode), max(ns.inode, suspect.inode))] = None
                # Its peer's namespace is not known. The peer may have come (silently for this
                # end) into a namespace that was read before and not watched since, having had
                # nothing that needed watching: such records may predate it, so they are read
                # again with this one (once per scan: one with nothing cross-namespace is not
                # watched after that read either, and a genuinely unreachable peer must not make
                # it read again and again).
                stale = ([inode for inode in self._unwatched_since_read(ns) if inode not in self.refreshed]
                         if reason == "peer-netns-unreachable" else [])
                self.refreshed.update(stale)
                tainted = key[1] in ns.taint or ns.overflow
                if tainted or stale:
                    bad.add(key)
                    for inode in (*(changed if tainted else ()), *stale):
                        groups[(min(ns.inode, inode), max(ns.inode, inode))] = None
        return bad, list(groups)

    def adopt_new(self, pairing: Pairing,
                  rediscover: Callable[[bool], Optional[Discovery]]) -> List[Tuple[int, int]]:
        """Namespaces made after discovery looked, found by looking once more, and the groups to
        read them in.

        An end whose peer's namespace no namespace read knows by its id may have a peer in a
        namespace made during the scan (a pod starting): then it was unreachable only because
        discovery came too early. ``rediscover(heard)`` discovers again when that can have
        happened (``heard``: the hub heard root give or take back an id since it listened; the
        caller also checks the mount table), else returns None: a namespace that is simply hidden
        (held by a socket, say) costs no second discovery. Once per read."""
        if self.rediscovered:
            return []
        unknown = []
        for key, reason in pairing.reasons():
            if reason != "peer-netns-unreachable":
                continue
            link = self.nss[key[0]].by_index.get(key[1])
            if (link is not None and link.link_netnsid is not None
                    and pairing.facts.named(key[0], link.link_netnsid) is None):
                unknown.append(key[0])
        if not unknown:
            return []
        self.rediscovered = True
        hub = self.hub
        heard = bool(hub is not None and hub.channel is not None and hub.channel.nsid_changes)
        try:
            found = rediscover(heard)
        except (OSError, ValueError):
            return []
        if found is None:
            return []
        self.extra.append(found)
        groups: Dict[Tuple[int, int], None] = {}
        for item in found.namespaces:
            if item.inode in self.nss or item.error is not None:
                continue
            self.nss[item.inode] = _Namespace(item)
            self.found.append(item)
            for inode in unknown:
                groups[(min(inode, item.inode), max(inode, item.inode))] = None
        return list(groups)

    def _unwatched_since_read(self, ns: _Namespace) -> List[int]:
        return [other.inode for other in self.nss.values()
                if other is not ns and other.error is None and other.dumped >= 0 and not _watched(other)]

    def _update_proxies(self, pairing: Pairing) -> None:
        """Which namespaces not watched themselves the hub watched since their last dump, and what
        it heard about each (into ``taint``). Root's id for a namespace counts once the kernel
        has confirmed it and only if no id was given or taken back since the hub listened: then
        the id meant that namespace throughout (ids are never reused while both live)."""
        hub = self.hub
        usable = (self.proxied and hub is not None and hub.channel is not None and hub.watching
                  and hub.channel.listen_all)
        for ns in self.nss.values():
            ns.proxy = False
        if not usable:
            return
        assert hub is not None and hub.channel is not None
        ids = pairing.facts.ids(hub.inode)
        changed_ids = set(hub.channel.nsid_changes or ())
        heard: Dict[int, List[Tuple[int, netlink.LinkEvent]]] = {}
        for tick, event in self.hub_events:
            assert event.nsid is not None
            heard.setdefault(event.nsid, []).append((tick, event))
        # A root end whose peer was reported at a place something happened since root was read
        # (the peer moved away, silently for root) is as suspect as one that changed itself.
        places: Dict[Tuple[Optional[int], int], int] = {}
        for tick, event in self.hub_events:
            if tick >= hub.dumped:
                places[(event.nsid, event.link.ifindex)] = tick
        if places:
            for link in hub.links:
                if link.kind in PEER_KINDS and link.link_netnsid is not None:
                    heard_at = places.get((link.link_netnsid, link.link if link.link is not None else link.ifindex))
                    if heard_at is not None and heard_at >= hub.tick_of(link.ifindex):
                        hub.taint.add(link.ifindex)
        for ns in self.nss.values():
            if ns.watching or ns is hub or ns.error is not None or ns.dumped < 0:
                continue
            nsid = ids.get(ns.inode)
            if nsid is None or nsid in changed_ids or self.hub_lost >= ns.dumped:
                continue
            taint: Set[int] = set()
            for tick, event in heard.get(nsid, ()):
                if tick < ns.dumped:
                    continue  # taken before its dump began, so it happened before too
                index = event.link.ifindex
                record = ns.by_index.get(index)
                if event.deleted or record is None or _relevant(record) != _relevant(event.link):
                    taint.add(index)
            ns.proxy = True
            ns.taint = taint

    def _clean(self, ns: _Namespace) -> bool:
        """Watched (itself or through the hub) without a break since its last dump, and nothing in
        it has changed since."""
        watched = (ns.channel is not None and ns.watching) or ns.proxy
        return watched and not ns.taint and not ns.overflow and not ns.cut and ns.error is None

    def reread(self, groups: Sequence[Tuple[int, int]]) -> None:
        """Dump the namespaces of each group again so that every group's namespaces are watched
        together. A namespace that is still watched and clean keeps its dump: a fresh dump of the
        other side, watched while it still is, proves the pair (a root namespace that lost
        notifications is dumped again once, not with every namespace paired to it)."""
        degree: Dict[int, int] = {}
        for group in groups:
            for inode in set(group):
                degree[inode] = degree.get(inode, 0) + 1
        members = [self.nss[inode] for inode in degree if inode in self.nss]
        clean = {ns.inode for ns in members if self._clean(ns)}
        # Clean ones must stay open while their partners are read; namespaces in several groups
        # stay open across windows, so each is dumped only once. Both within the room.
        hold = sorted((inode for inode in degree if inode not in self.pinned),
                      key=lambda inode: (inode not in clean, -degree[inode]))
        room_to_hold = max(0, self.room // 3 - len(self.pinned))
        hold = [inode for inode in hold if inode in clean or degree[inode] > 1][:room_to_hold]
        saved = set(self.pinned)
        self.pinned.update(hold)
        done: Set[int] = {inode for inode in clean if inode in self.pinned}
        try:
            window: List[int] = []
            capacity = max(2, (self.room - len(self.pinned)) // 2 - 1)

            def flush() -> None:
                targets = [self.nss[inode] for inode in window if inode not in done]
                # Those still watched are dumped again in place; their watch goes on.
                for ns in targets:
                    if ns.channel is not None and ns.watching and ns.error is None:
                        self.refresh(ns)
                        done.add(ns.inode)
                self._read([ns for ns in targets if ns.inode not in done], keep_open=True)
                done.update(ns.inode for ns in targets)
                window.clear()

            for group in groups:
                need = [inode for inode in dict.fromkeys(group)
                        if inode in self.nss and inode not in window and inode not in done]
                if len(window) + len(need) > capacity:
                    flush()
                window.extend(need)
            flush()
        finally:
            self.pinned = saved

    # -- the result -----------------------------------------------------------------------------
    def _cookie_unread(self, ns: _Namespace) -> Optional[int]:
        """The cookie of a namespace that could not be read, where an fd to it can still be had
        (NS_GET_ID needs no entering): a watch knows a namespace by its cookie, and one that
        failed a single scan (a socket that did not answer) must not look like another one."""
        if ns.found.fd is not None:
            return ops.netns_fd_cookie(ns.found.fd)
        try:
            fd = discover.reopen(ns.found)
        except OSError:
            return None
        try:
            return ops.netns_fd_cookie(fd)
        finally:
            ops.close_quietly(fd)

    def _namespace_records(self) -> Tuple[NamespaceRecord, ...]:
        # Keyed on the dumps made and the namespaces in error: nothing else changes a record.
        key = (self.dumps, tuple((ns.inode, ns.error) for ns in self.nss.values() if ns.error is not None))
        if self._records is not None and self._records[0] == key:
            return self._records[1]
        records = []
        for found in self.found:
            ns = self.nss[found.inode]
            if ns.cookie is None and ns.error is not None:
                ns.cookie = self._cookie_unread(ns)
            records.append(NamespaceRecord(
                found.namespace._replace(
                    cookie=ns.cookie, error=ns.error, root=found.inode == self.discovery.root_inode,
                    own=found.inode == self.discovery.own_inode),
                tuple(ns.links) if ns.error is None else (), tuple(ns.addresses) if ns.error is None else ()))
        self._records = (key, tuple(records))
        return self._records[1]

    def snapshot(self, answers: Iterable[Answer], changing: Iterable[EndKey]) -> Snapshot:
        records = self._namespace_records()
        warnings = list(dict.fromkeys(self.warnings))
        unreadable = [r.namespace.error for r in records if r.namespace.error is not None]
        if unreadable:
            warnings.append(f"{len(unreadable)} namespaces could not be read; first: {unreadable[0]}")
        nsids: List[NsidAnswer] = []
        vias: List[ViaAnswer] = []
        hints: List[HintAnswer] = []
        for answer in answers:
            if isinstance(answer, NsidAnswer):
                nsids.append(answer)
            elif isinstance(answer, ViaAnswer):
                vias.append(answer)
            else:
                hints.append(answer)
        return Snapshot(records, tuple(nsids), tuple(vias), tuple(hints), self.discovery.root_source,
                        tuple(warnings), tuple(sorted(set(changing))), self.sockets_searched,
                        tun_files=self.discovery.tun_files)


def _positive(answer: Answer) -> bool:
    """Whether an answer stays true while the namespaces live: an id, once given, is never changed
    or taken back while both namespaces exist, but "no id" can stop being true at any time."""
    if isinstance(answer, NsidAnswer):
        return answer.nsid is not None and answer.nsid >= 0
    if isinstance(answer, ViaAnswer):
        return answer.answer is not None and answer.answer >= 0
    return False  # a link's attributes can change


def read(discovery: Discovery, *, addresses: bool = True, pair: bool = True, room: int = 1 << 20,
         sockets_searched: bool = True,
         rediscover: Optional[Callable[[bool], Optional[Discovery]]] = None) -> Reading:
    """Dump every namespace of ``discovery`` and gather the nsid answers pairing needs.

    ``room`` is how many file descriptors the reader may hold at once; ``sockets_searched`` says
    whether discovery looked inside other processes' sockets (unresolved ends mention it if not).
    ``rediscover`` finds namespaces made after ``discovery`` (see ``_Reader.adopt_new``); what it
    returns is closed with the reader.
    """
    reader = _Reader(discovery, addresses, room, sockets_searched)
    try:
        reader.read_all()
        if not pair:
            return Reading(reader.snapshot((), ()), None)
        answers: List[Answer] = []
        changing: Set[EndKey] = set()
        for round_number in range(REREADS + 1):
            pairing = Pairing(reader.snapshot(answers, changing))
            answers.extend(drive(pairing, reader.answer_round))
            bad, groups = reader.confirm(pairing)
            if rediscover is not None and round_number < REREADS:
                groups = groups + reader.adopt_new(pairing, rediscover)
            if not bad and not groups:
                break
            if round_number == REREADS:
                if bad:
                    changing.update(bad)
                    pairing = Pairing(reader.snapshot(answers, changing))
                    answers.extend(drive(pairing, reader.answer_round))
                break
            reader.reread(groups)
            answers = [answer for answer in answers if _positive(answer)]
        return Reading(reader.snapshot(answers, changing), pairing)
    finally:
        reader.close_all()
