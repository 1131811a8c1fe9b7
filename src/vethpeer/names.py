"""What interface names say on their own: OpenStack Neutron's port names. Pure.

Neutron names an interface by a prefix and the first 11 characters of a port id (an interface
name holds at most 15): ``tap``, ``ns-``, ``qr-``, ``qg-``, ``sg-``, ``fg-``, ``qvb``/``qvo``/``qvm``
(hybrid plug), ``ha-``; ``rfp-``/``fpr-`` carry a router id. Read only where a namespace is a
Neutron one (``owners.neutron``): elsewhere a ``tap...`` is just a tap.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from .host.procfs import pattern

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
