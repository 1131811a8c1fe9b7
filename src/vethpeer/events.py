"""What changed between two scans, as events: a pure diff of two Topologies (``vethpeer watch``).

``watcher`` decides *when* to scan; this module says *what* changed, from the two Topologies
alone, so every event carries the proof its scan had. Identity across scans: a namespace by its
cookie (never reused during a boot; (dev, inode) where the kernel gives no cookie); a link by
(namespace, ifindex). A pair that vanished and one that appeared with one end in common are one
``end-moved`` when the other old end is gone from where it was, the other new end was not there
before, and both have the same kind and MAC address (the kernel keeps a device's MAC when it
changes namespace); anything else is the pair vanishing and a pair appearing.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Iterator, List, NamedTuple, Optional, Set, Tuple

from .model import PEER_KINDS, Link, LinkRef, Namespace, NamespaceId, Pair, Topology, Unresolved

#: Event kinds, in the order they are given within one scan's changes.
KINDS = ("state", "synced", "warning", "netns-appeared", "netns-changed", "pair-vanished", "end-moved", "end-renamed",
         "master-changed", "master-renamed", "pair-appeared", "end-resolved", "end-unresolved",
         "end-vanished", "netns-vanished")


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


class State:
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


def new_warnings(old: Optional[State], new: State, now: float) -> Iterator[Event]:
    """A warning event for each namespace error and scan warning ``old`` did not have."""
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


def _moves(old: State, new: State, vanished: Dict[FrozenSet[LinkKey], Pair],
           appeared: Dict[FrozenSet[LinkKey], Pair], now: float) -> Tuple[List[Event], List[Event]]:
    """A vanished pair and an appeared one with an end in common that are one end moving (see the
    module's docstring): the moves, and the renames that came with them. Both pairs are taken out
    of ``vanished`` and ``appeared``."""
    before, after = old.topology, new.topology
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
    return moves, moved_renames


def diff(old: State, new: State, now: float) -> List[Event]:
    """The events that take ``old`` to ``new``, in ``KINDS`` order."""
    before, after = old.topology, new.topology
    events: List[Event] = list(new_warnings(old, new, now))
    for nkey, ns in new.namespaces.items():
        was_ns = old.namespaces.get(nkey)
        if was_ns is None:
            events.append(Event(now, "netns-appeared", after, netns=ns.id))
        elif _known_as(was_ns) != _known_as(ns):
            events.append(Event(now, "netns-changed", after, netns=ns.id, old_name=was_ns.name,
                                old_label=was_ns.label))
    vanished = {pkey: pair for pkey, pair in old.pairs.items() if pkey not in new.pairs}
    appeared = {pkey: pair for pkey, pair in new.pairs.items() if pkey not in old.pairs}
    moves, moved_renames = _moves(old, new, vanished, appeared, now)
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
