"""Pairing veth/netkit ends from a Snapshot, and which nsid questions pairing still needs. Pure.

A cross-namespace end (namespace A, ifindex i) reports its peer as (IFLA_LINK j, IFLA_LINK_NETNSID
k), where k is an id *in A's own table*. Two ends are a pair only when the kernel has said so:

* candidates come from a mutual index match: an end in B at ifindex j whose IFLA_LINK is i;
* a candidate is proven when A's table is known to map k to B. What A's table holds is learned
  from RTM_GETNSID(NETNSA_FD=B) on A's socket, from the other side of an already proven pair (B's
  end reports its own id for A), or through a hub H: RTM_GETNSID(NETNSA_NSID=k,
  NETNSA_TARGET_NSID=<A's id for H>) on A's socket tells the id H gives A's k-namespace, and
  where H's table is already known that names it. Ids are unique within one table, and ifindexes
  within one namespace, so one match is a proof, never a guess.

Questions are planned in stages so that their number grows with the pairs, not with namespaces
squared: first every end with a single candidate is checked from the side whose namespace has
fewer cross-namespace ends (the kernel's lookup cost grows with the asker's table); then ends with
several candidates (identically wired namespaces, where ifindexes collide) ask one hub; only what
no hub can settle is checked candidate by candidate.
"""

from __future__ import annotations

import heapq
import socket
from collections import Counter
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple, Union

from . import ovsdb
from .model import (
    PEER_KINDS,
    TUNNEL_KINDS,
    Link,
    LinkRef,
    Namespace,
    NamespaceId,
    Owner,
    Pair,
    PeerHint,
    Relation,
    Topology,
    TunHolder,
    Tunnel,
    Unresolved,
    namespace_sort_key,
)
from .netlink import IFF_UP, OPERSTATES, LinkRecord
from .relations import EndKey, LowerEnds, masters
from .snapshot import HintAnswer, NamespaceRecord, NsidAnswer, Snapshot, ViaAnswer

#: How many hubs are asked about one unreachable peer before giving up on a hint.
_HINT_HUBS = 3

#: Rounds of questions before planning gives up (a guard: planning converges in a handful).
MAX_ROUNDS = 64

#: How many learned creation-order offsets are tried per end before it waits for a full search.
_GUESSES = 3


class FdQuestion(NamedTuple):
    """Ask ``asker``'s socket for its id of ``target`` (RTM_GETNSID, NETNSA_FD)."""

    asker: int
    target: int


class ViaQuestion(NamedTuple):
    """Ask ``asker``'s socket what id ``hub`` (our id ``hub_nsid``) gives our ``nsid``."""

    asker: int
    nsid: int
    hub: int
    hub_nsid: int


class HintQuestion(NamedTuple):
    """Ask ``asker``'s socket for link ``ifindex`` in its namespace ``nsid`` (IFLA_TARGET_NETNSID).

    Only planned where ``asker`` already has an id for the namespace the peer points back to, so
    the kernel's reply allocates no new id (it would for an unknown one).
    """

    asker: int
    nsid: int
    ifindex: int


Question = Union[FdQuestion, ViaQuestion, HintQuestion]
Answer = Union[NsidAnswer, ViaAnswer, HintAnswer]


class _End(NamedTuple):
    ns: int
    ifindex: int
    peer_ifindex: int
    nsid: int


def _is_peer_kind(link: LinkRecord) -> bool:
    return link.kind in PEER_KINDS


def _peer_index(link: LinkRecord) -> int:
    """The peer's ifindex; some kernels leave IFLA_LINK out when it equals the link's own."""
    return link.link if link.link is not None else link.ifindex


