"""``trace``: from one interface, hop by hop, to where its traffic can leave the host. Pure.

The walk follows device relations only, never routes: a veth to its proven peer (both ways: it is
one wire), a port to its master (bridge, bond, ...), a macvlan/vlan to its lower device, a tunnel
(vxlan, gre, sit, ...: ``kinds.TUNNEL_KINDS``) to its underlay device, and at a master (reached
from one of its ports, or started from) out through each of its other ports: that is a fork. It
never walks from a device up to the macvlans or tunnels stacked on it (that is inwards).

A path ends:

* ``physical`` at a device the kernel's evidence calls hardware (``edges.is_physical``: no
  IFLA_INFO_KIND and a non-zero hardware address; the walk does not go past it);
* ``tunnel`` at a tunnel with no underlay device: its packets leave encapsulated by whichever
  route reaches the remote;
* ``process`` at a tun/tap held open by a process (a VM for qemu);
* ``unresolved`` where the next hop could not be proven (the reason is given);
* ``inside`` when nothing above is reachable: the traffic stays on this host. Only then are the
  dead ends reported, as one path: the hops every dead end shares (a bridge's other ports that
  lead nowhere are not listed one by one; ``reached`` counts every interface the walk saw).

Each interface is visited once (breadth first, neighbours in a fixed order), so the result is
deterministic and the cost linear in what is reachable, even through a bridge with 1000 ports.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from .edges import RelationIndex, is_physical
from .model import PEER_KINDS, TUNNEL_KINDS, Link, LinkRef, Topology, TunHolder, namespace_sort_key

#: How a hop was reached from the one before: the veth peer, a relation, or a bridge's other port.
VIAS = ("start", "peer", "master", "lower", "underlay", "port")

#: How a path ends (see the module docstring).
ENDS = ("physical", "tunnel", "process", "unresolved", "inside")


class Hop(NamedTuple):
    ref: LinkRef
    #: How this hop was reached (one of VIAS).
    via: str


class Path(NamedTuple):
    hops: Tuple[Hop, ...]
    #: One of ENDS.
    end: str
    #: For ``unresolved``: which step could not be proven ("peer", "master", ...) and why.
    step: Optional[str] = None
    reason: Optional[str] = None
    detail: Optional[str] = None
    #: For ``process``: who holds the tun/tap of the last hop.
    holders: Tuple[TunHolder, ...] = ()


class Trace(NamedTuple):
    start: LinkRef
    paths: Tuple[Path, ...]
    #: How many interfaces the walk reached (the start included).
    reached: int
    #: Those interfaces, in the order reached.
    seen: Tuple[LinkRef, ...] = ()


def _order(topology: Topology, ref: LinkRef) -> Tuple[Tuple[int, str, int], int]:
    return (namespace_sort_key(topology.namespace(ref.netns)), ref.ifindex)


def trace(topology: Topology, start: LinkRef, is_exit: Callable[[Link], bool] = is_physical) -> Trace:
    """Every way out from ``start``. ``is_exit`` says which devices count as leaving the host
    (kernel evidence by default; a test can name a stand-in, since it cannot make a NIC)."""
    index = RelationIndex(topology)
    parent: Dict[LinkRef, Optional[Hop]] = {start: None}
    via: Dict[LinkRef, str] = {start: "start"}
    ends: List[Tuple[LinkRef, str, Optional[str], Optional[str], Optional[str], Tuple[TunHolder, ...]]] = []
    queue = deque([start])
    while queue:
        ref = queue.popleft()
        link = topology.link(ref)
        if is_exit(link):
            ends.append((ref, "physical", None, None, None, ()))
            continue
        if link.tun_holders:
            ends.append((ref, "process", None, None, None, link.tun_holders))
        following: List[Tuple[LinkRef, str]] = []
        if link.kind in PEER_KINDS:
            peer = topology.peer_of(ref)
            unresolved = topology.unresolved_of(ref)
            if peer is not None:
                following.append((peer, "peer"))
            elif unresolved is not None and unresolved.reason != "no-peer":
                ends.append((ref, "unresolved", "peer", unresolved.reason, unresolved.detail, ()))
        for kind in ("master", "lower", "underlay"):
            for relation in index.outgoing(ref, kind):
                if relation.target is not None:
                    following.append((relation.target, kind))
                else:
                    ends.append((ref, "unresolved", kind, relation.reason, relation.detail, ()))
        if link.kind in TUNNEL_KINDS and not index.outgoing(ref, "underlay"):
            ends.append((ref, "tunnel", None, None, None, ()))
        # A master forwards to all its ports; the one the walk came in by is already visited.
        ports = sorted((r.source for r in index.incoming(ref, "master")), key=lambda p: _order(topology, p))
        following.extend((port, "port") for port in ports)
        for target, how in following:
            if target in parent or target not in topology.links:
                continue
            parent[target] = Hop(ref, via[ref])
            via[target] = how
            queue.append(target)

    def hops_to(ref: LinkRef) -> Tuple[Hop, ...]:
        out = [Hop(ref, via[ref])]
        step = parent[ref]
        while step is not None:
            out.append(Hop(step.ref, via[step.ref]))
            step = parent[step.ref]
        return tuple(reversed(out))

    paths = [Path(hops_to(ref), end, step, reason, detail, holders)
             for ref, end, step, reason, detail, holders in ends]
    if not paths:
        # Nothing leads out: the hops every dead end (a leaf of the walk) shares.
        inner = {hop.ref for hop in parent.values() if hop is not None}
        dead = [ref for ref in parent if ref not in inner]
        trunk = _common_prefix([hops_to(ref) for ref in dead]) or (Hop(start, "start"),)
        # Past a master's ports the walk only wandered into other dead ends: stop at the master.
        cut = next((i for i, hop in enumerate(trunk) if hop.via == "port"), len(trunk))
        paths = [Path(trunk[:cut], "inside")]
    paths.sort(key=lambda p: (ENDS.index(p.end), [_order(topology, h.ref) for h in p.hops]))
    return Trace(start, tuple(paths), len(parent), tuple(parent))


def _common_prefix(paths: List[Tuple[Hop, ...]]) -> Tuple[Hop, ...]:
    first = paths[0]
    length = len(first)
    for other in paths[1:]:
        length = min(length, len(other))
        for i in range(length):
            if other[i] != first[i]:
                length = i
                break
    return first[:length]
