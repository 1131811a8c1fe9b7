"""OpenStack Neutron: what its namespace and interface names say (there is no runtime to ask).

Namespaces: ``qdhcp-<network uuid>`` (DHCP), ``qrouter-<router uuid>``, ``snat-<router uuid>``
(DVR SNAT), ``fip-<external network uuid>`` (DVR floating IPs), ``qlbaas-<load balancer uuid>``,
``ovnmeta-<network uuid>`` (OVN metadata). Interfaces carry the first 11 characters of a port id
after a prefix (an interface name holds at most 15): ``tap``, ``ns-``, ``qr-``, ``qg-``, ``sg-``,
``fg-``, ``qvb``/``qvo``/``qvm`` (hybrid plug), ``ha-``; ``rfp-``/``fpr-`` carry a router id.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from ..host.procfs import pattern
from .base import Owner, Scan

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
#: interface prefix -> what it is; longest prefixes first so "qvb" is not read as "q...".
PORT_PREFIXES = {
    "tap": "tap device",
    "ns-": "dhcp/fip port",
    "qr-": "router interface",
    "qg-": "router gateway",
    "sg-": "snat interface",
    "fg-": "fip gateway",
    "qvb": "hybrid bridge end",
    "qvo": "hybrid ovs end",
    "qvm": "hybrid bridge end",
    "ha-": "ha port",
    "rfp-": "router-to-fip link",
    "fpr-": "fip-to-router link",
}
_PORT = pattern(r"(tap|ns-|qr-|qg-|sg-|fg-|qvb|qvo|qvm|ha-|rfp-|fpr-)([0-9a-f]{8}-[0-9a-f]{1,3})")


class PortName(NamedTuple):
    prefix: str
    #: What the interface is ("router gateway", ...).
    role: str
    #: The start of the port id (router id for rfp-/fpr-) the name carries.
    id_prefix: str
    #: "port" or "router".
    id_kind: str


def port_of(ifname: str) -> Optional[PortName]:
    """The Neutron port an interface name stands for, or None when it does not look like one."""
    match = _PORT.fullmatch(ifname)
    if match is None:
        return None
    prefix = match.group(1)
    return PortName(prefix, PORT_PREFIXES[prefix], match.group(2), "router" if prefix in ("rfp-", "fpr-") else "port")


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