class Pairing:
    """The pairing state for one snapshot: facts learned so far and the questions still open.

    The reader feeds it answers (``add``) and asks ``plan()`` for the next round of questions;
    ``resolve`` runs it once more over the finished snapshot.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        namespaces = snapshot.namespaces
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
        self.table: Dict[int, Dict[int, int]] = {}
        self.rev: Dict[int, Dict[int, int]] = {}
        self.fd_asked: Dict[Tuple[int, int], Optional[int]] = {}
        self.via_asked: Dict[Tuple[int, int, int], Optional[int]] = {}
        self.via_by_end: Dict[Tuple[int, int], List[Tuple[int, Optional[int]]]] = {}
        self.hint_answers: Dict[Tuple[int, int, int], Optional[LinkRecord]] = {}
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
        self.lowers = LowerEnds(self)

    def label(self, inode: int) -> str:
        record = self._records.get(inode)
        return record.namespace.label if record is not None else f"net:[{inode}]"

    def add(self, answer: Answer) -> None:
        """Take in the kernel's answer to one question."""
        if isinstance(answer, NsidAnswer):
            self.fd_asked[(answer.asker, answer.target)] = answer.nsid
            if answer.nsid is not None and answer.nsid >= 0:
                self._learn(answer.asker, answer.target, answer.nsid)
        elif isinstance(answer, ViaAnswer):
            self.via_asked[(answer.asker, answer.nsid, answer.hub)] = answer.answer
            self.via_by_end.setdefault((answer.asker, answer.nsid), []).append((answer.hub, answer.answer))
        else:
            self.hint_answers[(answer.asker, answer.nsid, answer.ifindex)] = answer.link

    # -- classification --------------------------------------------------------------------------
    def _classify(self, namespaces: Sequence[NamespaceRecord]) -> None:
        changing = self.changing
        cross = self.cross
        index = self.index
        cross_count = self.cross_count
        for ns in namespaces:
            if ns.namespace.error is not None:
                continue
            by_index = self.links[ns.inode]
            count = 0
            for link in ns.links:
                if link.kind not in PEER_KINDS:
                    continue
                key = (ns.inode, link.ifindex)
                if changing and key in changing:
                    self.final[key] = ("changing", "it or its peer changed every time it was read during "
                                       "the scan (being rebuilt?)")
                    continue
                if link.link_netnsid is None:
                    self._classify_local(ns.inode, link, by_index)
                elif link.link_netnsid < 0:
                    self.final[key] = ("nsid-unassigned",
                                       "the kernel reports the peer's namespace without an id "
                                       "(NETNSA_NSID_NOT_ASSIGNED): it is being destroyed")
                else:
                    peer = _peer_index(link)
                    if peer == 0:
                        self.final[key] = ("peer-gone", "IFLA_LINK is 0: the pair is being torn down")
                        continue
                    end = _End(ns.inode, link.ifindex, peer, link.link_netnsid)
                    cross.append(end)
                    group = index.get((link.ifindex, peer))
                    if group is None:
                        index[(link.ifindex, peer)] = [end]
                    else:
                        group.append(end)
                    count += 1
            if count:
                cross_count[ns.inode] = count

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
    def _learn(self, asker: int, target: int, nsid: int) -> bool:
        """Record that ``asker``'s table maps ``nsid`` to ``target``; False if already known."""
        table = self.table.setdefault(asker, {})
        rev = self.rev.setdefault(asker, {})
        known = rev.get(nsid)
        if known is not None:
            if known != target:
                self.warnings.append(
                    f"inconsistent nsid answers in net:[{asker}] for id {nsid}: namespaces changed "
                    "during the scan")
            return False
        if target in table:
            return False
        table[target] = nsid
        rev[nsid] = target
        return True

    def _open(self) -> Iterable[_End]:
        for end in self.cross:
            key = (end.ns, end.ifindex)
            if key not in self.pairs and key not in self.final:
                yield end

    def settle(self) -> None:
        """Apply every known fact until nothing more follows (a monotone fixpoint)."""
        changed = True
        while changed:
            changed = False
            for (asker, nsid), answers in self.via_by_end.items():
                if nsid in self.rev.get(asker, {}):
                    continue
                for hub, answer in answers:
                    if answer is not None and answer >= 0:
                        target = self.rev.get(hub, {}).get(answer)
                        if target is not None and target != asker and self._learn(asker, target, nsid):
                            changed = True
            pending = self.pending
            for end in list(self._open()):
                key = (end.ns, end.ifindex)
                waiting = pending.get(key)
                if waiting is not None:
                    if waiting not in self.fd_asked:
                        continue  # nothing new until the peer's side answers
                    del pending[key]
                target = self.rev.get(end.ns, {}).get(end.nsid)
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
                or _peer_index(peer) != end.ifindex):
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
        back = self.rev.get(target, {}).get(peer.link_netnsid)
        if back is None:
            if (target, end.ns) not in self.fd_asked:
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

    # -- planning --------------------------------------------------------------------------------
    def _excluded(self, end: _End, candidate: _End) -> bool:
        """Whether known facts already rule ``candidate`` out as ``end``'s peer."""
        known = self.table.get(end.ns, {}).get(candidate.ns)
        if known is not None and known != end.nsid:
            return True
        asked = self.fd_asked.get((end.ns, candidate.ns))
        if asked is not None and asked != end.nsid:
            return True
        back = self.table.get(candidate.ns, {}).get(end.ns)
        if back is not None and back != candidate.nsid:
            return True
        asked = self.fd_asked.get((candidate.ns, end.ns))
        if asked is not None and asked != candidate.nsid:
            return True
        for hub, answer in self.via_by_end.get((end.ns, end.nsid), ()):
            if answer is None:
                continue
            hub_id = self.table.get(hub, {}).get(candidate.ns)
            if hub_id is not None and hub_id != answer:
                return True
        return False

    def _ask_fd(self, a: int, b: int, out: Set[Question]) -> bool:
        """Plan RTM_GETNSID for the pair of namespaces, from the cheaper side first."""
        sides = [(a, b), (b, a)]
        if self.cross_count.get(b, 0) < self.cross_count.get(a, 0):
            sides.reverse()
        for asker, target in sides:
            if (asker, target) not in self.fd_asked:
                out.add(FdQuestion(asker, target))
                return True
        return False

    def _pick_hub(self, end: _End, group: Sequence[_End]) -> Optional[ViaQuestion]:
        """A hub for ``end``: a namespace we know our id for and that has an id known for at
        least one candidate. Hubs whose known tables are biggest (the root namespace, usually)
        come first; one is enough, since its answer names the peer or rules candidates out."""
        ours = self.table.get(end.ns, {})
        by_size = sorted(ours.items(), key=lambda item: (-len(self.table.get(item[0], {})), item[0]))
        for hub, hub_nsid in by_size:
            if (end.ns, end.nsid, hub) in self.via_asked:
                continue
            hub_table = self.table.get(hub)
            if hub_table and any(other.ns in hub_table for other in group
                                 if other.ns not in (end.ns, hub)):
                return ViaQuestion(end.ns, end.nsid, hub, hub_nsid)
        return None

    def _unreachable_detail(self, end: _End) -> str:
        detail = (f"no readable namespace has a veth at ifindex {end.peer_ifindex} whose peer is "
                  f"ifindex {end.ifindex}")
        if self.unreadable:
            detail += f" ({self.unreadable} namespaces could not be read)"
        if not self.sockets_searched:
            detail += ("; it may be held only by another process's socket, which is searched only "
                       "with --sockets")
        return detail

    def _plan_candidates(self, end: _End, group: Sequence[_End], out: Set[Question],
                         both: bool = False) -> Optional[_End]:
        """Ask about each candidate left after what is known rules the others out. With ``both``
        and a single candidate, its side's confirmation is asked in the same round: it is needed
        anyway when the candidate is the peer, which a lone candidate nearly always is (that
        candidate is returned: its own planning would ask the very same two questions)."""
        candidates = [other for other in group if other.ns != end.ns and not self._excluded(end, other)]
        key = (end.ns, end.ifindex)
        if not candidates:
            self.final[key] = ("peer-netns-unreachable", self._unreachable_detail(end))
            return None
        if both and len(candidates) == 1:
            other = candidates[0].ns
            fresh = [FdQuestion(a, b) for a, b in ((end.ns, other), (other, end.ns)) if (a, b) not in self.fd_asked]
            if fresh:
                out.update(fresh)
                return candidates[0]
        asked = False
        for candidate in candidates:
            asked = self._ask_fd(end.ns, candidate.ns, out) or asked
        if not asked:
            self.final[key] = ("unproven", f"{len(candidates)} candidates and RTM_GETNSID confirmed "
                               "none")
        return None

    def plan(self) -> List[Question]:
        """Settle what is known, then the next round of questions (empty: nothing left to ask).

        Stages, each only once the earlier ones have nothing left: ends with at most one
        candidate; ends in a crowded index group (identical wiring) through a hub; what remains,
        guided by the creation-order pattern of the pairs proven so far, with a full search for
        a few ends the pattern does not place (their pairs teach the pattern); last, hints for
        peers in namespaces that could not be read. Confirmations from the peer's side go along
        with whichever stage is asked.
        """
        self.settle()
        confirm: Set[Question] = set()
        spoken_for: Set[EndKey] = set()
        for key, (target, asker) in list(self.pending.items()):
            if key in self.pairs or key in self.final:
                del self.pending[key]
                continue
            confirm.add(FdQuestion(target, asker))
            spoken_for.add(key)
            peer = self.links[target].get(self._end_peer_index(key))
            if peer is not None:
                spoken_for.add((target, peer.ifindex))
        single: Set[Question] = set()
        crowded: List[Tuple[_End, Sequence[_End]]] = []
        for end in list(self._open()):
            if (end.ns, end.ifindex) in spoken_for:
                continue
            group = self.index.get((end.peer_ifindex, end.ifindex), self._no_ends)
            # A group holds the end itself when both ifindexes are equal; beyond two there are
            # several candidates, and checking each now would cost group size squared.
            if len(group) > 2 or (len(group) == 2 and group[0].ns != end.ns and group[1].ns != end.ns):
                crowded.append((end, group))
                continue
            lone = self._plan_candidates(end, group, single, both=True)
            if lone is not None:
                back = self.index.get((lone.peer_ifindex, lone.ifindex), self._no_ends)
                if all(other.ns == lone.ns or other is end for other in back):
                    spoken_for.add((lone.ns, lone.ifindex))  # its planning would ask the same
        if single:
            return [*single, *(confirm - single)]  # (order is free: answers do not depend on it)
        hubs: Set[Question] = set()
        hubless: List[Tuple[_End, Sequence[_End]]] = []
        for end, crowd in crowded:
            hub = self._pick_hub(end, crowd)
            if hub is not None:
                hubs.add(hub)
            else:
                hubless.append((end, crowd))
        if hubs:
            return sorted(hubs | confirm)
        each = self._plan_hubless(hubless)
        if each or confirm:
            return sorted(each | confirm)
        # Lower devices in other namespaces ask last: by now pairing has usually learned the ids
        # they need (a macvlan's parent is mostly a veth end's namespace), so they ask little.
        return sorted(self._last_questions() | self.lowers.plan())

    def _end_peer_index(self, key: EndKey) -> int:
        return _peer_index(self.links[key[0]][key[1]])

    def _plan_hubless(self, hubless: Sequence[Tuple[_End, Sequence[_End]]]) -> Set[Question]:
        """Identically wired ends that no hub can tell apart.

        Asking every candidate of every end would cost group size squared (8 s at 1000 namespace
        pairs). Instead each end first asks where the pattern of proven pairs puts its peer (labs
        are built in order: the peer's cookie is usually a fixed offset away), and only a few ends
        the pattern does not place get a full search; each pair found that way teaches the pattern,
        and the number of full searches doubles each round so that a host with no pattern at all
        still finishes in few rounds.
        """
        out: Set[Question] = set()
        by_key: Dict[int, Dict[int, List[_End]]] = {}
        stuck: List[Tuple[_End, Sequence[_End]]] = []
        for end, crowd in hubless:
            placed = False
            learned = self.deltas.get((end.peer_ifindex, end.ifindex))
            guesses = [delta for delta, _count in learned.most_common(_GUESSES)] if learned else []
            if guesses:
                index = by_key.get(id(crowd))
                if index is None:
                    index = by_key[id(crowd)] = {}
                    for other in crowd:
                        index.setdefault(self._order_key(other.ns), []).append(other)
                base = self._order_key(end.ns)
                for delta in guesses:
                    for candidate in index.get(base + delta, ()):
                        candidate_key = (candidate.ns, candidate.ifindex)
                        if (candidate.ns == end.ns or candidate_key in self.pairs or candidate_key in self.final
                                or self._excluded(end, candidate)):
                            continue
                        if self._ask_fd(end.ns, candidate.ns, out):
                            placed = True
                            break
                    if placed:
                        break
            if not placed:
                stuck.append((end, crowd))
        # While a full search's find waits for its confirmation, the pattern it taught is tried
        # first: searching more ends now would mostly repeat what the pattern finds anyway.
        if stuck and not (out and self.pending):
            for end, crowd in stuck[: self._seeds]:
                self._plan_candidates(end, [other for other in crowd if (other.ns, other.ifindex) not in self.pairs],
                                      out)
            self._seeds = min(2 * self._seeds, len(stuck))
        return out

    # -- what is left: hints and names for unreachable peers -----------------------------------
    def _hint_hubs(self, ns: int, hidden: Set[int]) -> List[Tuple[int, int]]:
        """The hubs (hub, our id for it) an end in ``ns`` asks about its unreachable peer: the first
        ``_HINT_HUBS`` of the usable ones, those with unreachable peers of their own first (they
        probably know the same hidden namespace), then by inode.

        A hub is usable when it already has an id for the end's own namespace: the peer's reply
        then names that namespace by an existing id instead of making the kernel allocate one.
        One pass over ``ns``'s id table: the root namespace has an id for nearly every other one,
        and sorting all of them for each of its ends was ends x namespaces (seconds under churn).
        """
        table = self.table
        usable = [(hub, hub_nsid) for hub, hub_nsid in table.get(ns, {}).items() if ns in table.get(hub, ())]
        return heapq.nsmallest(_HINT_HUBS, usable, key=lambda route: (route[0] not in hidden, route[0]))

    def _unreachable(self) -> Iterable[_End]:
        for end in self.cross:
            if self.final.get((end.ns, end.ifindex), ("",))[0] == "peer-netns-unreachable":
                yield end

    def _last_questions(self) -> Set[Question]:
        out: Set[Question] = set()
        hints = self.hints()
        unreachable = list(self._unreachable())
        hidden_neighbours = {end.ns for end in unreachable}
        hubs_of: Dict[int, List[Tuple[int, int]]] = {}
        fd_planned: Set[int] = set()
        for end in unreachable:
            if (end.ns, end.ifindex) in hints:
                continue
            hubs = hubs_of.get(end.ns)
            if hubs is None:
                hubs = hubs_of[end.ns] = self._hint_hubs(end.ns, hidden_neighbours)
            for hub, hub_nsid in hubs:
                key = (end.ns, end.nsid, hub)
                if key not in self.via_asked:
                    out.add(ViaQuestion(end.ns, end.nsid, hub, hub_nsid))
                    continue
                answer = self.via_asked[key]
                if answer is not None and answer >= 0:
                    if (hub, answer, end.peer_ifindex) not in self.hint_answers:
                        out.add(HintQuestion(hub, answer, end.peer_ifindex))
                    break
            if end.nsid not in self.rev.get(end.ns, {}) and end.ns not in fd_planned:
                # Which of the namespaces we hold but could not read is it? Asking costs one
                # lookup each and allocates nothing; it lets an unprivileged user at least learn
                # the peer's namespace. (Once per namespace: the question names no end.)
                fd_planned.add(end.ns)
                for other in self.unreadable_inodes:
                    if (end.ns, other) not in self.fd_asked:
                        out.add(FdQuestion(end.ns, other))
        return out

    def hints(self) -> Dict[EndKey, LinkRecord]:
        """What a hub told about each unreachable end's peer: the answer through the first usable
        hub (by inode) that named the peer's namespace and was then asked for the link."""
        found: Dict[EndKey, LinkRecord] = {}
        table = self.table
        for end in self._unreachable():
            own = table.get(end.ns, {})
            for hub, answer in sorted(self.via_by_end.get((end.ns, end.nsid), ()), key=lambda item: item[0]):
                if answer is None or answer < 0 or hub not in own or end.ns not in table.get(hub, ()):
                    continue
                link = self.hint_answers.get((hub, answer, end.peer_ifindex))
                if link is not None:
                    found[(end.ns, end.ifindex)] = link
                    break
        return found

    def finish(self) -> Dict[EndKey, Tuple[str, str]]:
        """Every end neither paired nor explained yet gets a reason; returns all reasons."""
        for end in list(self._open()):
            self.final[(end.ns, end.ifindex)] = ("unproven", "not every kernel question was asked")
        for end in self._unreachable():
            target = self.rev.get(end.ns, {}).get(end.nsid)
            if target is not None and target not in self.readable:
                self.final[(end.ns, end.ifindex)] = (
                    "peer-netns-unreachable",
                    f"the peer is in namespace {self.label(target)} (its id here is "
                    f"{end.nsid}), which could not be read")
        return self.final


