"""Where a trace can go from the devices of a name, found round by round without reading every
namespace: the plan of a targeted ``trace``.

The plan walks the edges ``trace`` walks, outwards only: a veth or netkit end to its peer, a port
to its master, a master to its ports, a macvlan or vlan to its lower, a tunnel to its underlay.
It walks all of them (it does not stop at a physical device: it cannot tell one, and reading more
is never wrong) over what the kernel says of each device's relations (``around.light``): one link
dump of each namespace the walk enters, and in root and ours, never dumped whole (``around``),
the devices it reaches asked by ifindex and a master's ports by a dump filtered by IFLA_MASTER.
An edge into another namespace names it by an id: the namespace it leaves is asked which ids it
gives root and ours (RTM_GETNSID by fd: looked up, never made), and only when neither matches,
every namespace. Round by round, only the namespaces the walk has entered are asked anything.

Only a plan: nothing found here is shown or trusted. The namespaces it names are read and proven
as any read is (``read(partial=)``), and the caller checks that every interface the trace reached
was proven. It gives up (None) when the walk enters more than ``MAX_NAMESPACES`` namespaces or
meets a master of more than ``MAX_PORTS`` ports in root or ours (a bridge whose ports lead into
every pod: the whole read costs less than walking on), when a namespace could not be asked, a
dump was cut by a change, or no namespace gives an id asked for.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from ..discover import Discovery, FoundNamespace
from ..host.channel import Channel
from .around import UNMASTERED, Around, Light, light
from .kernel import HOST_KERNEL, Kernel
from .sweep import WINDOW, namespace_fds, opened, sweep, windows

#: Namespaces the walk may enter before the plan gives up.
MAX_NAMESPACES = 64

#: Ports of a master in root or ours beyond which the plan gives up, without reading the rest
#: of them (a bridge of 1000 pods: 40 ms of the plan at 1000 namespaces, for nothing).
MAX_PORTS = 4 * MAX_NAMESPACES

#: Namespaces whose ids for every other namespace the plan may ask (an edge naming neither root
#: nor ours), before it gives up: each is a question per namespace of the host.
MAX_WIDE = 16


class _Walk(NamedTuple):
    #: Namespace (inode) -> what is known of its devices, by ifindex.
    devices: Dict[int, Dict[int, Light]]
    #: Namespace -> the ifindexes the walk reached there.
    reached: Dict[int, Set[int]]
    #: Namespace -> ifindexes still to visit there.
    pending: Dict[int, Set[int]]
    #: Namespaces dumped whole.
    dumped: Set[int]
    #: Namespace -> the namespace (inode) each id it gives names, as far as asked.
    ids: Dict[int, Dict[int, int]]


def reach(discovery: Discovery, names: Sequence[bytes], netns: Optional[int], room: int,
          kernel: Kernel = HOST_KERNEL, peers: bool = False) -> Optional[Around]:
    """The plan for tracing from the devices of ``names`` in namespace ``netns`` (inode; None: in
    every namespace, found by ``sweep``); None when it cannot be made (see the module) or nothing
    is so named. ``peers``: the plan of a targeted ``peer``, the first step only: the devices and
    their peers, wherever those are."""
    home = {discovery.root_inode, discovery.own_inode}
    window = max(1, min(WINDOW, (room - 2) // 2))
    walk = _Walk({}, {}, {}, set(), {})
    if netns is None:
        swept = sweep(discovery, names, room, kernel)
        if swept is None or not swept.matches:
            return None
        for inode, links in swept.matches.items():
            walk.pending[inode] = {link.ifindex for link in links}
        starting: Sequence[bytes] = ()
    else:
        walk.pending[netns] = set()
        starting = names
    by_inode = {item.inode: item for item in discovery.namespaces}
    home_fds = [(item.inode, item.fd) for item in discovery.namespaces if item.inode in home and item.fd is not None]
    wide = 0
    while walk.pending:
        if len(set(walk.reached) | set(walk.pending)) > MAX_NAMESPACES:
            return None
        round_ = [by_inode[inode] for inode in sorted(walk.pending) if inode in by_inode]
        if len(round_) != len(walk.pending):
            return None
        crossing: List[Tuple[int, int, int]] = []  # (namespace, id, ifindex there)
        for part in windows(round_, window):
            with opened(part, discovery.own_inode, kernel) as pairs:
                if pairs is None:
                    return None
                for found, channel in pairs:
                    edges = _walk_in(channel, found.inode, found.inode in home, starting, walk, peers)
                    if edges is None or len({nsid for nsid, _ in edges}) > MAX_NAMESPACES:
                        return None
                    unknown = [nsid for nsid, _ in edges if nsid not in walk.ids.get(found.inode, {})]
                    if unknown and not _ask_home(channel, found.inode, home_fds, walk):
                        return None
                    if any(nsid not in walk.ids[found.inode] for nsid in unknown):
                        wide += 1
                        if wide > MAX_WIDE or not _ask_all(channel, found, discovery.namespaces, window, kernel,
                                                           walk):
                            return None
                    crossing.extend((found.inode, nsid, index) for nsid, index in edges)
        starting = ()
        for inode, nsid, index in crossing:
            where = walk.ids[inode].get(nsid)
            if where is None:
                return None  # no namespace gives it that id: it is being made or destroyed
            if index not in walk.reached.get(where, ()):
                walk.pending.setdefault(where, set()).add(index)
        if peers:  # the peers' namespaces are read, not walked
            for inode, indexes in walk.pending.items():
                walk.reached.setdefault(inode, set()).update(indexes)
            walk.pending.clear()
    if not any(walk.reached.values()):
        return None
    whole = frozenset(inode for inode in walk.reached if inode not in home)
    parts = {inode: frozenset(indexes) for inode, indexes in walk.reached.items() if inode in home}
    return Around(whole, parts, frozenset())


def _walk_in(channel: Channel, inode: int, at_home: bool, names: Sequence[bytes], walk: _Walk,
             peers: bool = False) -> Optional[List[Tuple[int, int]]]:
    """Walk namespace ``inode`` from its pending devices (and those of ``names``) as far as its
    own edges lead (``peers``: one step, to a peer only); the edges out of it, as (id, ifindex);
    None when it did not answer."""
    devices = walk.devices.setdefault(inode, {})
    reached = walk.reached.setdefault(inode, set())
    queue = sorted(walk.pending.pop(inode, set()))
    edges: List[Tuple[int, int]] = []
    try:
        if not at_home and inode not in walk.dumped:
            dump = channel.dump_links()
            if dump.interrupted:
                return None
            walk.dumped.add(inode)
            devices.update((link.ifindex, light(link)) for link in dump.records)
            wanted = set(names)
            queue += [link.ifindex for link in dump.records
                      if link.name in wanted or wanted.intersection(link.alt_names)]
        elif names:
            named = [link for link in channel.links_by(names, []) if link is not None]
            devices.update((link.ifindex, light(link)) for link in named)
            queue += [link.ifindex for link in named]
        while queue:  # wave by wave: in root and ours, each wave's unknown devices asked at once
            asked = sorted({index for index in queue if index not in devices}) if at_home else []
            if asked:
                answers = channel.links_by([], asked)
                devices.update((link.ifindex, light(link)) for link in answers if link is not None)
            wave, queue = queue, []
            for index in wave:
                device = devices.get(index)
                if index in reached or device is None:
                    continue  # (not there: the read says so, and the trace is checked)
                reached.add(index)
                if peers:
                    if device.how == "peer" and device.target > 0:
                        if device.nsid is None:
                            reached.add(device.target)
                        else:
                            edges.append((device.nsid, device.target))
                    continue
                if device.master:
                    queue.append(device.master)
                if device.how is not None and device.target > 0:
                    if device.nsid is None:
                        queue.append(device.target)
                    else:
                        edges.append((device.nsid, device.target))
                if device.kind not in UNMASTERED:
                    queue += _ports(channel, device.ifindex, at_home, devices)
    except OSError:
        return None
    return edges


def _ports(channel: Channel, master: int, at_home: bool, devices: Dict[int, Light]) -> List[int]:
    """The ifindexes of ``master``'s ports: known from the dump, or asked (a filtered dump)."""
    if not at_home:
        return [device.ifindex for device in devices.values() if device.master == master]
    dump = channel.links_filtered(None, master, limit=MAX_PORTS)  # (DumpTooLong: give up)
    if dump.interrupted:
        raise OSError("a dump of ports was cut by a change")
    devices.update((link.ifindex, light(link)) for link in dump.records)
    return [link.ifindex for link in dump.records if link.master == master]


