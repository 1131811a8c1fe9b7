"""Whether each pair held at one moment (watch ticks, taint, the hub), and what to read again.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

from ..host import netlink
from ..model import PEER_KINDS
from ..resolve import EndKey, Pairing
from .asking import Asking
from .state import _FOREVER, _RETRY, NsState, _relevant, _watched


class Confirming(Asking):
    """What the watches say about the pairs found, and reading again what they cast doubt on."""

    # -- confirming -----------------------------------------------------------------------------
    def _covers(self, watched: NsState, index: int, other: NsState, other_index: int) -> bool:
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
        self._take_all_events()
        self._update_proxies(pairing)
        bad: Set[EndKey] = set()
        groups: Dict[Tuple[int, int], None] = {}
        held = self._check_pairs(pairing, bad, groups)
        cut = self._check_cut(pairing, groups)
        self._check_unpaired(pairing, cut, bad, groups)
        if groups:
            self._remember(held, groups)
        return bad, list(groups)

    def _take_all_events(self) -> None:
        """Take in what every watched socket heard since it was last read."""
        watched = [ns for ns in self.open.values() if ns.watching and ns.channel is not None]
        # What arrived while answers were read is already in ``events``.
        ready = self.kernel.ready([ns.channel for ns in watched if ns.channel is not None])
        for ns, news in zip(watched, ready):
            assert ns.channel is not None
            if news or ns.channel.events or ns.channel.overflow:
                self._take_events(ns)

    def _check_pairs(self, pairing: Pairing, bad: Set[EndKey],
                     groups: Dict[Tuple[int, int], None]) -> List[Tuple[EndKey, EndKey]]:
        """Each proven pair whose two records cannot be shown to have held at one moment; returns
        those that held."""
        held: List[Tuple[EndKey, EndKey]] = []
        for key, other in pairing.proven():
            a, b = self.nss[key[0]], self.nss[other[0]]
            if (self._covers(a, key[1], b, other[1]) or self._covers(b, other[1], a, key[1])
                    or self._held_before(key, other)):
                held.append((key, other))
            else:
                bad.update((key, other))
                groups[(min(a.inode, b.inode), max(a.inode, b.inode))] = None
        return held

    def _ends(self, key: EndKey, other: EndKey) -> Tuple[Tuple[EndKey, EndKey], Tuple[object, object]]:
        first, second = (key, other) if key <= other else (other, key)
        one, two = self.nss[first[0]].by_index.get(first[1]), self.nss[second[0]].by_index.get(second[1])
        return (first, second), (one and _relevant(one), two and _relevant(two))

    def _held_before(self, key: EndKey, other: EndKey) -> bool:
        """Whether the pair held at one moment before a reread with both ends as they are now read
        (a reread of one side for another pair's sake must not undo what was shown: with few
        file descriptors, three namespaces paired to each other in a ring were reread in turn,
        each read breaking the last pair shown, until the pair was called ``changing``)."""
        if not self.held:
            return False
        pair, ends = self._ends(key, other)
        return self.held.get(pair) == ends

    def _remember(self, held: List[Tuple[EndKey, EndKey]], groups: Dict[Tuple[int, int], None]) -> None:
        """Keep the pairs shown that a reread of ``groups`` may touch (no other record changes)."""
        touched = {inode for group in groups for inode in group}
        for key, other in held:
            if key[0] in touched or other[0] in touched:
                pair, ends = self._ends(key, other)
                self.held[pair] = ends

    def _check_cut(self, pairing: Pairing, groups: Dict[Tuple[int, int], None]) -> List[NsState]:
        """Namespaces whose dump was cut and may have skipped what a relation points at; returns
        every readable namespace with a cut dump."""
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
        return cut

    def _check_unpaired(self, pairing: Pairing, cut: List[NsState], bad: Set[EndKey],
                        groups: Dict[Tuple[int, int], None]) -> None:
        """Ends the kernel could not pair while they, or where they point, changed: reading again
        may pair them (a peer still being made, one that moved in), and if they never settle they
        are ``changing``, not a verdict about their peer."""
        changed = [ns.inode for ns in self.nss.values() if ns.taint or ns.overflow]
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
                peer_index = link.peer_index
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
                    peer_index = link.peer_index
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

    def _unwatched_since_read(self, ns: NsState) -> List[int]:
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
                    heard_at = places.get((link.link_netnsid, link.peer_index))
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

    def _clean(self, ns: NsState) -> bool:
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
