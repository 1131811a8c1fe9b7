"""A Topology as a graph: nodes, edges and clusters that every graph renderer draws. Pure, sorted.

Nodes are interfaces (one cluster per namespace, labelled with its owner), processes holding tun/tap
devices (VMs), and *stubs*: the far end of something that could not be proven (an unresolved veth
peer, an unproven relation target), drawn so it visibly dangles. Edges: ``veth`` (a proven pair,
undirected), ``master``/``lower``/``underlay`` (directed, source to target as in
``model.RELATION_KINDS``), ``tun`` (tap to the process holding it), ``unresolved`` (to a stub).

Loopback devices are left out: every namespace has one and none is connected to anything.

Narrowing (``narrow``): ``netns`` keeps that namespace's interfaces and everything one edge away
from them; ``around`` keeps the connected component of the given interfaces, or only what lies
within ``hops`` edges of them; ``kinds`` then keeps only interfaces of those kinds (``device`` for
interfaces without IFLA_INFO_KIND: physical NICs), plus the stubs and holders attached to them.
"""

from __future__ import annotations

from collections import deque
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Set, Tuple

from .edges import RelationIndex, is_loopback, is_physical
from .model import Link, LinkRef, NamespaceId, Topology, namespace_sort_key, owner_label

#: The kind name given to interfaces that report no IFLA_INFO_KIND.
NO_KIND = "device"


class Node(NamedTuple):
    """One thing drawn. ``id`` is ASCII letters, digits and ``_`` only, safe in every format."""

    id: str
    #: "link", "holder" (a process holding a tun/tap) or "stub" (an end that could not be proven).
    role: str
    #: The interface's name, the process's name, or what is known of the unproven end (not escaped).
    name: str
    #: The interface kind (``device`` for none), "process"/"vm" for holders, the reason for stubs.
    kind: str
    #: The cluster (namespace) it is drawn in; None for holders and stubs.
    cluster: Optional[str]
    ref: Optional[LinkRef] = None
    physical: bool = False
    #: A second line: the ifindex and state for links, the sentence for stubs.
    detail: str = ""


class Edge(NamedTuple):
    source: str
    target: str
    #: "veth", "master", "lower", "underlay", "tun", "unresolved".
    kind: str
    directed: bool


class Cluster(NamedTuple):
    id: str
    netns: NamespaceId
    #: The namespace's label (``root``, ``docker: web-1``, ``qdhcp-...``), not escaped.
    label: str
    root: bool


class Graph(NamedTuple):
    clusters: Tuple[Cluster, ...]
    nodes: Tuple[Node, ...]
    edges: Tuple[Edge, ...]

    def by_cluster(self) -> Tuple[Dict[str, List[Node]], List[Node]]:
        """The nodes of each cluster (by cluster id), and those in none, in node order: what
        every format that draws clusters nests."""
        members: Dict[str, List[Node]] = {}
        loose: List[Node] = []
        for node in self.nodes:
            if node.cluster is None:
                loose.append(node)
            else:
                members.setdefault(node.cluster, []).append(node)
        return members, loose


def cluster_id(netns: NamespaceId) -> str:
    return f"ns_{netns.dev}_{netns.inode}"


def link_id(ref: LinkRef) -> str:
    return f"l_{ref.netns.dev}_{ref.netns.inode}_{ref.ifindex}"


def kind_of(link: Link) -> str:
    return link.kind or NO_KIND


def _link_node(topology: Topology, link: Link) -> Node:
    detail = f"if{link.ifindex} {link.state}"
    if link.tunnel is not None:
        tunnel = link.tunnel
        bits = [f"vni {tunnel.vni}" if tunnel.vni is not None else "",
                f"remote {tunnel.remote}" if tunnel.remote else "",
                f"port {tunnel.port}" if tunnel.port is not None else ""]
        detail += " " + " ".join(bit for bit in bits if bit)
    if link.info:
        detail += " " + link.info_text
    if link.ovs_bridge is not None:
        detail += f" ovs {link.ovs_bridge}"
    return Node(link_id(link.ref), "link", link.name, kind_of(link), cluster_id(link.ref.netns),
                link.ref, is_physical(link), detail.strip())


