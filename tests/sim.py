"""A simulated kernel for resolver and reader tests: namespaces, veth pairs, per-namespace nsid
tables, link notifications and a clock.

It answers the reader's questions the way the kernel does (RTM_GETNSID by fd, by nsid through a
target namespace, RTM_GETLINK through IFLA_TARGET_NETNSID), so the planning loop can be driven
without root, and the truth is known to check every answer against.

``SimKernel`` stands in for ``vethpeer.reader.kernel.Kernel``: the reader's whole read (channels,
watches, dumps, questions, confirmation, rereads) runs against the world. The world changes
between the reader's calls: every call to the kernel is a tick of ``World.clock``, after which
``World.hooks`` run and may delete, move, rename or make links. Each change is notified as the
kernel notifies it: RTM_NEWLINK/RTM_DELLINK to the subscribed channels of the namespace it
happened in, and, tagged with the listener's id for that namespace, to a NETLINK_LISTEN_ALL_NSID
channel whose namespace has an id for it; a new id is RTM_NEWNSID to its namespace's listeners.
``World.history`` holds every pair that existed at some moment, to check that each pair
reported did.
"""

from __future__ import annotations

import errno
import random
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from vethpeer import reader
from vethpeer.discover import Discovery, FoundNamespace
from vethpeer.host.channel import Dump
from vethpeer.host.netlink import LinkEvent, LinkRecord
from vethpeer.model import Holders, Namespace, NamespaceId, Topology
from vethpeer.resolve import Answer, FdQuestion, HintQuestion, Pairing, Question, ViaQuestion, drive, resolve
from vethpeer.snapshot import HintAnswer, NamespaceRecord, NsidAnswer, Snapshot, ViaAnswer

End = Tuple[int, int]  # (namespace inode, ifindex)
Named = Tuple[int, int, bytes]  # an end and its name at the moment


