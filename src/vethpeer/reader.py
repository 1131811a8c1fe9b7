"""Reading every namespace once over rtnetlink, and asking the kernel what pairing needs.

Takes a Discovery (open namespace fds), gives a Snapshot. Per namespace: one socket made inside it
(by ``ops.sockets_in``'s thread), one link dump, one address dump, its cookie. Then the questions
``resolve.Pairing`` plans are put to the kernel round by round until none are left. No
interpretation happens here beyond what deciding which sockets to keep needs.
"""

from __future__ import annotations

import errno
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from . import netlink, ops
from .discover import Discovery, FoundNamespace
from .model import PEER_KINDS
from .netlink import Channel, LinkRecord
from .resolve import Answer, FdQuestion, HintQuestion, Pairing, Question, ViaQuestion
from .snapshot import HintAnswer, NamespaceRecord, NsidAnswer, Snapshot, ViaAnswer

# Netlink sockets and namespace fds kept open at once stay this far below RLIMIT_NOFILE.
_FD_MARGIN = 64
_MAX_ROUNDS = 64


def _enter_error(error: OSError) -> str:
    if error.errno == errno.EPERM:
        return "cannot enter it: operation not permitted (needs CAP_SYS_ADMIN)"
    if error.errno == errno.EINVAL:
        return "cannot enter it: not a network namespace (a stale file?)"
    return f"cannot enter it: {error.strerror}"


def _has_cross_ends(links: Sequence[LinkRecord]) -> bool:
    return any(link.kind in PEER_KINDS and link.link_netnsid is not None for link in links)


# (error, links, addresses, cookie) of one namespace
_Read = Tuple[Optional[str], List[LinkRecord], List[netlink.AddressRecord], Optional[int]]


class _Sockets:
    """Netlink channels by namespace inode, created in batches, within the fd budget."""

    def __init__(self, discovery: Discovery) -> None:
        self.own = discovery.own_inode
        self.fds: Dict[int, int] = {ns.inode: ns.fd for ns in discovery.namespaces if ns.fd is not None}
        self.open: Dict[int, Channel] = {}
        self.budget = max(16, ops.raise_fd_limit() - ops.open_fd_count() - _FD_MARGIN)

    def create(self, inodes: Sequence[int]) -> List[Tuple[int, Channel | OSError]]:
        # The own namespace needs no setns (and works without privilege).
        targets = [None if inode == self.own else self.fds[inode] for inode in inodes]
        results = ops.sockets_in(targets)
        return [(inode, Channel(sock) if not isinstance(sock, OSError) else sock)
                for inode, sock in zip(inodes, results)]

    def get(self, wanted: Sequence[int]) -> None:
        """Make sure each wanted namespace (that has an fd) has an open channel.

        At most ``budget`` may be wanted at once; channels not wanted are closed to make room.
        """
        wanted_set = set(wanted)
        missing = [inode for inode in wanted_set if inode not in self.open and inode in self.fds]
        if not missing:
            return
        if len(self.open) + len(missing) > self.budget:
            for inode in [inode for inode in self.open if inode not in wanted_set]:
                self.open.pop(inode).close()
        for inode, channel in self.create(missing):
            if isinstance(channel, Channel):
                self.open[inode] = channel

    def close_all(self) -> None:
        for channel in self.open.values():
            channel.close()
        self.open.clear()


def _read_one(found: FoundNamespace, channel: Channel, addresses: bool) -> Tuple[
        List[LinkRecord], List[netlink.AddressRecord], Optional[int]]:
    links = channel.dump_links()
    addrs = channel.dump_addresses() if addresses else []
    cookie = channel.cookie()
    if cookie is None and found.fd is not None:
        cookie = ops.netns_fd_cookie(found.fd)
    return links, addrs, cookie


class Reading(NamedTuple):
    snapshot: Snapshot
    #: The pairing state the questions were planned with (None when ``pair`` was False).
    pairing: Optional[Pairing]


