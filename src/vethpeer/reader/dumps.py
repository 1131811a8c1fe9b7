"""Dumping namespaces (links, addresses, cookies) while they are watched, and reading links again.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

from ..host.channel import DUMP_ATTEMPTS
from ..model import PEER_KINDS
from .channels import Channels
from .state import (
    _FOREVER,
    HUB_SHARE,
    REFRESH_MAX,
    WATCHED_DUMP_ATTEMPTS,
    NsState,
    _has_cross_ends,
)


class Dumps(Channels):
    """Reading namespaces' links and addresses through their channels."""

    # -- dumping --------------------------------------------------------------------------------
    def _label(self, ns: NsState) -> str:
        found = ns.found.namespace
        if found.names:
            return found.names[0]
        if found.paths:
            return found.paths[0]
        return f"net:[{ns.inode}]"

    def _begin(self, ns: NsState) -> bool:
        """Start a read of ``ns`` afresh (what it heard before belongs to before); returns whether
        its channel is watched through it."""
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
        ns.cut = False
        return ns.watching or (ns is self.hub and channel.listen_all)

    def _dump(self, ns: NsState) -> None:
        if ns.partial is not None:
            self._read_part(ns)
            return
        watched = self._begin(ns)
        channel = ns.channel
        assert channel is not None
        channel.dump_attempts = WATCHED_DUMP_ATTEMPTS if watched else DUMP_ATTEMPTS
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
        self._cookie(ns)

    def _cookie(self, ns: NsState) -> None:
        if ns.cookie is None and ns.channel is not None:
            ns.cookie = ns.channel.cookie()
            if ns.cookie is None and ns.found.fd is not None:
                ns.cookie = self.kernel.cookie_of_fd(ns.found.fd)

    def _read_part(self, ns: NsState) -> None:
        """A namespace read in part: each ifindex of ``partial`` read on its own (RTM_GETLINK), at
        a tick of its own (``read_at``), with the masters of those found (which become part of
        it); the addresses of those found. Watched from before, as a dump is."""
        wanted = ns.partial
        assert wanted is not None
        self._begin(ns)
        channel = ns.channel
        assert channel is not None
        found = {}
        queue = sorted(wanted, reverse=True)
        try:
            while queue:
                index = queue.pop()
                ns.read_at[index] = self._now()
                record = channel.link(index)
                if record is None:
                    continue
                found[index] = record
                if record.master and record.master not in wanted:
                    wanted.add(record.master)
                    queue.append(record.master)
        except OSError as error:
            ns.error = f"cannot read it: {error.strerror or error}"
            self._close(ns)
            return
        ns.error = None
        ns.links = [found[index] for index in sorted(found)]
        ns._by_index = None
        self._read_addresses(ns)
        self._cookie(ns)

    def _read_addresses(self, ns: NsState) -> None:
        channel = ns.channel
        assert channel is not None
        ns.addresses = []
        if self.addresses:
            try:
                if ns.partial is None:
                    ns.addresses, cut = channel.dump_addresses()
                else:
                    ns.addresses, cut = channel.addresses_of([link.ifindex for link in ns.links])
            except OSError as error:
                # Addresses are only shown: their trouble never costs the links.
                self.warnings.append(f"addresses of {self._label(ns)} could not be read: "
                                     f"{error.strerror or error}")
            else:
                if cut:
                    self.warnings.append(f"the addresses of {self._label(ns)} kept changing while they "
                                         "were read; shown as last read")

    def _refreshable(self, ns: NsState) -> bool:
        return (ns.channel is not None and ns.watching and ns.error is None and not ns.overflow and not ns.cut
                and ns.dumped >= 0 and len(ns.links) >= self.tuning.refresh_min_links
                and 0 < len(ns.taint) <= REFRESH_MAX)

    def refresh(self, ns: NsState) -> None:
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

    def _read(self, targets: Sequence[NsState], keep_open: bool, watch: bool = True) -> None:
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
        first = [self.nss[inode] for inode in sorted(self.pinned) if self.nss[inode].partial is None]
        rest = [ns for inode, ns in self.nss.items() if inode not in self.pinned and ns.partial is None]
        self._read(first, keep_open=False)
        self.proxied = self._hub_serves(rest)
        self._read(rest, keep_open=False, watch=not self.proxied)
        parts = [ns for ns in self.nss.values() if ns.partial is not None]
        if parts:
            # What the whole ones point at elsewhere: veth and netkit peers, lowers.
            elsewhere = {index for ns in self.nss.values() if ns.partial is None for link in ns.links
                         if link.link_netnsid is not None
                         for index in ((link.peer_index,) if link.kind in PEER_KINDS else (link.link or 0,))
                         if index > 0}
            for ns in parts:
                assert ns.partial is not None
                ns.partial.update(elsewhere)
            self._read(parts, keep_open=True)

    def _hub_serves(self, others: Sequence[NsState]) -> bool:
        """Whether to read ``others`` without watches of their own: the hub hears every namespace
        root has an id for, and root's veths point into most of them (ids it surely has)."""
        hub = self.hub
        if hub is None or hub.channel is None or not hub.channel.listen_all:
            return False
        if self.tuning.hub is not None:
            return self.tuning.hub
        reached = {link.link_netnsid for link in hub.links
                   if link.kind in PEER_KINDS and link.link_netnsid is not None and link.link_netnsid >= 0}
        readable = sum(1 for ns in others if ns.error is None)
        return readable > 0 and len(reached) >= HUB_SHARE * readable