def drive(pairing: Pairing, answer_round: Callable[[List[Question]], List[Answer]],
          max_rounds: int = MAX_ROUNDS) -> List[Answer]:
    """The one ask loop: plan a round, have it answered (by the kernel, or a simulated one in the
    tests), learn, until nothing is left to ask. Returns every answer given, in order."""
    given: List[Answer] = []
    for _round in range(max_rounds):
        questions = pairing.plan()
        if not questions:
            return given
        for answer in answer_round(questions):
            pairing.add(answer)
            given.append(answer)
    # Never seen; a guard against a planning loop. What was not asked stays unproven.
    pairing.warnings.append(f"stopped asking the kernel after {max_rounds} rounds of questions")
    return given


# --- building the Topology ---------------------------------------------------------------------


def format_mac(mac: Optional[bytes]) -> Optional[str]:
    return mac.hex(":") if mac else None


def format_address(family: int, address: bytes, prefixlen: int) -> str:
    try:
        text = socket.inet_ntop(family, address)
    except (ValueError, OSError):
        text = address.hex()
    return f"{text}/{prefixlen}"


def decode_name(raw: bytes) -> str:
    """Names are bytes to the kernel; undecodable bytes become U+DC80+byte (reversible)."""
    return raw.decode("utf-8", "surrogateescape")