class World:
    def __init__(self) -> None:
        self.next_inode = 4026532000
        self.links: Dict[int, Dict[int, dict]] = {}
        self.tables: Dict[int, Dict[int, int]] = {}  # asker -> {target: nsid}
        self.unreadable: Set[int] = set()
        #: Namespaces whose socket is made but never answers a question (``links_by``, a dump).
        self.stuck: Set[int] = set()
        #: Link kinds no module registered: a dump filtered by one is not filtered.
        self.unregistered: Set[str] = set()
        #: A kernel that filters link dumps by no kind (before Linux 4.15).
        self.no_filters = False
        self.truth: Set[frozenset] = set()
        #: Every pair that existed at some moment, each end with its name then.
        self.history: Set[frozenset] = set()
        #: Kernel calls made so far; after each, every hook runs as ``hook(operation, inode)``.
        self.clock = 0
        self.hooks: List[Callable[[str, int], None]] = []
        #: Open channels that hear changes (subscribed or listening to every namespace).
        self.listeners: List[SimChannel] = []
        #: The namespace fds the SimKernel handed out and not yet closed: fd -> inode.
        self.kernel_fds: Dict[int, int] = {}
        #: Questions whose answer made the kernel give the asker an id.
        self.allocating: List[Question] = []
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
        self._changed((a, ia), (b, ib))
        return (a, ia), (b, ib)

    def veth_at(self, a: int, ia: int, name_a: bytes, b: int, ib: int, name_b: bytes) -> Tuple[End, End]:
        """A veth pair made at given ifindexes (as ``ip link add ... index``)."""
        assert ia not in self.links[a] and ib not in self.links[b] and (a, ia) != (b, ib)
        self.links[a][ia] = {"name": name_a, "kind": "veth", "peer": (b, ib)}
        self.links[b][ib] = {"name": name_b, "kind": "veth", "peer": (a, ia)}
        self.truth.add(frozenset(((a, ia), (b, ib))))
        self._changed((a, ia), (b, ib))
        return (a, ia), (b, ib)

    def assign(self, asker: int, target: int) -> int:
        """peernet2id_alloc: the lowest free id (RTM_NEWNSID to the asker's id listeners)."""
        table = self.tables[asker]
        if target not in table:
            used = set(table.values())
            table[target] = next(i for i in range(len(used) + 1) if i not in used)
            for channel in self.listeners:
                if channel.inode == asker and channel.listen_all:
                    channel.pending.append(table[target])
        return table[target]

    def noise(self, rng: random.Random, count: int) -> None:
        """Ids assigned for other reasons (other tools, earlier peers), to vary the tables."""
        inodes = list(self.links)
        for _ in range(count):
            a, b = rng.choice(inodes), rng.choice(inodes)
            if a != b:
                self.assign(a, b)

    # -- changing it (as it is being read) -------------------------------------------------------
    def delete(self, ns: int, index: int) -> None:
        """Delete a link; a veth takes its peer with it."""
        link = self.links[ns][index]
        ends = [(ns, index)] + ([link["peer"]] if link["peer"] is not None else [])
        records = [(end, self.record(*end)) for end in ends]
        for end in ends:
            del self.links[end[0]][end[1]]
        self.truth = {pair for pair in self.truth if not (pair & set(ends))}
        for (where, _index), record in records:
            self._notify(where, record, deleted=True)

    def move(self, ns: int, index: int, to: int, new_index: Optional[int] = None) -> int:
        """Move a link to another namespace (its ifindex kept where free): RTM_DELLINK where it
        was, RTM_NEWLINK where it lands, and nothing at its peer."""
        old = self.record(ns, index)
        link = self.links[ns].pop(index)
        if new_index is None:
            new_index = index if index not in self.links[to] else max(self.links[to]) + 1
        assert new_index not in self.links[to]
        self.links[to][new_index] = link
        peer = link["peer"]
        if peer is not None:
            self.links[peer[0]][peer[1]]["peer"] = (to, new_index)
            self.truth.discard(frozenset(((ns, index), peer)))
            self.truth.add(frozenset(((to, new_index), peer)))
        self._notify(ns, old, deleted=True)
        self._changed((to, new_index))
        return new_index

    def rename(self, ns: int, index: int, name: bytes) -> None:
        self.links[ns][index]["name"] = name
        self._changed((ns, index))

    def _changed(self, *ends: End) -> None:
        for ns, index in ends:
            self._notify(ns, self.record(ns, index), deleted=False)
        for pair in self.truth:
            self.history.add(frozenset((ns, index, self.links[ns][index]["name"]) for ns, index in pair))

    def _notify(self, ns: int, record: LinkRecord, deleted: bool) -> None:
        for channel in self.listeners:
            if channel.inode == ns:
                channel.pending.append(LinkEvent(deleted, record))
            elif channel.listen_all and ns in self.tables[channel.inode]:
                channel.pending.append(LinkEvent(deleted, record, self.tables[channel.inode][ns]))

    def tick(self, operation: str, ns: int) -> None:
        self.clock += 1
        for hook in list(self.hooks):
            hook(operation, ns)

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
            # The reply names the link's peer namespace by the asker's id for it; the kernel
            # allocates one if the asker has none. vethpeer must never make it do that (``ask_all``
            # asserts it; under changes, a device replaced since the dump can).
            if peer is not None and peer[0] not in self.tables[question.asker]:
                self.allocating.append(question)
                self.assign(question.asker, peer[0])
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
        assert not self.allocating, f"these questions allocate an nsid: {self.allocating}"
        assert not pairing.warnings or "rounds" not in pairing.warnings[-1], "planning did not converge"
        nsids = tuple(a for a in answers if isinstance(a, NsidAnswer))
        vias = tuple(a for a in answers if isinstance(a, ViaAnswer))
        hints = tuple(a for a in answers if isinstance(a, HintAnswer))
        return snapshot._replace(nsid_answers=nsids, via_answers=vias, hints=hints), asked


# -- the reader's kernel ---------------------------------------------------------------------------
class SimSocket:
    def __init__(self, inode: int) -> None:
        self.inode = inode

    def close(self) -> None:
        pass


