"""The ends of one snapshot, classified, and paired as far as the known facts prove. Pure.

``Ends`` holds what pairing knows: every veth/netkit end by its kind of evidence (same namespace:
the dump proves it; across namespaces: candidates by a mutual index match, waiting for the nsid
facts), the pairs proven and the ends given a reason. ``pairing.Pairing`` adds the plan of what to
ask the kernel next.
"""

from __future__ import annotations

from collections import Counter
from typing import Dict, Iterable, List, NamedTuple, Sequence, Set, Tuple

from ..host.netlink import LinkRecord
from ..model import PEER_KINDS
from ..snapshot import NamespaceRecord, Snapshot
from .facts import NsidFacts
from .questions import Answer, EndKey
from .relations import LowerEnds


class _End(NamedTuple):
    ns: int
    ifindex: int
    peer_ifindex: int
    nsid: int


def _label(records: Dict[int, NamespaceRecord], inode: int) -> str:
    record = records.get(inode)
    return record.namespace.label if record is not None else f"net:[{inode}]"


def _is_peer_kind(link: LinkRecord) -> bool:
    return link.kind in PEER_KINDS


class Ends:
    """The facts learned so far for one snapshot and the pairs and reasons they prove."""


    def __init__(self, snapshot: Snapshot, hints: bool = True) -> None:
        namespaces = snapshot.namespaces
        #: Whether the kernel is asked about peers in namespaces not read (hints, names): not
        #: when only some namespaces were read on purpose, where every other end's is one.
        self.ask_hints = hints
        self._records = {ns.inode: ns for ns in namespaces}
        self.readable = {ns.inode for ns in namespaces if ns.namespace.error is None}
        self.unreadable_inodes = sorted(ns.inode for ns in namespaces if ns.namespace.error is not None)
        self.unreadable = len(self.unreadable_inodes)
        self.root_inode = next((ns.inode for ns in namespaces if ns.namespace.root), None)
        self.links: Dict[int, Dict[int, LinkRecord]] = {
            ns.inode: {link.ifindex: link for link in ns.links} for ns in namespaces if ns.namespace.error is None
        }
        self.pairs: Dict[EndKey, EndKey] = {}
        self.final: Dict[EndKey, Tuple[str, str]] = {}
        self.warnings: List[str] = []
        #: The nsid facts, shared with the relations below.
        self.facts = NsidFacts(self.warnings)
        self.cross: List[_End] = []
        self.index: Dict[Tuple[int, int], List[_End]] = {}
        self._no_ends: List[_End] = []
        self.cross_count: Dict[int, int] = {}
        self.changing: Set[EndKey] = set(snapshot.changing)
        self.sockets_searched = snapshot.sockets_searched
        #: Ends whose peer is found from their side, waiting for the peer's side to confirm:
        #: end -> (peer namespace, end's namespace), the question that confirms it.
        self.pending: Dict[EndKey, Tuple[int, int]] = {}
        #: Offsets in creation order (cookie) between the namespaces of proven pairs: identically
        #: wired labs are built in a pattern, and the pattern says where the next peer probably is.
        self.deltas: Dict[Tuple[int, int], Counter[int]] = {}
        self._learned_deltas: Set[EndKey] = set()
        #: How many stuck ends get a full candidate search in the next round (doubles each time).
        self._seeds = 1
        self._classify(namespaces)
        answers: List[Answer] = [*snapshot.nsid_answers, *snapshot.via_answers, *snapshot.hints]
        for answer in answers:
            self.add(answer)
        #: Lower/underlay relations: the second client of the nsid facts above.
        records = self._records
        self.lowers = LowerEnds(self.facts, self.links, self.root_inode, self.readable,
                                lambda inode: _label(records, inode))

    def label(self, inode: int) -> str:
        return _label(self._records, inode)

    def add(self, answer: Answer) -> None:
        """Take in the kernel's answer to one question."""
        self.facts.add(answer)

    # -- what the reader asks --------------------------------------------------------------------
    def proven(self) -> Iterable[Tuple[EndKey, EndKey]]:
        """Every pair proven so far, once (the smaller end first)."""
        return ((key, other) for key, other in self.pairs.items() if key < other)

    def reasons(self) -> Iterable[Tuple[EndKey, str]]:
        """Every end given a reason so far, with its reason code."""
        return ((key, reason) for key, (reason, _detail) in self.final.items())

    # -- classification --------------------------------------------------------------------------
    def _classify(self, namespaces: Sequence[NamespaceRecord]) -> None:
        changing = self.changing
        cross = self.cross
        index = self.index
        cross_count = self.cross_count
        for ns in namespaces:
            if ns.namespace.error is not None:
                continue
            inode = ns.namespace.id.inode
            by_index = self.links[inode]
            count = 0
            for link in ns.links:
                if link.kind not in PEER_KINDS:
                    continue
                key = (inode, link.ifindex)
                if changing and key in changing:
                    self.final[key] = ("changing", "it or its peer changed every time it was read during "
                                       "the scan (being rebuilt?)")
                    continue
                if link.link_netnsid is None:
                    self._classify_local(inode, link, by_index)
                elif link.link_netnsid < 0:
                    self.final[key] = ("nsid-unassigned",
                                       "the kernel reports the peer's namespace without an id "
                                       "(NETNSA_NSID_NOT_ASSIGNED): it is being destroyed")
                else:
                    peer = link.peer_index
                    if peer == 0:
                        self.final[key] = ("peer-gone", "IFLA_LINK is 0: the pair is being torn down")
                        continue
                    end = _End(inode, link.ifindex, peer, link.link_netnsid)
                    cross.append(end)
                    group = index.get((link.ifindex, peer))
                    if group is None:
                        index[(link.ifindex, peer)] = [end]
                    else:
                        group.append(end)
                    count += 1
            if count:
                cross_count[inode] = count

    def _classify_local(self, inode: int, link: LinkRecord, by_index: Dict[int, LinkRecord]) -> None:
        """Both ends in one namespace: ifindexes are unique there, so the dump itself is proof."""
        key = (inode, link.ifindex)
        if not link.link:
            self.final[key] = ("peer-gone", "the kernel reports no peer ifindex (IFLA_LINK is 0)")
            return
        peer = by_index.get(link.link)
        if (peer is not None and _is_peer_kind(peer) and peer.link_netnsid is None
                and peer.link == link.ifindex and (inode, peer.ifindex) not in self.changing):
            self.pairs[key] = (inode, peer.ifindex)
        else:
            self.final[key] = ("peer-missing",
                               f"no interface at ifindex {link.link} in the same namespace points back")

    # -- facts -----------------------------------------------------------------------------------
    def _open(self) -> Iterable[_End]:
        for end in self.cross:
            key = (end.ns, end.ifindex)
            if key not in self.pairs and key not in self.final:
                yield end

    def settle(self) -> None:
        """Apply every known fact until nothing more follows (a monotone fixpoint)."""
        changed = True
        while changed:
            changed = self.facts.settle_hubs()
            facts = self.facts
            rev = facts.rev
            pending = self.pending
            for end in list(self._open()):
                key = (end.ns, end.ifindex)
                waiting = pending.get(key)
                if waiting is not None:
                    if waiting not in facts.fd_asked:
                        continue  # nothing new until the peer's side answers
                    del pending[key]
                target = rev.get(end.ns, {}).get(end.nsid)  # (facts.named, inlined: every open end)
                if target is None or target == end.ns:
                    continue
                if self._pair_with(end, target):
                    changed = True

    def _pair_with(self, end: _End, target: int) -> bool:
        key = (end.ns, end.ifindex)
        if target not in self.readable:
            self.final[key] = ("peer-netns-unreachable",
                               f"the peer is in namespace {self.label(target)}, which "
                               "could not be read")
            return False
        peer = self.links[target].get(end.peer_ifindex)
        if (peer is None or not _is_peer_kind(peer) or peer.link_netnsid is None or peer.link_netnsid < 0
                or peer.peer_index != end.ifindex):
            self.final[key] = ("peer-missing",
                               f"the peer's namespace is {self.label(target)} but it "
                               f"has no veth at ifindex "
                               f"{end.peer_ifindex} pointing back (it changed during the scan)")
            return False
        peer_key = (target, peer.ifindex)
        if peer_key in self.final:
            reason = self.final[peer_key][0]
            self.final[key] = (("changing", "its peer changed during the scan") if reason == "changing" else
                               ("unproven", "the kernel's answers contradict each other (the namespaces "
                                "changed during the scan)"))
            return False
        # The peer's own side must confirm too: its IFLA_LINK_NETNSID, in its own namespace's table,
        # must name this end's namespace. (Records are read at different moments; without this an
        # ifindex reused in between could pair two ends that never were peers.)
        back = self.facts.named(target, peer.link_netnsid)
        if back is None:
            if (target, end.ns) not in self.facts.fd_asked:
                self.pending[key] = (target, end.ns)
                self._learn_delta(end, target)
                return False
            back = -1
        if back != end.ns:
            self.final[key] = ("unproven", "the peer's namespace does not name this one by the id its "
                               "end reports (the namespaces changed during the scan)")
            return False
        self.pairs[key] = peer_key
        self.pairs[peer_key] = key
        self._learn_delta(end, target)
        return True

    def _learn_delta(self, end: _End, target: int) -> None:
        """Note where in creation order the peer sat (only to order later guesses: a guess is
        still proven like any candidate). Learned per index group (the candidates of an end with
        these ifindexes): another group, or the pairs to the root namespace, follow other
        patterns. A one-sided match already teaches it, a round before its confirmation."""
        group = self.index.get((end.peer_ifindex, end.ifindex))
        if group is None or len(group) <= 2:
            return  # a single candidate: nothing to guess for its group
        learned = self._learned_deltas
        if (end.ns, end.ifindex) in learned:
            return
        learned.add((end.ns, end.ifindex))
        delta = self._order_key(target) - self._order_key(end.ns)
        self.deltas.setdefault((end.peer_ifindex, end.ifindex), Counter())[delta] += 1
        self.deltas.setdefault((end.ifindex, end.peer_ifindex), Counter())[-delta] += 1

    def _order_key(self, inode: int) -> int:
        """Where a namespace sits in creation order: its cookie (kernel-wide and increasing), else
        its inode number."""
        record = self._records.get(inode)
        cookie = None if record is None else record.namespace.cookie
        return cookie if cookie is not None else inode
