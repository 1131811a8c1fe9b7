"""Link kinds, one file per kind or family, each adding rows to ``KINDS``.

A kind says what its IFLA_INFO_DATA holds worth keeping (parsed by ``host.netlink`` into
``LinkRecord.data``, stored by field name in snapshots and range-checked by ``snapshot``), what
its IFLA_LINK means (a peer, a lower device), which field names its underlay device, whether it
is a tunnel, how DOT draws it, and what facts to show about it. To add one: a file here with a
``KINDS`` tuple of ``Kind`` rows, and its module in ``_FILES`` below (see docs/architecture.md).

Every set the other rooms use is derived here: ``PEER_KINDS``, ``LOWER_KINDS``,
``TUNNEL_KINDS``, ``UNDERLAY_FIELDS``, ``FIELDS``.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Tuple

from . import bridge, geneve, gre, ipvlan, macvlan, netkit, tun, veth, vlan, vxlan
from .base import BE16, BYTES, HOWS, MAXIMUM, U16, U32, DataAttr, Facts, Kind

__all__ = ["BE16", "BYTES", "DATA", "DESCRIBED_KINDS", "FIELDS", "HOWS", "KINDS", "LOWER_KINDS", "MAXIMUM",
           "PEER_KINDS", "RELATED_KINDS", "TUNNEL_KINDS", "U16", "U32", "DataAttr", "Facts", "Kind", "in_order"]

_FILES = (veth, netkit, bridge, macvlan, ipvlan, vlan, tun, vxlan, geneve, gre)


def _table() -> Dict[str, Kind]:
    table: Dict[str, Kind] = {}
    for module in _FILES:
        for kind in module.KINDS:
            for name in kind.names:
                if name in table:
                    raise ValueError(f"link kind {name!r} is claimed twice")
                table[name] = kind
    return table


#: IFLA_INFO_KIND -> Kind.
KINDS: Dict[str, Kind] = _table()


def _where(test: str) -> FrozenSet[str]:
    return frozenset(name for name, kind in KINDS.items() if getattr(kind, test))


#: Pairs: IFLA_LINK is the other end.
PEER_KINDS = frozenset(name for name, kind in KINDS.items() if kind.link == "peer")
#: Devices on a lower device: IFLA_LINK is it.
LOWER_KINDS = frozenset(name for name, kind in KINDS.items() if kind.link == "lower")
#: Tunnels: they carry a ``model.Tunnel``.
TUNNEL_KINDS = _where("tunnel")
#: Kinds with a relation to follow (a lower device or an underlay).
RELATED_KINDS = LOWER_KINDS | _where("underlay")
#: Kinds with facts of their own to show (``model.Link.info``).
DESCRIBED_KINDS = _where("describe")


def _fields() -> Dict[str, str]:
    fields: Dict[str, str] = {}
    for kind in KINDS.values():
        for _attr, field, how in kind.data:
            if fields.setdefault(field, how) != how:
                raise ValueError(f"link data field {field!r} is read two ways")
    return fields


#: Every data field any kind keeps -> how it is read (``HOWS``), in the order kinds first name
#: them: ``LinkRecord.data`` and snapshots keep that order.
FIELDS: Dict[str, str] = _fields()
_POSITION = {field: position for position, field in enumerate(FIELDS)}


def in_order(fields: Dict[str, Any]) -> Tuple[Tuple[str, Any], ...]:
    """A kind's parsed fields as ``LinkRecord.data``: in ``FIELDS`` order."""
    return tuple(sorted(fields.items(), key=lambda item: _POSITION[item[0]]))

#: IFLA_INFO_KIND -> {attribute type: (field, how)}, for the kinds with data to parse.
DATA: Dict[str, Dict[int, Tuple[str, str]]] = {
    name: {attr: (field, how) for attr, field, how in kind.data} for name, kind in KINDS.items() if kind.data}
