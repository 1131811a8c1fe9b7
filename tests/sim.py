"""A simulated kernel for resolver tests: namespaces, veth pairs, and per-namespace nsid tables.

It answers the reader's questions the way the kernel does (RTM_GETNSID by fd, by nsid through a
target namespace, RTM_GETLINK through IFLA_TARGET_NETNSID), so the planning loop can be driven
without root, and the truth is known to check every answer against.
"""

from __future__ import annotations

import random
from typing import Dict, List, Optional, Set, Tuple

from vethpeer.host.netlink import LinkRecord
from vethpeer.model import Holders, Namespace, NamespaceId
from vethpeer.resolve import Answer, FdQuestion, HintQuestion, Pairing, Question, ViaQuestion, drive
from vethpeer.snapshot import HintAnswer, NamespaceRecord, NsidAnswer, Snapshot, ViaAnswer

End = Tuple[int, int]  # (namespace inode, ifindex)


class World:
    def __init__(self) -> None:
        self.next_inode = 4026532000
        self.links: Dict[int, Dict[int, dict]] = {}
        self.tables: Dict[int, Dict[int, int]] = {}  # asker -> {target: nsid}
        self.unreadable: Set[int] = set()
        self.truth: Set[frozenset] = set()
        self.root = self.namespace()

    # -- building --------------------------------------------------------------------------------
    def namespace(self) -> int:
        inode = self.next_inode
        self.next_inode += 1
        self.links[inode] = {1: {"name": b"lo", "kind": None, "peer": None}}
        self.tables[inode] = {}
        return inode

    def add(self, ns: int, name: bytes, kind: Optional[str] = None, peer: Optional[End] = None,
            index: Optional[int] = None) -> int:
        index = index if index is not None else max(self.links[ns]) + 1
        assert index not in self.links[ns]
        self.links[ns][index] = {"name": name, "kind": kind, "peer": peer}
        return index

    def veth(self, a: int, b: int, name_a: bytes = b"veth", name_b: bytes = b"veth",
             kind: str = "veth") -> Tuple[End, End]:
        ia = self.add(a, name_a, kind)
        ib = self.add(b, name_b, kind)
        self.links[a][ia]["peer"] = (b, ib)
        self.links[b][ib]["peer"] = (a, ia)
        self.truth.add(frozenset(((a, ia), (b, ib))))
        return (a, ia), (b, ib)

    def assign(self, asker: int, target: int) -> int:
        """peernet2id_alloc: the lowest free id."""
        table = self.tables[asker]
        if target not in table:
            used = set(table.values())
            table[target] = next(i for i in range(len(used) + 1) if i not in used)
        return table[target]

    def noise(self, rng: random.Random, count: int) -> None:
        """Ids assigned for other reasons (other tools, earlier peers), to vary the tables."""
        inodes = list(self.links)
        for _ in range(count):
            a, b = rng.choice(inodes), rng.choice(inodes)
            if a != b:
                self.assign(a, b)

    # -- what the kernel reports -----------------------------------------------------------------
    def record(self, ns: int, index: int) -> LinkRecord:
        link = self.links[ns][index]
        peer = link["peer"]
        netnsid = None
        link_index = None
        if peer is not None:
            link_index = peer[1]
            if peer[0] != ns:
                netnsid = self.assign(ns, peer[0])  # a dump allocates, as the kernel does
        return LinkRecord(index, link["name"], 0, link["kind"], None, None, 1500, 6, None, link_index,
                          netnsid, ())

    def snapshot(self) -> Snapshot:
        namespaces = []
        for inode in self.links:
            readable = inode not in self.unreadable
            links = tuple(self.record(inode, index) for index in sorted(self.links[inode])) if readable else ()
            namespaces.append(NamespaceRecord(Namespace(
                NamespaceId(4, inode), None, Holders(names=(f"ns{inode - 4026532000}",)),
                root=inode == self.root, own=inode == self.root,
                error=None if readable else "cannot enter it: operation not permitted"), links))
        return Snapshot(tuple(namespaces), (), (), (), "pid 1", ())

    def answer(self, question: Question) -> Answer:
        if isinstance(question, FdQuestion):
            return NsidAnswer(question.asker, question.target,
                              self.tables[question.asker].get(question.target, -1))
        reverse = {nsid: target for target, nsid in self.tables[question.asker].items()}
        if isinstance(question, ViaQuestion):
            peer, hub = reverse.get(question.nsid), reverse.get(question.hub_nsid)
            result = None if peer is None or hub is None else self.tables[hub].get(peer, -1)
            return ViaAnswer(question.asker, question.nsid, question.hub, result)
        assert isinstance(question, HintQuestion)
        target = reverse.get(question.nsid)
        link = None
        if target is not None and question.ifindex in self.links[target]:
            peer = self.links[target][question.ifindex]["peer"]
            # The reply names the link's peer namespace by the asker's id for it; the kernel would
            # allocate one if the asker had none. vethpeer must never make it do that.
            assert peer is None or peer[0] in self.tables[question.asker], "this question allocates an nsid"
            link = self.record(target, question.ifindex)
        return HintAnswer(question.asker, question.nsid, question.ifindex, link)

    # -- running the reader's loop ---------------------------------------------------------------
    def ask_all(self, snapshot: Snapshot) -> Tuple[Snapshot, List[Question]]:
        """Run the reader's own ask loop (``resolve.drive``) against this simulated kernel."""
        pairing = Pairing(snapshot)
        asked: List[Question] = []

        def answer_round(questions: List[Question]) -> List[Answer]:
            for question in questions:
                assert question not in asked, f"asked twice: {question}"
            asked.extend(questions)
            return [self.answer(question) for question in questions]

        answers = drive(pairing, answer_round)
        assert not pairing.warnings or "rounds" not in pairing.warnings[-1], "planning did not converge"
        nsids = tuple(a for a in answers if isinstance(a, NsidAnswer))
        vias = tuple(a for a in answers if isinstance(a, ViaAnswer))
        hints = tuple(a for a in answers if isinstance(a, HintAnswer))
        return snapshot._replace(nsid_answers=nsids, via_answers=vias, hints=hints), asked
