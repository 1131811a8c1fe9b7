"""The reader's sockets: one per namespace, opened in windows of the fd budget, and watches.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Collection, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

from ..discover import Discovery, FoundNamespace
from ..host import netlink
from ..snapshot import NamespaceRecord
from .kernel import HOST_KERNEL, Kernel
from .state import DEFAULT_TUNING, NsState, Tuning, _enter_error, _open_error, _relevant


class Channels:
    """The namespaces being read, their sockets and the ticks their watches are measured in."""

    def __init__(self, discovery: Discovery, addresses: bool, room: int, sockets_searched: bool = True,
                 tuning: Tuning = DEFAULT_TUNING, kernel: Kernel = HOST_KERNEL,
                 partial: Mapping[int, Collection[int]] = MappingProxyType({})) -> None:
        self.discovery = discovery
        self.tuning = tuning
        self.kernel = kernel
        self.sockets_searched = sockets_searched
        self.addresses = addresses
        #: File descriptors this reader may hold at once: open channels plus temporary namespace fds.
        self.room = max(8, room)
        self.nss: Dict[int, NsState] = {found.inode: NsState(found) for found in discovery.namespaces}
        for inode, indexes in partial.items():
            if inode in self.nss:
                self.nss[inode].partial = set(indexes)
        #: Every namespace read, in record order: discovery's, then any found by ``adopt_new``.
        self.found: List[FoundNamespace] = list(discovery.namespaces)
        #: Discoveries made during the read (closed with the reader), and whether one was made.
        self.extra: List[Discovery] = []
        self.rediscovered = False
        self.pinned: Set[int] = {inode for inode in (discovery.own_inode, discovery.root_inode)
                                 if inode is not None and inode in self.nss}
        #: Namespaces with an open channel, oldest first (closed first when room is needed).
        self.open: Dict[int, NsState] = {}
        self.tick = 0
        self.warnings: List[str] = list(discovery.warnings)
        #: Bumped by every dump: the records built for a snapshot stay good until then.
        self.dumps = 0
        #: The namespace whose socket hears every namespace it has an id for (root), if allowed.
        self.hub: Optional[NsState] = None
        # (Not with namespaces read in part: the few others are watched by sockets of their own.)
        if (discovery.root_inode in self.nss and tuning.hub is not False and not partial
                and kernel.hub_allowed()):
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
        #: Pairs shown to have held at one moment before a reread, with what their two ends were
        #: then (``_relevant``): the same ends read again unchanged are still that pair.
        self.held: Dict[Tuple[Tuple[int, int], Tuple[int, int]], Tuple[object, object]] = {}
        self._records: Optional[Tuple[object, Tuple[NamespaceRecord, ...]]] = None

    def _now(self) -> int:
        self.tick += 1
        return self.tick

    # -- file descriptors and channels ----------------------------------------------------------
    def _ns_fd(self, ns: NsState) -> Tuple[int, bool]:
        """An fd for the namespace and whether the caller must close it."""
        if ns.found.fd is not None:
            return ns.found.fd, False
        if ns.channel is not None:
            try:
                return self.kernel.netns_of(ns.channel), True  # our own socket: no side effect
            except OSError:
                pass
        return self.kernel.reopen(ns.found), True

    def _take_events(self, ns: NsState) -> None:
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
            if ns.partial is not None and index not in ns.partial:
                continue  # not read: nothing was said of it
            if event.deleted:
                ns.taint.add(index)
                continue
            record = ns.by_index.get(index)
            if record is None or _relevant(record) != _relevant(event.link):
                ns.taint.add(index)
        channel.events.clear()

    def _close(self, ns: NsState) -> None:
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

    def _connect(self, targets: Sequence[NsState], watch: bool, keep: Set[int]) -> int:
        """Make channels for a prefix of ``targets``; returns how many were dealt with (made, or
        failed with ``error`` set). 0 means no room could be made."""
        fits = self._free(keep)
        batch = list(targets[:fits])
        if not batch:
            return 0
        own = self.discovery.own_inode
        fds: List[Optional[int]] = []
        owned: List[int] = []
        made: List[NsState] = []
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
            results = self.kernel.sockets_in(fds) if fds else []
        finally:
            for fd in owned:
                self.kernel.close_fd(fd)
        for ns, sock in zip(made, results):
            if isinstance(sock, OSError):
                ns.error = _enter_error(sock)
                continue
            try:
                ns.channel = self.kernel.channel(sock, watch, watch and ns is self.hub)
            except OSError as error:
                sock.close()
                ns.error = f"cannot watch it: {error.strerror}"
                continue
            ns.watching = watch
            self.open[ns.inode] = ns
        return len(batch)

    def _batches(self, pending: List[NsState], watch: bool, keep: Set[int]) -> Iterator[List[NsState]]:
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

    def _ensure(self, targets: Sequence[NsState], watch: bool) -> None:
        """A channel for every target that can have one (keeping them all open at once if the room
        allows; callers never ask for more than the room)."""
        pending = [ns for ns in targets if ns.channel is None and ns.error is None]
        for _batch in self._batches(pending, watch, {ns.inode for ns in targets}):
            pass