class SimChannel:
    """``host.channel.Channel`` over the world: dumps and answers at one tick each, notifications
    queued as they happen and taken in by ``drain``."""

    def __init__(self, world: World, inode: int, watch: bool, listen_all: bool) -> None:
        self.world, self.inode = world, inode
        self.events: List[LinkEvent] = []
        self.overflow = False
        self.listen_all = listen_all
        self.nsid_changes: Optional[List[int]] = [] if listen_all else None
        self.dump_attempts = 1
        #: Queued, not yet taken in: link events and (listen_all) ids given.
        self.pending: List[object] = []
        #: The kernel will drop what comes next (a full socket buffer).
        self.lose = False
        self.closed = False
        if watch or listen_all:
            world.listeners.append(self)

    def close(self) -> None:
        assert not self.closed, "closed twice"
        self.closed = True
        if self in self.world.listeners:
            self.world.listeners.remove(self)

    def drain(self) -> None:
        assert not self.closed
        if self.lose:
            self.lose, self.overflow = False, True
            self.pending.clear()
        for item in self.pending:
            if isinstance(item, LinkEvent):
                self.events.append(item)
            elif self.nsid_changes is not None:
                self.nsid_changes.append(int(item))  # type: ignore[call-overload]
        self.pending.clear()

    def _links(self) -> Dict[int, dict]:
        assert not self.closed
        return self.world.links[self.inode]

    def dump_links(self) -> Dump:
        if self.inode in self.world.stuck:
            raise OSError(errno.ETIMEDOUT, "no answer")
        records = [self.world.record(self.inode, index) for index in sorted(self._links())]
        self.world.tick("dump", self.inode)
        return Dump(records, False)

    def links_filtered(self, kind: Optional[str] = None, master: int = 0, limit: Optional[int] = None) -> Dump:
        if self.inode in self.world.stuck:
            raise OSError(errno.ETIMEDOUT, "no answer")
        registered = kind is None or (kind not in self.world.unregistered and not self.world.no_filters)
        records = [self.world.record(self.inode, index) for index in sorted(self._links())
                   if not registered or ((kind is None or self._links()[index]["kind"] == kind) and not master)]
        self.world.tick("filtered", self.inode)
        # (No masters here: a master filter finds nothing.)
        return Dump([record for record in records if (kind is None or record.kind == kind) and not master], False)

    def kind_filtered(self, kind: str) -> bool:
        self.world.tick("probe", self.inode)
        return kind not in self.world.unregistered and not self.world.no_filters

    def dump_addresses(self) -> Tuple[list, bool]:
        return [], False

    def addresses_of(self, indexes: Sequence[int]) -> Tuple[list, bool]:
        return [], False

    def cookie(self) -> int:
        return cookie(self.inode)

    def link(self, index: int) -> Optional[LinkRecord]:
        record = self.world.record(self.inode, index) if index in self._links() else None
        self.world.tick("link", self.inode)
        return record

    def links_by(self, names: Sequence[bytes], indexes: Sequence[int]) -> List[Optional[LinkRecord]]:
        if self.inode in self.world.stuck:
            raise OSError(errno.ETIMEDOUT, "no answer")
        out: List[Optional[LinkRecord]] = []
        for name in names:
            found = [index for index, link in self._links().items() if link["name"] == name]
            out.append(self.world.record(self.inode, found[0]) if found else None)
        for index in indexes:
            out.append(self.world.record(self.inode, index) if index in self._links() else None)
        self.world.tick("link", self.inode)
        return out

    def _nsid(self, fd: int) -> int:
        assert not self.closed
        target = self.world.kernel_fds[fd]
        return self.world.tables[self.inode].get(target, -1)

    def nsid_of_fd(self, fd: int) -> int:
        nsid = self._nsid(fd)
        self.world.tick("nsid", self.inode)
        return nsid

    def nsids_of_fds(self, fds: Sequence[int]) -> List[Optional[int]]:
        nsids: List[Optional[int]] = [self._nsid(fd) for fd in fds]
        self.world.tick("nsid", self.inode)
        return nsids

    def nsid_via(self, nsid: int, hub_nsid: int) -> int:
        answer = self.world.answer(ViaQuestion(self.inode, nsid, 0, hub_nsid))
        self.world.tick("via", self.inode)
        if answer.answer is None:  # type: ignore[union-attr]
            raise OSError(errno.EINVAL, "no such id")
        return int(answer.answer)  # type: ignore[union-attr]

    def link_in(self, nsid: int, ifindex: int) -> LinkRecord:
        answer = self.world.answer(HintQuestion(self.inode, nsid, ifindex))
        self.world.tick("link_in", self.inode)
        if answer.link is None:  # type: ignore[union-attr]
            raise OSError(errno.ENODEV, "no such device")
        return answer.link  # type: ignore[union-attr]


