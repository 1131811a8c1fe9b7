"""Reading every namespace over rtnetlink while watching it, and asking the kernel what pairing needs.

Takes a Discovery, gives a Snapshot. Per namespace: one socket made inside it (by
``ops.sockets_in``'s thread) and subscribed to link notifications *before* anything is dumped
through it, one link dump, one address dump, its cookie. The questions ``resolve.Pairing`` plans
are then put to the kernel round by round (``resolve.drive``).

A pair is kept only when it held at one moment. Each namespace is watched from just before its
dump until its socket is closed; a pair is confirmed when the watches of its two namespaces
overlap and no notification since each dump touched either end. Then, at the later of the two
dumps, both ends were what was read: a change to an end shows up as a notification in its own
namespace (a device leaving, arriving, renamed or re-pointed at that ifindex), and the one change
that is silent there, the *peer* moving away, is a notification in the peer's namespace. Ends
that changed are read again, a bounded number of times; what keeps changing is reported with the
reason ``changing``.

With fewer free file descriptors than namespaces, namespaces are read in windows (the own and
root ones stay open throughout) and pairs whose namespaces were not watched at the same time are
read again together. No interpretation happens here beyond what choosing sockets needs.

One socket watches for many (the hub). Subscribing a socket and closing a subscribed one each
walk every subscribed NETLINK_ROUTE socket on the host (netlink_update_listeners), so one watch
per namespace is quadratic: measured 67 ms of binds and 70 ms of closes at 3000 namespaces, about
10 ms at 1000. The root namespace's socket is therefore subscribed with NETLINK_LISTEN_ALL_NSID
(and to id changes, RTNLGRP_NSID) before anything is read: it hears every namespace root has an
id for, each notification tagged with that id. A namespace is watched through it (``proxy``)
when root's id for it is proven by the kernel (RTM_GETNSID, asked anyway to confirm the pairs to
root) and no id change for that id was heard since the hub was subscribed (so the id meant that
namespace the whole time). Where root's veths reach most namespaces (container hosts) the others
are read without a subscription of their own; where they do not (labs wired namespace to
namespace) every namespace is watched itself, as before. The kernel delivers another
namespace's notifications only with CAP_NET_BROADCAST over it, so the hub is used only from the
initial user namespace with that capability.

The room: ``state`` (tunables, ``NsState`` per namespace) and ``kernel`` (every call the reader
makes to the kernel, behind one object that tests replace with a simulated one), then layers
each building on the one before: ``channels`` (sockets in windows of the fd budget, watches and
ticks), ``dumps`` (links, addresses, cookies; reading links again), ``asking`` (the kernel's
answers to pairing's questions), ``confirming`` (which pairs held at one moment, what to read
again); here the Snapshot they make and ``read()``, the round loop.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Collection, Dict, Iterable, List, Mapping, NamedTuple, Optional, Set, Tuple

from ..discover import Discovery
from ..resolve import Answer, EndKey, Pairing, drive
from ..snapshot import HintAnswer, NamespaceRecord, NsidAnswer, Snapshot, ViaAnswer
from .confirming import Confirming
from .kernel import HOST_KERNEL, Kernel
from .state import DEFAULT_TUNING, REREADS, NsState, Tuning, hub_allowed

__all__ = ["DEFAULT_TUNING", "HOST_KERNEL", "Kernel", "Reading", "Tuning", "hub_allowed", "read"]


class Reading(NamedTuple):
    snapshot: Snapshot
    #: The pairing state the questions were planned with (None when ``pair`` was False).
    pairing: Optional[Pairing]


class _Reader(Confirming):
    """One read of a host: channels, dumps, answers and confirmation, and the Snapshot they make."""

    # -- namespaces made during the read ------------------------------------------------------------
    def adopt_new(self, pairing: Pairing,
                  rediscover: Callable[[bool], Optional[Discovery]]) -> List[Tuple[int, int]]:
        """Namespaces made after discovery looked, found by looking once more, and the groups to
        read them in.

        An end whose peer's namespace no namespace read knows by its id may have a peer in a
        namespace made during the scan (a pod starting): then it was unreachable only because
        discovery came too early. ``rediscover(heard)`` discovers again when that can have
        happened (``heard``: the hub heard root give or take back an id since it listened; the
        caller also checks the mount table), else returns None: a namespace that is simply hidden
        (held by a socket, say) costs no second discovery. Once per read."""
        if self.rediscovered:
            return []
        unknown = []
        for key, reason in pairing.reasons():
            if reason != "peer-netns-unreachable":
                continue
            link = self.nss[key[0]].by_index.get(key[1])
            if (link is not None and link.link_netnsid is not None
                    and pairing.facts.named(key[0], link.link_netnsid) is None):
                unknown.append(key[0])
        if not unknown:
            return []
        self.rediscovered = True
        hub = self.hub
        heard = bool(hub is not None and hub.channel is not None and hub.channel.nsid_changes)
        try:
            found = rediscover(heard)
        except (OSError, ValueError):
            return []
        if found is None:
            return []
        self.extra.append(found)
        groups: Dict[Tuple[int, int], None] = {}
        for item in found.namespaces:
            if item.inode in self.nss or item.error is not None:
                continue
            self.nss[item.inode] = NsState(item)
            self.found.append(item)
            for inode in unknown:
                groups[(min(inode, item.inode), max(inode, item.inode))] = None
        return list(groups)

    # -- the result -----------------------------------------------------------------------------
    def _cookie_unread(self, ns: NsState) -> Optional[int]:
        """The cookie of a namespace that could not be read, where an fd to it can still be had
        (NS_GET_ID needs no entering): a watch knows a namespace by its cookie, and one that
        failed a single scan (a socket that did not answer) must not look like another one."""
        if ns.found.fd is not None:
            return self.kernel.cookie_of_fd(ns.found.fd)
        try:
            fd = self.kernel.reopen(ns.found)
        except OSError:
            return None
        try:
            return self.kernel.cookie_of_fd(fd)
        finally:
            self.kernel.close_fd(fd)

    def _namespace_records(self) -> Tuple[NamespaceRecord, ...]:
        # Keyed on the dumps made and the namespaces in error: nothing else changes a record.
        key = (self.dumps, tuple((ns.inode, ns.error) for ns in self.nss.values() if ns.error is not None))
        if self._records is not None and self._records[0] == key:
            return self._records[1]
        records = []
        root_inode, own_inode = self.discovery.root_inode, self.discovery.own_inode
        for found in self.found:
            inode = found.namespace.id.inode
            ns = self.nss[inode]
            if ns.cookie is None and ns.error is not None:
                ns.cookie = self._cookie_unread(ns)
            readable = ns.error is None
            records.append(NamespaceRecord(
                found.namespace._replace(
                    cookie=ns.cookie, error=ns.error, root=inode == root_inode, own=inode == own_inode,
                    link_count=len(ns.links) if readable else None),
                tuple(ns.links) if readable else (), tuple(ns.addresses) if readable else ()))
        self._records = (key, tuple(records))
        return self._records[1]

    def snapshot(self, answers: Iterable[Answer], changing: Iterable[EndKey]) -> Snapshot:
        records = self._namespace_records()
        warnings = list(dict.fromkeys(self.warnings))
        unreadable = [r.namespace.error for r in records if r.namespace.error is not None]
        if unreadable:
            warnings.append(f"{len(unreadable)} namespaces could not be read; first: {unreadable[0]}")
        nsids: List[NsidAnswer] = []
        vias: List[ViaAnswer] = []
        hints: List[HintAnswer] = []
        for answer in answers:
            if isinstance(answer, NsidAnswer):
                nsids.append(answer)
            elif isinstance(answer, ViaAnswer):
                vias.append(answer)
            else:
                hints.append(answer)
        return Snapshot(records, tuple(nsids), tuple(vias), tuple(hints), self.discovery.root_source,
                        tuple(warnings), tuple(sorted(set(changing))), self.sockets_searched,
                        tun_files=self.discovery.tun_files)


def _positive(answer: Answer) -> bool:
    """Whether an answer stays true while the namespaces live: an id, once given, is never changed
    or taken back while both namespaces exist, but "no id" can stop being true at any time."""
    if isinstance(answer, NsidAnswer):
        return answer.nsid is not None and answer.nsid >= 0
    if isinstance(answer, ViaAnswer):
        return answer.answer is not None and answer.answer >= 0
    return False  # a link's attributes can change


def read(discovery: Discovery, *, addresses: bool = True, pair: bool = True, room: int = 1 << 20,
         sockets_searched: bool = True, rediscover: Optional[Callable[[bool], Optional[Discovery]]] = None,
         tuning: Tuning = DEFAULT_TUNING, kernel: Kernel = HOST_KERNEL, hints: bool = True,
         partial: Mapping[int, Collection[int]] = MappingProxyType({})) -> Reading:
    """Dump every namespace of ``discovery`` and gather the nsid answers pairing needs.

    ``room`` is how many file descriptors the reader may hold at once; ``sockets_searched`` says
    whether discovery looked inside other processes' sockets (unresolved ends mention it if not).
    ``rediscover`` finds namespaces made after ``discovery`` (see ``_Reader.adopt_new``); what it
    returns is closed with the reader. ``tuning`` makes choices the reader otherwise makes itself;
    ``kernel`` is what it reads (a stand-in in tests); without ``hints`` nothing is asked about
    peers in namespaces not read (a read of a few namespaces on purpose: see ``Ends.ask_hints``).
    The namespaces ``partial`` names (inode -> ifindexes asked for) are read in part, after the
    others: only those links, the ones the others point at there (peers, lowers) and their
    masters, each by its ifindex (``Dumps._read_part``); what is proven of them is proven as of a
    whole read, and nothing else is said of them.
    """
    reader = _Reader(discovery, addresses, room, sockets_searched, tuning, kernel, partial)
    try:
        reader.read_all()
        if not pair:
            return Reading(reader.snapshot((), ()), None)
        answers: List[Answer] = []
        changing: Set[EndKey] = set()
        for round_number in range(REREADS + 1):
            pairing = Pairing(reader.snapshot(answers, changing), hints)
            answers.extend(drive(pairing, reader.answer_round))
            bad, groups = reader.confirm(pairing)
            if rediscover is not None and round_number < REREADS:
                groups = groups + reader.adopt_new(pairing, rediscover)
            if not bad and not groups:
                break
            if round_number == REREADS:
                if bad:
                    changing.update(bad)
                    pairing = Pairing(reader.snapshot(answers, changing), hints)
                    answers.extend(drive(pairing, reader.answer_round))
                break
            reader.reread(groups)
            answers = [answer for answer in answers if _positive(answer)]
        return Reading(reader.snapshot(answers, changing), pairing)
    finally:
        reader.close_all()
