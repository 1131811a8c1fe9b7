"""Master, lower and underlay relations from a Snapshot: the second client of pairing's nsid map. Pure.

Holds the per-kind rules (which attribute names which device, in which namespace) and the few
questions a cross-namespace lower device needs; veth pairing stays in ``pairing.Pairing``. Both
read and add to the same nsid facts (``facts.NsidFacts``), handed to each.

* master (bridge, bond, team, VRF, ``ovs-system`` ports): IFLA_MASTER is an ifindex in the port's own
  namespace (the kernel refuses to enslave across namespaces), so the dump alone proves it.
* lower (macvlan, macvtap, ipvlan, ipvtap, vlan): IFLA_LINK is the lower device's ifindex in the
  namespace IFLA_LINK_NETNSID names (absent: the same one; the kernel omits it when equal).
* underlay (vxlan): IFLA_VXLAN_LINK is an ifindex in the vxlan's *link* namespace, which is what
  IFLA_LINK_NETNSID names too (see netlink.py). geneve has no underlay device.

A cross-namespace target is proven like a veth peer: the namespace B holding the ifindex is the
one the device's namespace A calls by the reported nsid, learned by RTM_GETNSID(NETNSA_FD=B) asked on
A's socket (or through a hub, or already known from pairing). Never by ifindex alone: every
namespace has an ifindex 1, and most an ifindex 2.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from ..host.netlink import LinkRecord
from ..kinds import KINDS, LOWER_KINDS, RELATED_KINDS
from .facts import NsidFacts
from .questions import EndKey, FdQuestion, Question

__all__ = ["LOWER_KINDS", "Found", "LowerEnds", "RelationEnd", "relation_end"]

#: Candidates beyond this many are narrowed through a hub before each is asked.
_DIRECT = 4


class RelationEnd(NamedTuple):
    """A device whose ``kind`` relation points at ifindex ``target`` in the namespace its own
    namespace calls ``nsid`` (None: its own)."""

    kind: str
    ns: int
    ifindex: int
    target: int
    nsid: Optional[int]


class Found(NamedTuple):
    """One relation as resolved: ``target`` None with a reason when it is not proven."""

    kind: str
    source: EndKey
    target: Optional[EndKey]
    reason: Optional[str]
    detail: Optional[str]


def relation_end(ns: int, link: LinkRecord) -> Optional[RelationEnd]:
    """The lower/underlay relation a link record states, if any."""
    kind = KINDS.get(link.kind) if link.kind is not None else None
    if kind is None:
        return None
    if kind.link == "lower":
        return RelationEnd("lower", ns, link.ifindex, link.link or 0, link.link_netnsid)
    underlay = link.value(kind.underlay) if kind.underlay is not None else None
    if underlay:
        return RelationEnd("underlay", ns, link.ifindex, underlay, link.link_netnsid)
    return None


class LowerEnds:
    """The lower/underlay relations of one snapshot, planned against the shared nsid ``facts``.

    ``links``: every readable namespace's links by ifindex; ``readable``: their inodes; ``label``
    names a namespace in a sentence.
    """

    def __init__(self, facts: NsidFacts, links: Dict[int, Dict[int, LinkRecord]], root: Optional[int],
                 readable: Set[int], label: Callable[[int], str]) -> None:
        self.facts = facts
        self.links = links
        self.root = root
        self.readable = readable
        self.label = label
        self.final: Dict[Tuple[str, int, int], Found] = {}
        self.open: List[RelationEnd] = []
        self._holders: Optional[Dict[int, List[int]]] = None
        #: Per end: where its walk through the candidates is, and how many it asks next round.
        self._walk: Dict[Tuple[str, int, int], Tuple[int, int]] = {}
        self._hub_asked: Set[Tuple[str, int, int]] = set()
        for inode, by_index in links.items():
            for link in by_index.values():
                if link.kind not in RELATED_KINDS:
                    continue
                end = relation_end(inode, link)
                if end is not None:
                    self._classify(end, by_index)

    def _done(self, end: RelationEnd, target: Optional[EndKey], reason: Optional[str] = None,
              detail: Optional[str] = None) -> None:
        self.final[(end.kind, end.ns, end.ifindex)] = Found(end.kind, (end.ns, end.ifindex), target, reason, detail)

    def _classify(self, end: RelationEnd, by_index: Dict[int, LinkRecord]) -> None:
        if not end.target:
            self._done(end, None, "gone", "the kernel reports no lower device (IFLA_LINK is 0)")
        elif end.nsid is None:
            # Same namespace: ifindexes are unique there, so the dump itself is the proof.
            if end.target in by_index:
                self._done(end, (end.ns, end.target))
            else:
                self._done(end, None, "missing", f"no interface at ifindex {end.target} in the same namespace")
        elif end.nsid < 0:
            self._done(end, None, "nsid-unassigned", "the kernel reports the lower device's namespace "
                       "without an id (NETNSA_NSID_NOT_ASSIGNED): it is being destroyed")
        else:
            self.open.append(end)

    def _holders_of(self, index: int) -> List[int]:
        """Readable namespaces with an interface at ``index``: the root namespace first (the usual
        home of a macvlan's or vlan's parent), then in snapshot order. One list per ifindex, shared
        by every end pointing at it; built in one pass over the links."""
        holders = self._holders
        if holders is None:
            wanted = {item.target for item in self.open}
            holders = self._holders = {}
            root = self.root
            for inode, by_index in self.links.items():
                few = by_index if len(by_index) < len(wanted) else wanted
                for candidate in few:
                    if candidate in wanted and candidate in by_index:
                        holders.setdefault(candidate, []).append(inode)
            for found in holders.values():
                if root in found:
                    found.remove(root)
                    found.insert(0, root)
        return holders.get(index, [])

    def _excluded(self, end: RelationEnd, candidate: int) -> bool:
        """Whether known nsid facts already rule ``candidate`` out as the target's namespace."""
        assert end.nsid is not None  # only open ends are planned, and they have one
        return candidate == end.ns or self.facts.rules_out(end.ns, end.nsid, candidate)

    def _has_candidates(self, end: RelationEnd) -> bool:
        return any(not self._excluded(end, ns) for ns in self._holders_of(end.target))

    def plan(self) -> Set[Question]:
        """The questions still needed (``pairing.settle()`` has just run).

        Per end, cheapest first: nothing when pairing already knows what its nsid means; one hub
        question when its namespace's table is partly known; then RTM_GETNSID on its own
        namespace's socket about the candidates (namespaces holding the ifindex), a few at a time,
        root first, doubling each round. A thousand containers with a macvlan on the host's eth0
        then cost a thousand questions, not a thousand times the number of namespaces holding an
        ifindex 2. A walk through the candidates never goes back, so the work stays linear.
        """
        out: Set[Question] = set()
        facts = self.facts
        for end in self.open:
            key = (end.kind, end.ns, end.ifindex)
            if key in self.final:
                continue
            assert end.nsid is not None
            if facts.named(end.ns, end.nsid) is not None:
                continue  # known: finish() decides
            holders = self._holders_of(end.target)
            if len(holders) > _DIRECT and key not in self._hub_asked:
                self._hub_asked.add(key)
                # A hub whose table is known at all: its answer names the target, or rules out
                # every candidate it knows.
                hub = facts.hub(end.ns, end.nsid, lambda _hub, _table: True)
                if hub is not None:
                    out.add(hub)
                    continue
            position, batch = self._walk.get(key, (0, 1 if len(holders) > _DIRECT else len(holders)))
            asked = 0
            while position < len(holders) and asked < batch:
                candidate = holders[position]
                position += 1
                # Always the end's own socket: only its namespace's table says what its nsid means.
                if not self._excluded(end, candidate) and (end.ns, candidate) not in facts.fd_asked:
                    out.add(FdQuestion(end.ns, candidate))
                    asked += 1
            self._walk[key] = (position, 2 * batch)
        return out

    def waiting(self) -> Iterable[Tuple[RelationEnd, Optional[int]]]:
        """Each cross-namespace end not yet decided, with its target's namespace if known."""
        named = self.facts.named
        return ((end, named(end.ns, end.nsid)) for end in self.open
                if (end.kind, end.ns, end.ifindex) not in self.final)

    def finish(self) -> List[Found]:
        """Every relation, proven or with the reason it is not."""
        for end in self.open:
            key = (end.kind, end.ns, end.ifindex)
            if key in self.final:
                continue
            target_ns = self.facts.named(end.ns, end.nsid)
            what = "lower device" if end.kind == "lower" else "underlay device"
            if target_ns is None:
                if self._has_candidates(end):
                    self._done(end, None, "unproven", f"namespaces hold ifindex {end.target} but the kernel "
                               f"confirmed none as the one this namespace calls {end.nsid}")
                else:
                    self._done(end, None, "netns-unreachable",
                               f"the {what} (ifindex {end.target}, namespace id {end.nsid} here) is in no "
                               "namespace that could be read")
            elif target_ns not in self.readable:
                self._done(end, None, "netns-unreachable", f"the {what} is in namespace "
                           f"{self.label(target_ns)}, which could not be read")
            elif end.target not in self.links[target_ns]:
                self._done(end, None, "missing", f"namespace {self.label(target_ns)} has no interface at "
                           f"ifindex {end.target} (it changed during the scan)")
            else:
                self._done(end, (target_ns, end.target))
        return sorted(self.final.values())


def masters(links: Dict[int, Dict[int, LinkRecord]]) -> List[Found]:
    """Every port's master: IFLA_MASTER is an ifindex in the port's own namespace."""
    out: List[Found] = []
    for inode, by_index in links.items():
        for link in by_index.values():
            master = link.master
            if master:
                if master in by_index:
                    out.append(Found("master", (inode, link.ifindex), (inode, master), None, None))
                else:
                    out.append(Found("master", (inode, link.ifindex), None, "missing",
                                     f"no interface at ifindex {master} in the same namespace"))
    return out
