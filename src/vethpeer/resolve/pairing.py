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
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ..host.netlink import LinkRecord
from .ends import Ends, _End
from .questions import Answer, EndKey, FdQuestion, HintQuestion, Question, ViaQuestion

#: How many hubs are asked about one unreachable peer before giving up on a hint.
_HINT_HUBS = 3

#: Rounds of questions before planning gives up (a guard: planning converges in a handful).
MAX_ROUNDS = 64

#: How many learned creation-order offsets are tried per end before it waits for a full search.
_GUESSES = 3


class Pairing(Ends):
    """The pairing state for one snapshot: facts learned so far and the questions still open.

    The reader feeds it answers (``add``) and asks ``plan()`` for the next round of questions;
    ``resolve`` runs it once more over the finished snapshot.
    """
    # -- planning --------------------------------------------------------------------------------
    def _excluded(self, end: _End, candidate: _End) -> bool:
        """Whether known facts already rule ``candidate`` out as ``end``'s peer: from this end's
        side, or from the candidate's (its own id for this end's namespace)."""
        facts = self.facts
        return (facts.rules_out(end.ns, end.nsid, candidate.ns)
                or facts.contradicts(candidate.ns, candidate.nsid, end.ns))

    def _ask_fd(self, a: int, b: int, out: Set[Question]) -> bool:
        """Plan RTM_GETNSID for the pair of namespaces, from the cheaper side first."""
        sides = [(a, b), (b, a)]
        if self.cross_count.get(b, 0) < self.cross_count.get(a, 0):
            sides.reverse()
        for asker, target in sides:
            if (asker, target) not in self.facts.fd_asked:
                out.add(FdQuestion(asker, target))
                return True
        return False

    def _pick_hub(self, end: _End, group: Sequence[_End]) -> Optional[ViaQuestion]:
        """A hub for ``end`` whose known table has an id for at least one other candidate."""
        def useful(hub: int, hub_table: Dict[int, int]) -> bool:
            return any(other.ns in hub_table for other in group if other.ns not in (end.ns, hub))

        return self.facts.hub(end.ns, end.nsid, useful)

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
            fresh = [FdQuestion(a, b) for a, b in ((end.ns, other), (other, end.ns))
                     if (a, b) not in self.facts.fd_asked]
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
        return self.links[key[0]][key[1]].peer_index

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
        table = self.facts.table
        usable = [(hub, hub_nsid) for hub, hub_nsid in table.get(ns, {}).items() if ns in table.get(hub, ())]
        return heapq.nsmallest(_HINT_HUBS, usable, key=lambda route: (route[0] not in hidden, route[0]))

    def _unreachable(self) -> Iterable[_End]:
        for end in self.cross:
            if self.final.get((end.ns, end.ifindex), ("",))[0] == "peer-netns-unreachable":
                yield end

    def _last_questions(self) -> Set[Question]:
        out: Set[Question] = set()
        if not self.ask_hints:
            return out
        facts = self.facts
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
                if key not in facts.via_asked:
                    out.add(ViaQuestion(end.ns, end.nsid, hub, hub_nsid))
                    continue
                answer = facts.via_asked[key]
                if answer is not None and answer >= 0:
                    if (hub, answer, end.peer_ifindex) not in facts.hint_answers:
                        out.add(HintQuestion(hub, answer, end.peer_ifindex))
                    break
            if facts.named(end.ns, end.nsid) is None and end.ns not in fd_planned:
                # Which of the namespaces we hold but could not read is it? Asking costs one
                # lookup each and allocates nothing; it lets an unprivileged user at least learn
                # the peer's namespace. (Once per namespace: the question names no end.)
                fd_planned.add(end.ns)
                for other in self.unreadable_inodes:
                    if (end.ns, other) not in facts.fd_asked:
                        out.add(FdQuestion(end.ns, other))
        return out

    def hints(self) -> Dict[EndKey, LinkRecord]:
        """What a hub told about each unreachable end's peer: the answer through the first usable
        hub (by inode) that named the peer's namespace and was then asked for the link."""
        found: Dict[EndKey, LinkRecord] = {}
        facts = self.facts
        table = facts.table
        for end in self._unreachable():
            own = table.get(end.ns, {})
            for hub, answer in sorted(facts.answers_about(end.ns, end.nsid), key=lambda item: item[0]):
                if answer is None or answer < 0 or hub not in own or end.ns not in table.get(hub, ()):
                    continue
                link = facts.hint_answers.get((hub, answer, end.peer_ifindex))
                if link is not None:
                    found[(end.ns, end.ifindex)] = link
                    break
        return found

    def finish(self) -> Dict[EndKey, Tuple[str, str]]:
        """Every end neither paired nor explained yet gets a reason; returns all reasons."""
        for end in list(self._open()):
            self.final[(end.ns, end.ifindex)] = ("unproven", "not every kernel question was asked")
        for end in self._unreachable():
            target = self.facts.named(end.ns, end.nsid)
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
