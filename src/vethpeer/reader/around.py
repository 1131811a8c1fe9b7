"""What a device is plugged into, and in which namespaces, without reading every namespace
whole: the plan of a targeted ``show``.

One link dump per namespace (no addresses, no questions of pairing; root's and ours never
whole, see ``_home``) finds the devices of a name, and every device that can be related to
them: their peers' candidates (a veth or netkit end at the ifindex a match names, naming the
match back), their lowers' and underlays' (a device at the ifindex they name), their ports and
their uppers (a macvlan, vlan, ipvlan or tunnel naming a match's ifindex as its lower or
underlay, from any namespace). Where a match's peer, lower or underlay is in another namespace,
that namespace's socket is asked which id it gives the root and our own namespace (RTM_GETNSID
by fd: an id is looked up, never made); one that matches is
where the target is; otherwise the namespaces that may hold it are asked about the same way.

Only a plan: nothing found here is shown or trusted. The namespaces it names are read and
proven as any read is (``read(partial=)``); a namespace it could not ask, a dump cut by a change
or too many candidates make it give up (None), and the caller reads the whole host instead.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, List, NamedTuple, Optional, Sequence, Set, Tuple

from ..discover import Discovery, FoundNamespace
from ..host.channel import Channel
from ..host.netlink import LinkRecord
from ..kinds import KINDS, PEER_KINDS, RELATED_KINDS
from .kernel import HOST_KERNEL, Kernel
from .sweep import WINDOW, namespace_fds, opened, windows

#: Matches beyond which the plan gives up: each is read with its namespace whole, and a name most
#: namespaces hold (eth0, lo) is a whole read.
MAX_MATCHES = 64

#: Kinds never a master (no device is enslaved to them): no dump for their ports.
UNMASTERED = PEER_KINDS | RELATED_KINDS

#: Matches whose target is in a namespace neither root nor ours beyond which the plan gives up:
#: each costs a question per candidate namespace.
MAX_AWAY = 16


class Light(NamedTuple):
    """What a device of a dump says of its relations (no names, addresses or data)."""

    ifindex: int
    kind: Optional[str]
    #: IFLA_LINK's meaning by kind: the peer's ifindex (veth, netkit), the lower's, the underlay's.
    target: int
    nsid: Optional[int]
    master: int
    #: "peer", "lower", "underlay" or None: what ``target`` is.
    how: Optional[str]


class Around(NamedTuple):
    """The plan: namespaces (inodes) to read whole, and root's and ours in part (inode ->
    ifindexes); ``related``: the devices (inode, ifindex) that may name a match as their lower or
    underlay, each of which a read must prove for the answer to be whole's."""

    whole: FrozenSet[int]
    parts: Dict[int, FrozenSet[int]]
    related: FrozenSet[Tuple[int, int]]


def light(link: LinkRecord) -> Light:
    kind = KINDS.get(link.kind) if link.kind is not None else None
    if link.kind in PEER_KINDS:
        return Light(link.ifindex, link.kind, link.peer_index, link.link_netnsid, link.master or 0, "peer")
    if kind is not None and kind.link == "lower":
        return Light(link.ifindex, link.kind, link.link or 0, link.link_netnsid, link.master or 0, "lower")
    underlay = link.value(kind.underlay) if kind is not None and kind.underlay is not None else None
    if underlay:
        return Light(link.ifindex, link.kind, underlay, link.link_netnsid, link.master or 0, "underlay")
    return Light(link.ifindex, link.kind, 0, link.link_netnsid, link.master or 0, None)


