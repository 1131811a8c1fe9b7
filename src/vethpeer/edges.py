"""The relations of a Topology as graph and trace consume them: lookups by source and by target.

Pure. Holds no evidence of its own: relations come from ``Topology.relations`` (filled by resolve
from the kernel's answers); only when a topology carries none (one built by hand, as tests do) are
master relations derived from ``Link.master``, which the kernel
reports as an ifindex in the port's own namespace (IFLA_MASTER), so that derivation proves what it
says. Lower and underlay relations are never guessed here.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .model import Link, LinkRef, Relation, Topology


def relations_of(topology: Topology) -> Tuple[Relation, ...]:
    """``topology.relations`` when it has any, else master relations from ``Link.master``."""
    if topology.relations:
        return topology.relations
    derived: List[Relation] = []
    for ref, link in topology.links.items():
        if link.master is None:
            continue
        target = LinkRef(ref.netns, link.master)
        if target in topology.links:
            derived.append(Relation("master", ref, target))
        else:
            derived.append(Relation("master", ref, None, "missing",
                                    f"the kernel names ifindex {link.master} as master of {link.name}, "
                                    "but no such interface was read in its namespace"))
    derived.sort(key=lambda r: (r.kind, r.source, r.target or r.source))
    return tuple(derived)


class RelationIndex:
    """Relations of one topology by source and by target (each list in ``relations_of`` order)."""

    def __init__(self, topology: Topology) -> None:
        self.relations = relations_of(topology)
        self.by_source: Dict[LinkRef, List[Relation]] = {}
        self.by_target: Dict[LinkRef, List[Relation]] = {}
        for relation in self.relations:
            self.by_source.setdefault(relation.source, []).append(relation)
            if relation.target is not None:
                self.by_target.setdefault(relation.target, []).append(relation)

    def outgoing(self, ref: LinkRef, kind: Optional[str] = None) -> List[Relation]:
        return [r for r in self.by_source.get(ref, ()) if kind is None or r.kind == kind]

    def incoming(self, ref: LinkRef, kind: Optional[str] = None) -> List[Relation]:
        return [r for r in self.by_target.get(ref, ()) if kind is None or r.kind == kind]


_ZERO_MAC = "00:00:00:00:00:00"


def is_loopback(link: Link) -> bool:
    """A device without IFLA_INFO_KIND whose hardware address is all zeros (or absent): the kernel's
    loopback. (IFF_LOOPBACK is in the snapshot's flags but not on ``Link``; the address is the
    evidence the model carries. A NIC always has a non-zero address.)"""
    return link.kind is None and (link.mac is None or link.mac == _ZERO_MAC)


def is_physical(link: Link) -> bool:
    """Whether the kernel's evidence says ``link`` is hardware: no IFLA_INFO_KIND (every virtual
    device made through rtnetlink - veth, bridge, bond, vlan, macvlan, vxlan, tun, dummy, wireguard
    - reports one) and a non-zero hardware address (which rules out the loopback).

    /sys/class/net/NAME/device would be stronger evidence, but sysfs shows the namespace it was
    mounted in, and reading another namespace's would mean mounting one there: vethpeer does not.
    """
    return link.kind is None and not is_loopback(link)