def read(discovery: Discovery, *, addresses: bool = True, pair: bool = True) -> Reading:
    """Dump every namespace of ``discovery`` and gather the nsid answers pairing needs."""
    sockets = _Sockets(discovery)
    warnings: List[str] = list(discovery.warnings)
    records: List[NamespaceRecord] = []
    try:
        readable = [ns for ns in discovery.namespaces if ns.fd is not None and ns.error is None]
        results: Dict[int, _Read] = {}
        start = 0
        while start < len(readable):
            # Kept sockets count against the budget too: each batch only fills what is left, and
            # keeping stops one short of the budget so that reading can always go on.
            step = sockets.budget - len(sockets.open)
            batch = readable[start : start + step]
            start += step
            for found, (inode, channel) in zip(batch, sockets.create([ns.inode for ns in batch])):
                if isinstance(channel, OSError):
                    results[inode] = (_enter_error(channel), [], [], None)
                    continue
                try:
                    links, addrs, cookie = _read_one(found, channel, addresses)
                except (OSError, netlink.DumpInterrupted) as error:
                    channel.close()
                    reason = error.strerror if isinstance(error, OSError) else str(error)
                    results[inode] = (f"cannot read it: {reason}", [], [], None)
                    continue
                results[inode] = (None, links, addrs, cookie)
                # Only namespaces with cross-namespace ends are ever asked nsid questions.
                if pair and _has_cross_ends(links) and len(sockets.open) < sockets.budget - 1:
                    sockets.open[inode] = channel
                else:
                    channel.close()
        for ns in discovery.namespaces:
            problem, links, addrs, cookie = results.get(ns.inode, (ns.error, [], [], None))
            if ns.fd is None and problem is None:
                problem = "could not be opened"
            records.append(NamespaceRecord(
                dev=ns.dev, inode=ns.inode, cookie=cookie, names=ns.names, paths=ns.paths,
                pids=ns.pids, threads=ns.threads, fds=ns.fds, sockets=ns.sockets, comm=ns.comm,
                root=ns.inode == discovery.root_inode, own=ns.inode == discovery.own_inode,
                error=problem, links=tuple(links), addresses=tuple(addrs), tuns=ns.tuns,
            ))
        unreadable = [r for r in records if r.error is not None]
        if unreadable:
            warnings.append(f"{len(unreadable)} namespaces could not be read; "
                            f"first: {unreadable[0].error}")
        snapshot = Snapshot(tuple(records), (), (), (), discovery.root_source, tuple(warnings))
        if not pair:
            return Reading(snapshot, None)
        return _ask(snapshot, sockets)
    finally:
        sockets.close_all()


def _ask(snapshot: Snapshot, sockets: _Sockets) -> Reading:
    """Put the pairing's questions to the kernel until it has none left."""
    pairing = Pairing(snapshot)
    nsids: List[NsidAnswer] = []
    vias: List[ViaAnswer] = []
    hints: List[HintAnswer] = []
    for _round in range(_MAX_ROUNDS):
        questions = pairing.plan()
        if not questions:
            break
        by_asker: Dict[int, List[Question]] = {}
        for question in questions:
            by_asker.setdefault(question.asker, []).append(question)
        askers = list(by_asker)
        # Where the fd limit is low, the askers of one round take turns at the sockets.
        for start in range(0, len(askers), sockets.budget):
            turn = askers[start : start + sockets.budget]
            sockets.get(turn)
            for asker in turn:
                for question in by_asker[asker]:
                    answer = _answer(question, sockets)
                    pairing.add(answer)
                    if isinstance(answer, NsidAnswer):
                        nsids.append(answer)
                    elif isinstance(answer, ViaAnswer):
                        vias.append(answer)
                    else:
                        hints.append(answer)
    else:
        # Never seen; a guard against a planning loop. What was not asked stays unproven.
        pairing.warnings.append(f"stopped asking the kernel after {_MAX_ROUNDS} rounds of questions")
    return Reading(snapshot._replace(nsid_answers=tuple(nsids), via_answers=tuple(vias), hints=tuple(hints)),
                   pairing)


def _answer(question: Question, sockets: _Sockets) -> Answer:
    channel = sockets.open.get(question.asker)
    if isinstance(question, FdQuestion):
        target_fd = sockets.fds.get(question.target)
        nsid: Optional[int] = None
        if channel is not None and target_fd is not None:
            try:
                nsid = channel.nsid_of_fd(target_fd)
            except OSError:
                nsid = None
        return NsidAnswer(question.asker, question.target, nsid)
    if isinstance(question, ViaQuestion):
        via: Optional[int] = None
        if channel is not None:
            try:
                via = channel.nsid_via(question.nsid, question.hub_nsid)
            except OSError:
                via = None  # EPERM without CAP_NET_ADMIN over the hub
        return ViaAnswer(question.asker, question.nsid, question.hub, via)
    assert isinstance(question, HintQuestion)
    link: Optional[LinkRecord] = None
    if channel is not None:
        try:
            link = channel.link_in(question.nsid, question.ifindex)
        except OSError:
            link = None
    return HintAnswer(question.asker, question.nsid, question.ifindex, link)
