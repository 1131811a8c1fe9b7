"""The JSON contract (version 1). Scripts depend on it: extend it only by adding fields."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..holding import DETAILED
from ..model import Link, LinkRef, Namespace, NamespaceId, Owner, PeerHint, Relation, Topology, TunHolder, Unresolved

VERSION = 1

Match = Tuple[LinkRef, Optional[LinkRef], Optional[Unresolved]]


def owner_json(owner: Owner) -> Dict[str, Any]:
    """{"kind", "name", "id", "how"} plus the owner's extra facts (compose project, pod namespace,
    ...) as keys of their own; an extra never replaces one of the four."""
    out: Dict[str, Any] = {"kind": owner.kind, "name": owner.name, "id": owner.id, "how": owner.how}
    for key, value in owner.extra:
        out.setdefault(key, value)
    return out


def netns_json(ns: Namespace) -> Dict[str, Any]:
    return {"inode": ns.id.inode, "dev": ns.id.dev, "name": ns.name, "root": ns.root, "label": ns.label,
            "owners": [owner_json(owner) for owner in ns.owners], "cookie": ns.cookie}


def neutron_host(topology: Topology) -> bool:
    """Whether any namespace is a Neutron one: only then do tap/qr-/qg-... names mean ports."""
    return any(owner.kind == "neutron" for ns in topology.namespaces for owner in ns.owners)


def neutron_port(name: str) -> Optional[Dict[str, str]]:
    from ..names import port_of  # only on a Neutron node: its pattern is compiled then

    port = port_of(name)
    if port is None:
        return None
    return {"prefix": port.prefix, "role": port.role, "id_prefix": port.id_prefix, "id_kind": port.id_kind}


def _netns_cached(topology: Topology, netns: NamespaceId,
                  netns_cache: Optional[Dict[Any, Dict[str, Any]]]) -> Dict[str, Any]:
    cached = netns_cache.get(netns) if netns_cache is not None else None
    if cached is None:
        cached = netns_json(topology.namespace(netns))
        if netns_cache is not None:
            netns_cache[netns] = cached
    return cached


def link_ref_json(topology: Topology, ref: LinkRef,
                  netns_cache: Optional[Dict[Any, Dict[str, Any]]] = None) -> Dict[str, Any]:
    """A short reference to another link: enough to find it again (name, ifindex, namespace)."""
    link = topology.links.get(ref)
    return {"ifname": link.name if link is not None else None, "ifindex": ref.ifindex,
            "kind": link.kind if link is not None else None,
            "netns": _netns_cached(topology, ref.netns, netns_cache)}


def local_ref_json(topology: Topology, ref: LinkRef) -> Dict[str, Any]:
    """A reference to a link in the same namespace as the one it is written in (a master, a
    port: the kernel never enslaves across namespaces), so without the namespace object."""
    link = topology.links.get(ref)
    return {"ifname": link.name if link is not None else None, "ifindex": ref.ifindex,
            "kind": link.kind if link is not None else None}


def _relation_json(topology: Topology, relation: Relation,
                   netns_cache: Optional[Dict[Any, Dict[str, Any]]]) -> Dict[str, Any]:
    return {"link": None if relation.target is None else link_ref_json(topology, relation.target, netns_cache),
            "reason": relation.reason, "detail": relation.detail}


def tun_holder_json(holder: TunHolder) -> Dict[str, Any]:
    return {"pid": holder.pid, "fd": holder.fd, "comm": holder.comm, "vm": holder.vm,
            "owners": [owner_json(owner) for owner in holder.owners]}


def relation_fields(topology: Topology, link: Link,
                    netns_cache: Optional[Dict[Any, Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The relation fields of a LINK object (added in 1.x; every link has all of them)."""
    ref = link.ref
    relations = topology.relations_of(ref)
    master_link = lower = underlay = None
    ports: List[Dict[str, Any]] = []
    uppers: List[Dict[str, Any]] = []
    for relation in relations:
        if relation.source == ref:
            if relation.kind == "master":
                if relation.target is not None:
                    master_link = local_ref_json(topology, relation.target)
            elif relation.kind == "lower":
                lower = _relation_json(topology, relation, netns_cache)
            elif relation.kind == "underlay":
                underlay = _relation_json(topology, relation, netns_cache)
        elif relation.kind == "master":
            ports.append(local_ref_json(topology, relation.source))
        else:
            uppers.append(link_ref_json(topology, relation.source, netns_cache))
    tunnel = None
    if link.tunnel is not None:
        t = link.tunnel
        tunnel = {"kind": t.kind, "vni": t.vni, "local": t.local, "remote": t.remote, "port": t.port,
                  "underlay": underlay}
    return {
        "master_link": master_link,
        "lower": lower,
        "ports": ports,
        "uppers": uppers,
        "tunnel": tunnel,
        "tun_holders": [tun_holder_json(holder) for holder in link.tun_holders],
        "ovs_bridge": link.ovs_bridge,
    }