def operstate_name(value: int) -> str:
    return OPERSTATES[value] if 0 <= value < len(OPERSTATES) else f"UNKNOWN({value})"


def _counted(record: NamespaceRecord) -> Namespace:
    """The namespace with its link count (None when it could not be read)."""
    ns = record.namespace
    count = None if ns.error is not None else len(record.links)
    return ns if ns.link_count == count else ns._replace(link_count=count)


def format_ip(raw: Optional[bytes]) -> Optional[str]:
    if raw is None:
        return None
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6 if len(raw) == 16 else None
    if family is None:
        return raw.hex()
    return socket.inet_ntop(family, raw)


def _tunnel(link: LinkRecord) -> Optional[Tunnel]:
    if link.kind not in TUNNEL_KINDS:
        return None
    return Tunnel(link.kind, link.vni, format_ip(link.tunnel_local), format_ip(link.tunnel_remote),
                  link.tunnel_port)


def _links(ns: NamespaceRecord, netns: NamespaceId,
           holders: Dict[bytes, Tuple[TunHolder, ...]]) -> Iterable[Tuple[LinkRef, Link]]:
    addresses: Dict[int, List[str]] = {}
    for record in ns.addresses:
        addresses.setdefault(record.ifindex, []).append(
            format_address(record.family, record.address, record.prefixlen))
    no_addresses: Tuple[str, ...] = ()
    for link in ns.links:
        ref = LinkRef(netns, link.ifindex)
        mac = link.mac
        shown = addresses.get(link.ifindex)
        item = Link(
            ref, link.name.decode("utf-8", "surrogateescape"), link.kind, link.slave_kind,
            mac.hex(":") if mac else None, link.mtu, operstate_name(link.operstate), bool(link.flags & IFF_UP),
            link.master, link.link, link.link_netnsid,
            tuple([decode_name(name) for name in link.alt_names]) if link.alt_names else (),
            tuple(shown) if shown else no_addresses,
        )
        # Few links are tunnels or held tun/tap devices: the rest skip the keyword construction.
        if link.kind in TUNNEL_KINDS or (holders and link.name in holders):
            item = item._replace(tunnel=_tunnel(link), tun_holders=holders.get(link.name, ()))
        yield ref, item



