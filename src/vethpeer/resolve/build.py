"""Building the Topology from a Snapshot and its pairing: proven pairs, explained unresolved ends,
relations, tun/tap holders, Open vSwitch bridges. Pure.
"""

from __future__ import annotations

import socket
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .. import ovsdb
from ..host.netlink import IFF_UP, OPERSTATES, LinkRecord
from ..kinds import DESCRIBED_KINDS, KINDS
from ..model import (
    TUNNEL_KINDS,
    Link,
    LinkRef,
    Namespace,
    NamespaceId,
    Owner,
    Pair,
    PeerHint,
    Relation,
    Topology,
    TunHolder,
    Tunnel,
    Unresolved,
    namespace_sort_key,
)
from ..snapshot import NamespaceRecord, Snapshot
from .pairing import Pairing
from .questions import EndKey
from .relations import masters


def format_mac(mac: Optional[bytes]) -> Optional[str]:
    return mac.hex(":") if mac else None


def format_address(family: int, address: bytes, prefixlen: int) -> str:
    try:
        text = socket.inet_ntop(family, address)
    except (ValueError, OSError):
        text = address.hex()
    return f"{text}/{prefixlen}"


def decode_name(raw: bytes) -> str:
    """Names are bytes to the kernel; undecodable bytes become U+DC80+byte (reversible)."""
    return raw.decode("utf-8", "surrogateescape")


def operstate_name(value: int) -> str:
    return OPERSTATES[value] if 0 <= value < len(OPERSTATES) else f"UNKNOWN({value})"


def _counted(record: NamespaceRecord) -> Namespace:
    """The namespace with its link count (None when it could not be read)."""
    ns = record.namespace
    count = None if ns.error is not None else len(record.links)
    return ns if ns.link_count == count else ns._replace(link_count=count)


def format_ip(raw: Optional[bytes]) -> Optional[str]:
    if raw is None:
        return None
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6 if len(raw) == 16 else None
    if family is None:
        return raw.hex()
    return socket.inet_ntop(family, raw)


def _tunnel(link: LinkRecord) -> Optional[Tunnel]:
    if link.kind not in TUNNEL_KINDS:
        return None
    value = link.value
    return Tunnel(link.kind, value("vni"), format_ip(value("tunnel_local")), format_ip(value("tunnel_remote")),
                  value("tunnel_port"))


def _info(link: LinkRecord) -> Tuple[Tuple[str, Any], ...]:
    kind = KINDS.get(link.kind) if link.kind is not None else None
    if kind is None or kind.describe is None:
        return ()
    return kind.describe(dict(link.data))


#: Kinds whose links carry more than the common fields (the rest skip the keyword construction).
_SPECIAL_KINDS = TUNNEL_KINDS | DESCRIBED_KINDS


def _links(ns: NamespaceRecord, netns: NamespaceId,
           holders: Dict[bytes, Tuple[TunHolder, ...]]) -> Iterable[Tuple[LinkRef, Link]]:
    addresses: Dict[int, List[str]] = {}
    for record in ns.addresses:
        addresses.setdefault(record.ifindex, []).append(
            format_address(record.family, record.address, record.prefixlen))
    no_addresses: Tuple[str, ...] = ()
    for link in ns.links:
        ref = LinkRef(netns, link.ifindex)
        mac = link.mac
        shown = addresses.get(link.ifindex)
        item = Link(
            ref, link.name.decode("utf-8", "surrogateescape"), link.kind, link.slave_kind,
            mac.hex(":") if mac else None, link.mtu, operstate_name(link.operstate), bool(link.flags & IFF_UP),
            link.master, link.link, link.link_netnsid,
            tuple([decode_name(name) for name in link.alt_names]) if link.alt_names else (),
            tuple(shown) if shown else no_addresses,
        )
        # Few links are tunnels, described kinds or held tun/tap devices: the rest skip this.
        if link.kind in _SPECIAL_KINDS or (holders and link.name in holders):
            item = item._replace(tunnel=_tunnel(link), tun_holders=holders.get(link.name, ()), info=_info(link))
        yield ref, item