def _ask_home(channel: Channel, inode: int, home_fds: Sequence[Tuple[int, Optional[int]]], walk: _Walk) -> bool:
    """Which ids namespace ``inode`` gives root and ours; False when it did not answer."""
    try:
        ids = channel.nsids_of_fds([fd for _, fd in home_fds if fd is not None])
    except OSError:
        return False
    known = walk.ids.setdefault(inode, {})
    for (other, _), nsid in zip(home_fds, ids):
        if nsid is not None and nsid >= 0 and other != inode:
            known.setdefault(nsid, other)
    return True


def _ask_all(channel: Channel, found: FoundNamespace, namespaces: Sequence[FoundNamespace], window: int,
             kernel: Kernel, walk: _Walk) -> bool:
    """Which ids namespace ``found`` gives every other namespace; False when one could not be asked."""
    known = walk.ids.setdefault(found.inode, {})
    others = [item for item in namespaces if item.inode != found.inode]
    for part in windows(others, max(1, window // 2)):
        try:
            with namespace_fds(part, kernel) as fds:
                if fds is None:
                    return False
                ids = channel.nsids_of_fds([fd for fd in fds if fd is not None])
        except OSError:
            return False
        for item, nsid in zip(part, ids):
            if nsid is not None and nsid >= 0:
                known.setdefault(nsid, item.inode)
    return True


__all__ = ["MAX_NAMESPACES", "MAX_PORTS", "MAX_WIDE", "reach"]