def _tun_holders(snapshot: Snapshot) -> Dict[int, Dict[bytes, Tuple[TunHolder, ...]]]:
    """Namespace inode -> device name -> the processes holding it. A device is named by its
    namespace (TUNGETDEVNETNS) and its name there (fdinfo ``iff:``): the name alone could be any
    namespace's."""
    if not snapshot.tun_files:
        return {}
    owners_of = {ns.inode: ns.owners for ns in (record.namespace for record in snapshot.namespaces) if not ns.root}
    found: Dict[int, Dict[bytes, List[TunHolder]]] = {}
    for tun in sorted(snapshot.tun_files, key=lambda item: (item.pid, item.fd)):
        owners = owners_of.get(tun.holder_netns, ()) if tun.holder_netns is not None else ()
        if not owners or owners[0].kind == "process":
            # The namespace's fallback owner names its first process, not necessarily this one.
            owners = (Owner("process", f"pid {tun.pid} ({tun.comm})" if tun.comm else f"pid {tun.pid}",
                            str(tun.pid), (("comm", tun.comm),) if tun.comm else (),
                            "holds the tun/tap file"),)
        found.setdefault(tun.netns, {}).setdefault(tun.ifname, []).append(
            TunHolder(tun.pid, tun.fd, tun.comm, tun.vm, owners))
    return {inode: {name: tuple(items) for name, items in names.items()} for inode, names in found.items()}