def cookie(inode: int) -> int:
    return inode - 4026531000


class SimKernel:
    """``vethpeer.reader.kernel.Kernel`` for a World: namespace fds are numbers it hands out
    (never real descriptors), each namespace unreadable in the world refuses a socket."""

    def __init__(self, world: World, hub: bool = True) -> None:
        self.world = world
        self.hub = hub
        self.next_fd = 1 << 24

    def fd_for(self, inode: int) -> int:
        self.next_fd += 1
        self.world.kernel_fds[self.next_fd] = inode
        return self.next_fd

    def hub_allowed(self) -> bool:
        return self.hub

    def sockets_in(self, fds: Sequence[Optional[int]]) -> List[object]:
        out: List[object] = []
        for fd in fds:
            inode = self.world.root if fd is None else self.world.kernel_fds[fd]
            if inode in self.world.unreadable:
                out.append(OSError(errno.EPERM, "Operation not permitted"))
            else:
                out.append(SimSocket(inode))
        return out

    def channel(self, sock: SimSocket, watch: bool, listen_all: bool) -> SimChannel:
        return SimChannel(self.world, sock.inode, watch, listen_all)

    def netns_of(self, channel: SimChannel) -> int:
        return self.fd_for(channel.inode)

    def reopen(self, found: FoundNamespace) -> int:
        return self.fd_for(found.inode)

    def cookie_of_fd(self, fd: int) -> Optional[int]:
        return cookie(self.world.kernel_fds[fd])

    def close_fd(self, fd: int) -> None:
        assert fd in self.world.kernel_fds, "closed an fd it did not own"
        del self.world.kernel_fds[fd]

    def ready(self, channels: Sequence[SimChannel]) -> List[bool]:
        return [bool(channel.pending) or channel.lose for channel in channels]


def read_world(world: World, hub: Optional[bool] = None, kernel_hub: bool = True, room: int = 1 << 20,
               kept: Optional[Set[int]] = None, only: Optional[Set[int]] = None) -> Tuple[reader.Reading, Topology]:
    """The reader's whole read of ``world`` and the Topology it resolves to. ``hub`` is the read's
    choice (``reader.Tuning``), ``kernel_hub`` whether the kernel would let it hear other
    namespaces; ``kept``: the namespaces whose fds discovery kept (default all; the others are
    reopened); ``only``: read these namespaces and root in part, as ``scanner.read_host(only=)``
    does (root itself in ``only`` is read whole)."""
    kernel = SimKernel(world, hub=kernel_hub)
    found = []
    for inode in world.links:
        if only is not None and inode not in only and inode != world.root:
            continue
        keep = kept is None or inode in kept
        found.append(FoundNamespace(
            Namespace(NamespaceId(4, inode), None, Holders(names=(f"ns{inode - 4026532000}",))),
            fd=kernel.fd_for(inode) if keep else None, openers=(() if keep else (("/sim", False),))))
    discovery = Discovery(tuple(found), world.root, world.root, "pid 1", ())
    partial = {} if only is None or world.root in only else {world.root: ()}
    reading = reader.read(discovery, room=room, tuning=reader.Tuning(hub=hub), kernel=kernel,  # type: ignore[arg-type]
                          hints=only is None, partial=partial)
    leaked = [channel for channel in world.listeners if not channel.closed]
    assert not leaked, "channels left open"
    return reading, resolve(reading.snapshot, reading.pairing)