def around(discovery: Discovery, names: Sequence[bytes], netns: Optional[int], room: int,
           kernel: Kernel = HOST_KERNEL) -> Optional[Around]:
    """The plan for showing the devices of ``names`` in namespace ``netns`` (inode; None: in every
    namespace); None when it cannot be made (see the module) or nothing is so named."""
    home = (discovery.root_inode, discovery.own_inode)
    # Root and ours last: they are never dumped whole (see ``_home``), and the kinds the kernel
    # filters by are learnt from another namespace first (one holding a device of some kind, so
    # that a kernel filtering by none shows itself). Learnt from none, every kind is asked for.
    order = sorted(discovery.namespaces, key=lambda item: (item.inode in home, item.inode))
    window = max(1, min(WINDOW, (room - 2) // 2))
    wanted = set(names)
    home_fds = [(item.inode, item.fd) for item in discovery.namespaces if item.inode in home and item.fd is not None]
    kinds: Optional[List[str]] = None
    devices: Dict[int, List[Light]] = {}
    matches: List[Tuple[int, Light]] = []
    #: (namespace, ifindex) of a match -> the namespace its peer, lower or underlay is in.
    located: Dict[Tuple[int, int], int] = {}
    for part in windows(order, window):
        with opened(part, discovery.own_inode, kernel) as pairs:
            if pairs is None:
                return None
            for found, channel in pairs:
                asked = names if netns is None or found.inode == netns else ()
                if found.inode in home:
                    listing = _home(channel, asked, sorted(RELATED_KINDS) if kinds is None else kinds)
                else:
                    listing = _dump(channel, wanted if asked else set())
                    learn = listing is not None and kinds is None
                    present = {device.kind for device in listing[1] if device.kind} if learn and listing else set()
                    if present:  # (once: from the first namespace holding a device of some kind)
                        kinds = _registered(channel, present)
                        if kinds is None:
                            return None
                if listing is None:
                    return None
                named, devices[found.inode] = listing
                here = [light(link) for link in named]
                matches.extend((found.inode, match) for match in here)
                if len(matches) > MAX_MATCHES:
                    return None
                if not _locate(channel, found, here, home_fds, located):
                    return None
    if not matches:
        return None
    return _narrowed(discovery, devices, matches, located, window, kernel)


Listing = Tuple[List[LinkRecord], List[Light]]


def _dump(channel: Channel, wanted: Set[bytes]) -> Optional[Listing]:
    """A namespace's devices of the ``wanted`` names, and all its devices, from one dump."""
    try:
        dump = channel.dump_links()
    except OSError:
        return None
    if dump.interrupted:
        return None
    named = [link for link in dump.records if link.name in wanted or wanted.intersection(link.alt_names)]
    return named, [light(link) for link in dump.records]


def _registered(channel: Channel, present: Set[str]) -> Optional[List[str]]:
    """The kinds that can name a lower or underlay which the kernel filters a link dump by (a
    module registered them), asked of a namespace holding devices of the kinds ``present``;
    None when it did not answer, or when the kernel filters by no kind at all (before Linux
    4.15): a kind there is then not filtered either, and root would be dumped whole."""
    try:
        if not channel.kind_filtered(min(present)):
            return None
        return [kind for kind in sorted(RELATED_KINDS) if channel.kind_filtered(kind)]
    except OSError:
        return None


def _home(channel: Channel, names: Sequence[bytes], kinds: Sequence[str]) -> Optional[Listing]:
    """Root's or our own devices of ``names`` (by RTM_GETLINK), and of them only those a match
    can be related to: the devices of ``kinds`` (the ones that name a lower or underlay) and the
    matches' ports, each by a dump the kernel filters. Never a whole dump: root's, with ids for
    10,000 namespaces, took 0.9 s (the kernel walks that id table for each veth it reports)."""
    try:
        named = list({link.ifindex: link for link in channel.links_by(names, []) if link is not None}.values())
        found = {link.ifindex: link for link in named}
        queries: List[Tuple[Optional[str], int]] = [(kind, 0) for kind in kinds]
        queries += [(None, link.ifindex) for link in named if link.kind not in UNMASTERED]
        for kind, master in queries:
            dump = channel.links_filtered(kind, master)
            if dump.interrupted:
                return None
            found.update((link.ifindex, link) for link in dump.records)
    except OSError:
        return None
    return named, [light(link) for link in found.values()]


def _away(match: Light) -> bool:
    """Whether ``match``'s peer, lower or underlay is in another namespace (by an id)."""
    return match.how is not None and match.nsid is not None and match.nsid >= 0


def _locate(channel: Channel, found: FoundNamespace, here: Sequence[Light],
            home_fds: Sequence[Tuple[int, Optional[int]]], located: Dict[Tuple[int, int], int]) -> bool:
    """Ask ``found``'s socket which ids it gives root and ours, for the matches whose target is
    elsewhere; record which of them holds it. False when the namespace did not answer."""
    away = [match for match in here if _away(match)]
    if not away:
        return True
    try:
        ids = channel.nsids_of_fds([fd for _, fd in home_fds if fd is not None])
    except OSError:
        return False
    for match in away:
        for (inode, _), nsid in zip(home_fds, ids):
            if nsid is not None and nsid == match.nsid and inode != found.inode:
                located[(found.inode, match.ifindex)] = inode
    return True


#: A device in namespace ``ns`` naming a match's ifindex as its lower or underlay by an id.
Upper = Tuple[int, Light, int, Light]  # (its namespace, it, the match's namespace, the match)


def _narrowed(discovery: Discovery, devices: Dict[int, List[Light]], matches: Sequence[Tuple[int, Light]],
              located: Dict[Tuple[int, int], int], window: int, kernel: Kernel) -> Optional[Around]:
    """The plan, once the ids that tell candidates apart are asked: for a match whose target is in
    neither root nor ours, which id its namespace gives each namespace holding a device that may
    be the target; for a device elsewhere that may be a match's upper, which id its namespace
    gives the match's. None when a namespace did not answer, or too many matches are away."""
    away = [(inode, match) for inode, match in matches if _away(match) and (inode, match.ifindex) not in located]
    if len(away) > MAX_AWAY:
        return None
    asks: Dict[int, Set[int]] = {}
    for inode, match in away:
        asks.setdefault(inode, set()).update(
            other for other, links in devices.items() if other != inode and any(_holds(d, match) for d in links))
    # Every device naming a lower or underlay by an id, by that ifindex.
    naming: Dict[int, List[Tuple[int, Light]]] = {}
    for other, links in devices.items():
        for device in links:
            if device.how in ("lower", "underlay") and device.nsid is not None:
                naming.setdefault(device.target, []).append((other, device))
    uppers: List[Upper] = [(other, device, inode, match) for inode, match in matches
                           for other, device in naming.get(match.ifindex, ()) if other != inode]
    for other, _, inode, _ in uppers:
        asks.setdefault(other, set()).add(inode)
    ids = _ask_ids(discovery, asks, window, kernel)
    if ids is None:
        return None
    for inode, match in away:
        for (asker, subject), nsid in ids.items():
            if asker == inode and nsid == match.nsid and any(_holds(d, match) for d in devices[subject]):
                located[(inode, match.ifindex)] = subject
    return _plan(discovery, devices, matches, located,
                 [(other, device) for other, device, inode, _ in uppers if ids.get((other, inode)) == device.nsid])


def _ask_ids(discovery: Discovery, asks: Dict[int, Set[int]], window: int,
             kernel: Kernel) -> Optional[Dict[Tuple[int, int], Optional[int]]]:
    """(asker, subject) -> the id the asker's namespace gives the subject's (-1: none), for every
    subject ``asks`` lists under an asker; None when a namespace could not be asked."""
    by_inode = {item.inode: item for item in discovery.namespaces}
    out: Dict[Tuple[int, int], Optional[int]] = {}
    askers = [by_inode[inode] for inode in sorted(asks)]
    for part in windows(askers, max(1, window // 2)):
        with opened(part, discovery.own_inode, kernel) as pairs:
            if pairs is None:
                return None
            for found, channel in pairs:
                subjects = sorted(asks[found.inode])
                for chunk in windows(subjects, max(1, window // 2)):
                    ids = _ids(channel, [by_inode[inode] for inode in chunk], kernel)
                    if ids is None:
                        return None
                    out.update(((found.inode, inode), nsid) for inode, nsid in zip(chunk, ids))
    return out


def _ids(channel: Channel, part: Sequence[FoundNamespace], kernel: Kernel) -> Optional[List[Optional[int]]]:
    """The ids ``channel``'s namespace gives each namespace of ``part`` (None: could not ask)."""
    try:
        with namespace_fds(part, kernel) as fds:
            if fds is None:
                return None
            return channel.nsids_of_fds([fd for fd in fds if fd is not None])
    except OSError:
        return None


def _plan(discovery: Discovery, devices: Dict[int, List[Light]], matches: Sequence[Tuple[int, Light]],
          located: Dict[Tuple[int, int], int], uppers: Sequence[Tuple[int, Light]]) -> Optional[Around]:
    home = {discovery.root_inode, discovery.own_inode}
    want: Dict[int, Set[int]] = {}

    def read(inode: int, *indexes: int) -> None:
        want.setdefault(inode, set()).update(index for index in indexes if index > 0)

    for inode, match in matches:
        read(inode, match.ifindex, match.master)
        for device in devices[inode]:  # its ports and uppers there
            if device.master == match.ifindex or (device.how in ("lower", "underlay") and device.nsid is None
                                                  and device.target == match.ifindex):
                read(inode, device.ifindex)
        if match.how is not None and match.nsid is None:  # a peer or lower there
            read(inode, match.target)
        elif _away(match):
            where = located.get((inode, match.ifindex))
            if where is None:
                return None  # no namespace gives it that id: it is being made or destroyed
            read(where, match.target)
    for other, device in uppers:
        read(other, device.ifindex)
    whole = frozenset(inode for inode in want if inode not in home)
    parts = {inode: frozenset(indexes) for inode, indexes in want.items() if inode in home}
    return Around(whole, parts, frozenset((other, device.ifindex) for other, device in uppers))


def _holds(device: Light, match: Light) -> bool:
    """Whether ``device`` may be what ``match`` names in another namespace: its peer naming it
    back, or any device at the ifindex of its lower or underlay."""
    if device.ifindex != match.target:
        return False
    if match.how == "peer":
        return device.how == "peer" and device.nsid is not None and device.target == match.ifindex
    return True


__all__ = ["MAX_AWAY", "MAX_MATCHES", "Around", "Light", "around", "light"]
