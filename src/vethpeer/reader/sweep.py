"""Where the devices of a name are, without reading every namespace: one RTM_GETLINK by name per
namespace, and where their peers may be (one RTM_GETLINK by ifindex per namespace).

Only a plan for a read: nothing found here is shown or trusted. The namespaces it names are then
read and proven as any read is (``read(partial=)``); a namespace it could not ask makes it give
up (None), and the caller reads the whole host instead.
"""

from __future__ import annotations

import contextlib
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple, TypeVar

from ..discover import Discovery, FoundNamespace
from ..host.channel import Channel
from ..host.netlink import LinkRecord
from ..model import PEER_KINDS
from .kernel import HOST_KERNEL, Kernel

#: Namespaces asked at once (each holds a socket and, while it is made, a namespace fd).
WINDOW = 256

#: Matches with a peer in another namespace beyond which the sweep gives up: each costs a question
#: to every namespace, and a name that many namespaces hold (eth0) is most of a whole read.
MAX_CROSS = 16


class Found(NamedTuple):
    #: Namespace (inode) -> the devices there with one of the names (each once).
    matches: Dict[int, List[LinkRecord]]
    #: Namespaces holding a device that may be a match's peer: a veth or netkit end at the
    #: ifindex the match names, naming the match's ifindex back, from another namespace.
    peers: Set[int]


def sweep(discovery: Discovery, names: Sequence[bytes], room: int, kernel: Kernel = HOST_KERNEL) -> Optional[Found]:
    """Ask every namespace of ``discovery`` for a device by each of ``names``, and for the
    candidates of the matches' peers; None when a namespace could not be asked (unreadable,
    gone, no socket), so that what is missing is never taken for absent, or when more than
    ``MAX_CROSS`` matches have peers elsewhere (then most of the host is read anyway)."""
    order = sorted(discovery.namespaces,
                   key=lambda item: (item.inode not in (discovery.root_inode, discovery.own_inode), item.inode))
    window = max(1, min(WINDOW, (room - 2) // 2))
    matches: Dict[int, List[LinkRecord]] = {}
    peers: Set[int] = set()
    #: (peer's ifindex, the match's namespace, the match's ifindex) for every match so far.
    wanted: List[Tuple[int, int, int]] = []
    #: Each namespace asked, with how many of ``wanted`` it was asked about.
    asked: List[Tuple[FoundNamespace, int]] = []
    for part in windows(order, window):
        with opened(part, discovery.own_inode, kernel) as pairs:
            if pairs is None:
                return None
            for found, channel in pairs:
                # Its devices of those names, and the candidates for the peers of the matches so
                # far, in one exchange.
                ends = _ends(found.inode, wanted)
                answers = _ask(channel, names, ends)
                if answers is None:
                    return None
                here = list({link.ifindex: link for link in answers[: len(names)] if link is not None}.values())
                if here:
                    matches[found.inode] = here
                    wanted.extend((link.peer_index, found.inode, link.ifindex) for link in here
                                  if link.kind in PEER_KINDS and link.link_netnsid is not None)
                    if len(wanted) > MAX_CROSS:
                        return None
                if _candidate(answers[len(names) :], ends):
                    peers.add(found.inode)
                asked.append((found, len(wanted)))
    # Namespaces asked before a later match was found are asked about its peer now.
    late = {found.inode: wanted[count:] for found, count in asked if count < len(wanted) and found.inode not in peers}
    for again in windows([found for found, _ in asked if found.inode in late], window):
        with opened(again, discovery.own_inode, kernel) as pairs:
            if pairs is None:
                return None
            for found, channel in pairs:
                ends = _ends(found.inode, late[found.inode])
                answers = _ask(channel, (), ends)
                if answers is None:
                    return None
                if _candidate(answers, ends):
                    peers.add(found.inode)
    return Found(matches, peers)


T = TypeVar("T")


def windows(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@contextlib.contextmanager
def opened(part: Sequence[FoundNamespace], own: int,
           kernel: Kernel) -> Iterator[Optional[List[Tuple[FoundNamespace, Channel]]]]:
    """Each namespace of ``part`` with an unsubscribed channel in it, all closed on leaving; None
    if one cannot be had (``channels_in``)."""
    channels = channels_in(part, own, kernel)
    try:
        yield None if channels is None else list(zip(part, channels))
    finally:
        for channel in channels or ():
            channel.close()


@contextlib.contextmanager
def namespace_fds(part: Sequence[FoundNamespace], kernel: Kernel,
                  own: Optional[int] = None) -> Iterator[Optional[List[Optional[int]]]]:
    """An fd of each namespace of ``part`` (discovery's, or reopened and closed on leaving; None
    for ``own``, which a socket made here is in already); None if one cannot be had."""
    fds: List[Optional[int]] = []
    owned: List[int] = []
    try:
        for found in part:
            if found.error is not None:
                fds = []
                break
            if found.inode == own:
                fds.append(None)
            elif found.fd is not None:
                fds.append(found.fd)
            else:
                owned.append(kernel.reopen(found))
                fds.append(owned[-1])
        yield fds if len(fds) == len(part) else None
    finally:
        for fd in owned:
            kernel.close_fd(fd)


def channels_in(part: Sequence[FoundNamespace], own: int, kernel: Kernel) -> Optional[List[Channel]]:
    """An unsubscribed channel in each namespace of ``part``; None (nothing left open) if one
    cannot be had."""
    try:
        with namespace_fds(part, kernel, own) as fds:
            if fds is None:
                return None
            sockets = kernel.sockets_in(fds)
    except OSError:
        return None
    channels: List[Channel] = []
    failed = False
    for sock in sockets:
        if isinstance(sock, OSError) or failed:
            failed = True
            if not isinstance(sock, OSError):
                sock.close()
            continue
        try:
            channels.append(kernel.channel(sock, False, False))
        except OSError:
            sock.close()
            failed = True
    if failed:
        for channel in channels:
            channel.close()
        return None
    return channels


def _ask(channel: Channel, names: Sequence[bytes], ends: Dict[int, Set[int]]) -> Optional[List[Optional[LinkRecord]]]:
    """The devices of ``names`` and at ``ends``' ifindexes; None when the namespace did not answer
    (an error, no answer in time): the whole read then says what it could not read."""
    try:
        return channel.links_by(names, list(ends))
    except OSError:
        return None


def _ends(inode: int, wanted: Sequence[Tuple[int, int, int]]) -> Dict[int, Set[int]]:
    """The ifindexes to ask namespace ``inode`` for, each with the matches' ifindexes a peer there
    would name (matches in that namespace itself excluded: their peers are elsewhere)."""
    ends: Dict[int, Set[int]] = {}
    for index, where, match in wanted:
        if where != inode:
            ends.setdefault(index, set()).add(match)
    return ends


def _candidate(links: Sequence[Optional[LinkRecord]], ends: Dict[int, Set[int]]) -> bool:
    """Whether one of ``links`` (the answers for ``ends``' ifindexes, in order) is an end from
    another namespace naming back a match's ifindex (a candidate only: the read proves it or not)."""
    return any(link is not None and link.kind in PEER_KINDS and link.link_netnsid is not None
               and link.peer_index in matches for link, matches in zip(links, ends.values()))