def link_json(topology: Topology, ref: LinkRef, netns_cache: Optional[Dict[Any, Dict[str, Any]]] = None,
              ports: bool = False) -> Dict[str, Any]:
    link: Link = topology.link(ref)
    master = topology.master_of(ref)
    netns = _netns_cached(topology, ref.netns, netns_cache)
    out = {
        "ifname": link.name,
        "ifindex": ref.ifindex,
        "kind": link.kind,
        "mac": link.mac,
        "mtu": link.mtu,
        "state": link.state,
        "master": master.name if master is not None else None,
        "addresses": list(link.addresses),
        "netns": netns,
        "alt_names": list(link.alt_names),
        "up": link.up,
        "link_netnsid": link.link_netnsid,
        # On a Neutron node: the port (or router) an interface name like tap39d60faa-aa stands for.
        "neutron_port": neutron_port(link.name) if ports else None,
        # Relations (see relation_fields): filled below for the few links that have any.
        "master_link": None,
        "lower": None,
        "ports": [],
        "uppers": [],
        "tunnel": None,
        "tun_holders": [],
        # The Open vSwitch bridge the interface is a port of, as ovsdb says (None: not an OVS port,
        # or ovsdb could not be read); "master" stays the kernel's (ovs-system, or none for netdev).
        "ovs_bridge": link.ovs_bridge,
        # What its kind says about it (an ipvlan's mode and flags, ...), or None.
        "info": dict(link.info) if link.info else None,
    }
    if (topology.relations and topology.relations_of(ref)) or link.tunnel is not None or link.tun_holders:
        out.update(relation_fields(topology, link, netns_cache))
    return out


def _hint_json(hint: Optional[PeerHint]) -> Optional[Dict[str, Any]]:
    if hint is None:
        return None
    return {"ifindex": hint.ifindex, "ifname": hint.name, "kind": hint.kind, "mac": hint.mac,
            "mtu": hint.mtu, "state": hint.state}


def _unresolved_fields(item: Optional[Unresolved]) -> Dict[str, Any]:
    return {
        "detail": item.detail if item else None,
        "peer_ifindex": item.peer_ifindex if item else None,
        "peer_netnsid": item.link_netnsid if item else None,
        "peer_hint": _hint_json(item.peer_hint) if item else None,
    }


def dumps(document: Dict[str, Any]) -> str:
    # Compact on purpose: json's C encoder only runs without indent, and `jq .` pretty-prints.
    # ensure_ascii (the default) writes control bytes and undecodable bytes as \\u escapes.
    return json.dumps(document) + "\n"


def peer_document(topology: Topology, matches: Sequence[Match]) -> Dict[str, Any]:
    """``peer --json`` (and ``show --json``: every LINK carries its relations anyway)."""
    ports = neutron_host(topology)
    out: List[Dict[str, Any]] = []
    for ref, peer, unresolved in matches:
        entry: Dict[str, Any] = {
            "link": link_json(topology, ref, ports=ports),
            "peer": link_json(topology, peer, ports=ports) if peer is not None else None,
            "unresolved": unresolved.reason if unresolved is not None else None,
        }
        entry.update(_unresolved_fields(unresolved))
        out.append(entry)
    return {"version": VERSION, "matches": out, "warnings": list(topology.warnings)}


def render_peer(topology: Topology, matches: Sequence[Match]) -> str:
    return dumps(peer_document(topology, matches))


def render_show(topology: Topology, matches: Sequence[Match]) -> str:
    """``show --json``: the same document as ``peer --json``; every LINK in it carries its
    relations (master_link, ports, lower, uppers, tunnel, tun_holders, ovs_bridge)."""
    return render_peer(topology, matches)


def list_document(topology: Topology) -> Dict[str, Any]:
    cache: Dict[Any, Dict[str, Any]] = {}  # one netns object per namespace (json writes it each time)
    ports = neutron_host(topology)
    return {
        "version": VERSION,
        "pairs": [{"a": link_json(topology, pair.a, cache, ports), "b": link_json(topology, pair.b, cache, ports)}
                  for pair in topology.pairs],
        "unresolved": [
            dict({"link": link_json(topology, item.link, cache, ports), "reason": item.reason},
                 **_unresolved_fields(item))
            for item in topology.unresolved
        ],
        "warnings": list(topology.warnings),
    }


def render_list(topology: Topology) -> str:
    return dumps(list_document(topology))


def namespaces_document(topology: Topology) -> Dict[str, Any]:
    return {
        "version": VERSION,
        "namespaces": [
            {
                "inode": ns.id.inode,
                "dev": ns.id.dev,
                "cookie": ns.cookie,
                "name": ns.name,
                "root": ns.root,
                "paths": list(ns.paths),
                "pids": list(ns.pids),
                "links": ns.link_count,
                "label": ns.label,
                "names": list(ns.names),
                **{kind.name: [{"pid": h.pid, kind.detail: h.detail} for h in ns.holders[kind.name]]
                   for kind in DETAILED},
                "own": ns.own,
                "error": ns.error,
                "owners": [owner_json(owner) for owner in ns.owners],
                # The command of each holder pid shown above, where it was read.
                "comms": {str(pid): topology.comms[pid] for pid in ns.holders.pids() if pid in topology.comms},
            }
            for ns in topology.namespaces
        ],
        "warnings": list(topology.warnings),
    }


def render_namespaces(topology: Topology) -> str:
    return dumps(namespaces_document(topology))
