"""OpenStack Neutron: what its namespace names say (there is no runtime to ask).

Interface names are read in ``vethpeer.names`` (the JSON output uses them too). Namespaces:
``qdhcp-<network uuid>`` (DHCP), ``qrouter-<router uuid>``, ``snat-<router uuid>``
(DVR SNAT), ``fip-<external network uuid>`` (DVR floating IPs), ``qlbaas-<load balancer uuid>``,
``ovnmeta-<network uuid>`` (OVN metadata).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from ..host.procfs import pattern
from ..names import PORT_PREFIXES, PortName, port_of

__all__ = ["PORT_PREFIXES", "ROLES", "PortName", "from_state", "netns_owner", "port_of"]
from .base import Owner, Scan

#: Its rows of ``owners.SOURCES``: the owner kinds it names and the prefix a label shows each
#: with (``model.owner_label``); the ``--netns WORD:NAME`` words and the owner kinds each selects;
#: directories whose entries coming and going mean a namespace may have come or gone (``watch``).
LABELS: Dict[str, str] = {}
SELECTORS: Dict[str, Tuple[str, ...]] = {"neutron": ("neutron",)}
WATCHED: Tuple[str, ...] = ()

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_NETNS = pattern(r"(qdhcp|qrouter|snat|fip|qlbaas|ovnmeta)-(" + _UUID + ")")
#: prefix -> (role of the namespace, what the uuid is)
ROLES = {
    "qdhcp": ("dhcp", "network"),
    "qrouter": ("router", "router"),
    "snat": ("snat", "router"),
    "fip": ("floating-ip", "external_network"),
    "qlbaas": ("load-balancer", "load_balancer"),
    "ovnmeta": ("metadata", "network"),
}


def netns_owner(name: str) -> Optional[Owner]:
    match = _NETNS.fullmatch(name)
    if match is None:
        return None
    role, what = ROLES[match.group(1)]
    return Owner("neutron", name, match.group(2), (("role", role), (what, match.group(2))), "netns name")


def from_state(scan: Scan) -> None:
    for ns in scan.namespaces:
        for name in ns.names:
            owner = netns_owner(name)
            if owner is not None:
                scan.add(ns.inode, owner)