def build(topology: Topology) -> Graph:
    """Every namespace, interface, holder and stub of ``topology`` (loopbacks left out)."""
    nodes: Dict[str, Node] = {}
    edges: List[Edge] = []
    for ref, link in topology.links.items():
        if is_loopback(link):
            continue
        nodes[link_id(ref)] = _link_node(topology, link)
    index = RelationIndex(topology)
    for pair in topology.pairs:
        # Undirected, but the order guides layout: the end plugged into something (a bridge port)
        # second, so namespaces' ends sit left of the bridges they reach.
        a, b = sorted((pair.a, pair.b), key=lambda ref: (bool(index.by_source.get(ref)), link_id(ref)))
        edges.append(Edge(link_id(a), link_id(b), "veth", False))
    for item in topology.unresolved:
        if item.reason == "no-peer" or link_id(item.link) not in nodes:
            continue
        stub = f"u_{link_id(item.link)}"
        hint = item.peer_hint
        name = hint.name if hint is not None else (f"if{item.peer_ifindex}" if item.peer_ifindex is not None else "?")
        nodes[stub] = Node(stub, "stub", name, item.reason, None, detail=item.detail)
        edges.append(Edge(link_id(item.link), stub, "unresolved", True))
    for number, relation in enumerate(index.relations):
        source = link_id(relation.source)
        if source not in nodes:
            continue
        if relation.target is not None:
            target = link_id(relation.target)
            if target not in nodes:  # a loopback master: nothing sane, but never a dangling id
                continue
        else:
            target = f"r_{number}_{source}"
            nodes[target] = Node(target, "stub", "?", relation.reason or "unresolved", None,
                                 detail=relation.detail or "")
        edges.append(Edge(source, target, relation.kind, True))
    for ref, link in topology.links.items():
        for holder in link.tun_holders:
            hid = f"p_{holder.pid}"
            if hid not in nodes:
                if holder.vm:
                    name, kind = holder.vm, "vm"
                elif holder.owners:
                    name, kind = owner_label(holder.owners[0]), "process"
                else:
                    name = f"pid {holder.pid} ({holder.comm})" if holder.comm else f"pid {holder.pid}"
                    kind = "process"
                nodes[hid] = Node(hid, "holder", name, kind, None, detail=f"pid {holder.pid}")
            edges.append(Edge(link_id(ref), hid, "tun", True))
    used = {node.cluster for node in nodes.values() if node.cluster is not None}
    clusters = tuple(Cluster(cluster_id(ns.id), ns.id, ns.label, ns.root)
                     for ns in sorted(topology.namespaces, key=namespace_sort_key) if cluster_id(ns.id) in used)
    return _sorted(clusters, nodes.values(), edges)


def _sorted(clusters: Iterable[Cluster], nodes: Iterable[Node], edges: Iterable[Edge]) -> Graph:
    """Clusters in namespace order; links by (cluster order, ifindex), then holders, then stubs."""
    clusters = tuple(clusters)
    order = {cluster.id: i for i, cluster in enumerate(clusters)}
    role_order = {"link": 0, "holder": 1, "stub": 2}

    def node_key(node: Node) -> Tuple[int, int, int, str]:
        return (role_order[node.role], order.get(node.cluster or "", -1),
                node.ref.ifindex if node.ref is not None else 0, node.id)

    return Graph(clusters, tuple(sorted(nodes, key=node_key)),
                 tuple(sorted(set(edges), key=lambda e: (e.source, e.target, e.kind))))


def neighbours(graph: Graph) -> Dict[str, Set[str]]:
    around: Dict[str, Set[str]] = {node.id: set() for node in graph.nodes}
    for edge in graph.edges:
        around[edge.source].add(edge.target)
        around[edge.target].add(edge.source)
    return around


def _within(graph: Graph, seeds: Iterable[str], hops: Optional[int]) -> Set[str]:
    """Nodes reachable from ``seeds`` in at most ``hops`` edges (any number with None)."""
    around = neighbours(graph)
    distance = {seed: 0 for seed in seeds if seed in around}
    queue = deque(distance)
    while queue:
        node = queue.popleft()
        if hops is not None and distance[node] >= hops:
            continue
        for other in around[node]:
            if other not in distance:
                distance[other] = distance[node] + 1
                queue.append(other)
    return set(distance)


def _keep(graph: Graph, keep: Set[str]) -> Graph:
    nodes = [node for node in graph.nodes if node.id in keep]
    used = {node.cluster for node in nodes}
    return Graph(tuple(c for c in graph.clusters if c.id in used), tuple(nodes),
                 tuple(e for e in graph.edges if e.source in keep and e.target in keep))


def narrow(graph: Graph, netns: Optional[NamespaceId] = None, around: Iterable[LinkRef] = (),
           hops: Optional[int] = None, kinds: Optional[FrozenSet[str]] = None) -> Graph:
    """The part of ``graph`` asked for (see the module docstring); each filter given narrows more."""
    if netns is not None:
        inside = {node.id for node in graph.nodes if node.cluster == cluster_id(netns)}
        graph = _keep(graph, _within(graph, inside, 1))
    seeds = [link_id(ref) for ref in around]
    if seeds:
        graph = _keep(graph, _within(graph, seeds, hops))
    if kinds is not None:
        kept = {node.id for node in graph.nodes if node.role == "link" and node.kind in kinds}
        # A stub or holder stays with the interface it hangs from.
        for edge in graph.edges:
            hangs = edge.kind in ("unresolved", "tun") or edge.target.startswith("r_")
            if hangs and edge.source in kept:
                kept.add(edge.target)
        graph = _keep(graph, kept)
    return graph