def _tun_holders(snapshot: Snapshot) -> Dict[int, Dict[bytes, Tuple[TunHolder, ...]]]:
    """Namespace inode -> device name -> the processes holding it. A device is named by its
    namespace (TUNGETDEVNETNS) and its name there (fdinfo ``iff:``): the name alone could be any
    namespace's."""
    if not snapshot.tun_files:
        return {}
    owners_of = {ns.inode: ns.owners for ns in (record.namespace for record in snapshot.namespaces) if not ns.root}
    found: Dict[int, Dict[bytes, List[TunHolder]]] = {}
    for tun in sorted(snapshot.tun_files, key=lambda item: (item.pid, item.fd)):
        owners = owners_of.get(tun.holder_netns, ()) if tun.holder_netns is not None else ()
        if not owners or owners[0].kind == "process":
            # The namespace's fallback owner names its first process, not necessarily this one.
            owners = (Owner("process", f"pid {tun.pid} ({tun.comm})" if tun.comm else f"pid {tun.pid}",
                            str(tun.pid), (("comm", tun.comm),) if tun.comm else (),
                            "holds the tun/tap file"),)
        found.setdefault(tun.netns, {}).setdefault(tun.ifname, []).append(
            TunHolder(tun.pid, tun.fd, tun.comm, tun.vm, owners))
    return {inode: {name: tuple(items) for name, items in names.items()} for inode, names in found.items()}


def _hint(link: LinkRecord) -> PeerHint:
    return PeerHint(link.ifindex, decode_name(link.name), link.kind, format_mac(link.mac), link.mtu,
                    operstate_name(link.operstate))


def resolve(snapshot: Snapshot, pairing: Optional[Pairing] = None) -> Topology:
    """Turn what was read into a Topology of proven pairs and explained unresolved ends.

    ``pairing`` may be the one the reader already drove over this very snapshot (it holds the same
    facts); passing it saves doing the pairing twice.
    """
    if pairing is None:
        pairing = Pairing(snapshot)
        pairing.plan()
    final = pairing.finish()
    hints = pairing.hints()
    namespaces = tuple(sorted((_counted(record) for record in snapshot.namespaces), key=namespace_sort_key))
    ids = {ns.id.inode: ns.id for ns in namespaces}
    order = {ns.id: position for position, ns in enumerate(namespaces)}
    links: Dict[LinkRef, Link] = {}
    tun_holders = _tun_holders(snapshot)
    for record in snapshot.namespaces:
        if record.namespace.error is None:
            links.update(_links(record, ids[record.inode], tun_holders.get(record.inode, {})))

    def ref(key: EndKey) -> LinkRef:
        return LinkRef(ids[key[0]], key[1])

    def side_order(item: LinkRef) -> Tuple[int, int, int]:
        # The end outside the root namespace reads first ("ns-... -> tap..."), then by namespace.
        ns = namespaces[order[item.netns]]
        return (1 if ns.root else 0, order[item.netns], item.ifindex)

    pairs = []
    for key, other in pairing.pairs.items():
        a, b = ref(key), ref(other)
        if side_order(a) < side_order(b):
            pairs.append(Pair(a, b))
    pairs.sort(key=lambda pair: (side_order(pair.a), side_order(pair.b)))

    unresolved = []
    for key, (reason, detail) in final.items():
        link_ref = ref(key)
        link = links[link_ref]
        hint = hints.get(key)
        unresolved.append(Unresolved(link_ref, reason, detail, link.link, link.link_netnsid,
                                     None if hint is None else _hint(hint)))
    unresolved.sort(key=lambda item: (order[item.link.netns], item.link.ifindex))
    relations = [Relation(found.kind, ref(found.source), None if found.target is None else ref(found.target),
                          found.reason, found.detail)
                 for found in (*masters(pairing.links), *pairing.lowers.finish())]
    relations.sort(key=lambda item: (order[item.source.netns], item.source.ifindex, item.kind))
    # Open vSwitch: the bridge each port is on, from what ovsdb said (ovsdb.py ties names to links).
    ovs_warnings = ovsdb.with_ovs_bridges(links, snapshot.ovs)
    warnings = tuple(snapshot.warnings) + tuple(dict.fromkeys(pairing.warnings)) + tuple(ovs_warnings)
    return Topology(namespaces, links, tuple(pairs), tuple(unresolved), warnings, snapshot.root_source,
                    dict(snapshot.comms), relations=tuple(relations))