def _hint(link: LinkRecord) -> PeerHint:
    return PeerHint(link.ifindex, decode_name(link.name), link.kind, format_mac(link.mac), link.mtu,
                    operstate_name(link.operstate))


def resolve(snapshot: Snapshot, pairing: Optional[Pairing] = None) -> Topology:
    """Turn what was read into a Topology of proven pairs and explained unresolved ends.

    ``pairing`` may be the one the reader already drove over this very snapshot (it holds the same
    facts); passing it saves doing the pairing twice.
    """
    if pairing is None:
        pairing = Pairing(snapshot)
        pairing.plan()
    final = pairing.finish()
    hints = pairing.hints()
    namespaces = tuple(sorted((_counted(record) for record in snapshot.namespaces), key=namespace_sort_key))
    ids = {ns.id.inode: ns.id for ns in namespaces}
    order = {ns.id: position for position, ns in enumerate(namespaces)}
    links: Dict[LinkRef, Link] = {}
    tun_holders = _tun_holders(snapshot)
    for record in snapshot.namespaces:
        if record.namespace.error is None:
            links.update(_links(record, ids[record.inode], tun_holders.get(record.inode, {})))

    def ref(key: EndKey) -> LinkRef:
        return LinkRef(ids[key[0]], key[1])

    def side_order(item: LinkRef) -> Tuple[int, int, int]:
        # The end outside the root namespace reads first ("ns-... -> tap..."), then by namespace.
        ns = namespaces[order[item.netns]]
        return (1 if ns.root else 0, order[item.netns], item.ifindex)

    pairs = []
    for key, other in pairing.pairs.items():
        a, b = ref(key), ref(other)
        if side_order(a) < side_order(b):
            pairs.append(Pair(a, b))
    pairs.sort(key=lambda pair: (side_order(pair.a), side_order(pair.b)))

    unresolved = []
    for key, (reason, detail) in final.items():
        link_ref = ref(key)
        link = links[link_ref]
        hint = hints.get(key)
        unresolved.append(Unresolved(link_ref, reason, detail, link.link, link.link_netnsid,
                                     None if hint is None else _hint(hint)))
    unresolved.sort(key=lambda item: (order[item.link.netns], item.link.ifindex))
    relations = [Relation(found.kind, ref(found.source), None if found.target is None else ref(found.target),
                          found.reason, found.detail)
                 for found in (*masters(pairing.links), *pairing.lowers.finish())]
    relations.sort(key=lambda item: (order[item.source.netns], item.source.ifindex, item.kind))
    # Open vSwitch: the bridge each port is on, from what ovsdb said (ovsdb.py ties names to links).
    ovs_warnings = ovsdb.with_ovs_bridges(links, snapshot.ovs)
    warnings = tuple(snapshot.warnings) + tuple(dict.fromkeys(pairing.warnings)) + tuple(ovs_warnings)
    return Topology(namespaces, links, tuple(pairs), tuple(unresolved), warnings, snapshot.root_source,
                    dict(snapshot.comms), relations=tuple(relations))
