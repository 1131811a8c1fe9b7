"""Hand-built Topologies that carry relations (master, lower, underlay, tun holders), for the graph and
trace tests: what resolve will fill from the kernel, written down directly."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from vethpeer.model import (
    Holders,
    Link,
    LinkRef,
    Namespace,
    NamespaceId,
    Owner,
    Pair,
    Relation,
    Topology,
    TunHolder,
    Tunnel,
    Unresolved,
)
from vethpeer.owners import LABEL_PREFIXES, labelled


def found(kind: str, name: str, id: Optional[str] = None, extra: Tuple[Tuple[str, str], ...] = (),
          how: str = "test") -> Owner:
    """An owner as ``owners.identify`` gives it: labelled as its source declares."""
    return labelled(Owner(kind, name, id, extra, how), LABEL_PREFIXES)


class Builder:
    """``ns()`` makes a namespace, ``link()`` an interface in it; ``pair``/``relate``/``unresolved``
    connect them; ``topology()`` assembles the result."""

    def __init__(self) -> None:
        self.namespaces: List[Namespace] = []
        self.links: Dict[LinkRef, Link] = {}
        self.pairs: List[Pair] = []
        self.relations: List[Relation] = []
        self.unresolved: List[Unresolved] = []
        self._next_ifindex: Dict[NamespaceId, int] = {}

    def ns(self, name: Optional[str], root: bool = False, owner: Optional[Tuple[str, str]] = None) -> NamespaceId:
        netns = NamespaceId(4, 4026531840 + len(self.namespaces) * 7)
        owners = (found(owner[0], owner[1]),) if owner else ()
        self.namespaces.append(Namespace(netns, None, Holders(names=(name,) if name else ()), root=root,
                                         link_count=0, owners=owners))
        self._next_ifindex[netns] = 1
        self.link(netns, "lo", None, mac="00:00:00:00:00:00")
        return netns

    def link(self, netns: NamespaceId, name: str, kind: Optional[str], mac: Optional[str] = "02:00:00:00:00:01",
             master: Optional[LinkRef] = None, tunnel: Optional[Tunnel] = None,
             holders: Tuple[TunHolder, ...] = ()) -> LinkRef:
        ifindex = self._next_ifindex[netns]
        self._next_ifindex[netns] = ifindex + 1
        ref = LinkRef(netns, ifindex)
        self.links[ref] = Link(ref, name, kind, "bridge" if master else None, mac, 1500, "UP", True,
                               master.ifindex if master else None, None, None, (), (), tunnel=tunnel,
                               tun_holders=holders)
        if master is not None:
            self.relations.append(Relation("master", ref, master))
        return ref

    def veth(self, a_ns: NamespaceId, a: str, b_ns: NamespaceId, b: str,
             a_master: Optional[LinkRef] = None, b_master: Optional[LinkRef] = None) -> Tuple[LinkRef, LinkRef]:
        ra = self.link(a_ns, a, "veth", master=a_master)
        rb = self.link(b_ns, b, "veth", master=b_master)
        self.pairs.append(Pair(ra, rb) if ra < rb else Pair(rb, ra))
        return ra, rb

    def relate(self, kind: str, source: LinkRef, target: Optional[LinkRef], reason: Optional[str] = None,
               detail: Optional[str] = None) -> None:
        self.relations.append(Relation(kind, source, target, reason, detail))

    def dangling(self, netns: NamespaceId, name: str, reason: str = "peer-netns-unreachable") -> LinkRef:
        ref = self.link(netns, name, "veth")
        self.unresolved.append(Unresolved(ref, reason, f"{name}: the peer could not be proven", 9, 3, None))
        return ref

    def topology(self, relations: bool = True) -> Topology:
        return Topology(tuple(self.namespaces), dict(self.links), tuple(sorted(self.pairs)),
                        tuple(self.unresolved), (), "pid 1",
                        relations=tuple(sorted(self.relations, key=lambda r: (r.kind, r.source))) if relations else ())


def neutron_host() -> Tuple[Topology, Dict[str, LinkRef]]:
    """The qdhcp picture with a way out: qdhcp ns-port ⇄ tap on brq (root) with eth1 (physical)
    and a vxlan (underlay eth2, physical) as ports, a container on the same bridge, a VM's tap on
    it too; plus a macvlan in a container whose lower device is root's eth2."""
    b = Builder()
    root = b.ns(None, root=True)
    dhcp = b.ns("qdhcp-fabc7ead", owner=("neutron", "qdhcp-fabc7ead"))
    web = b.ns(None, owner=("docker", "web-1"))
    refs: Dict[str, LinkRef] = {}
    refs["brq"] = b.link(root, "brqfabc7ead-3c", "bridge")
    refs["eth1"] = b.link(root, "eth1", None, master=refs["brq"])
    refs["eth2"] = b.link(root, "eth2", None, mac="02:00:00:00:00:02")
    refs["vxlan"] = b.link(root, "vxlan-7", "vxlan", master=refs["brq"],
                           tunnel=Tunnel("vxlan", 7, "192.0.2.1", "192.0.2.9", 4789))
    b.relate("underlay", refs["vxlan"], refs["eth2"])
    refs["ns"], refs["tap"] = b.veth(dhcp, "ns-39d60faa-aa", root, "tap39d60faa-aa", b_master=refs["brq"])
    refs["web"], refs["vethweb"] = b.veth(web, "eth0", root, "vethweb", b_master=refs["brq"])
    refs["vmtap"] = b.link(root, "tapvm", "tun", master=refs["brq"],
                           holders=(TunHolder(4242, 17, "qemu-system-x86", "guest-1"),))
    refs["macvlan"] = b.link(web, "mv0", "macvlan")
    b.relate("lower", refs["macvlan"], refs["eth2"])
    return b.topology(), refs
