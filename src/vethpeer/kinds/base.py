"""What a link kind is to vethpeer: ``Kind``, one row of ``kinds.KINDS``.

Pure data, imported by the netlink parser below everything else: a kind file imports only this.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional, Tuple

#: How an IFLA_INFO_DATA attribute is read: host-order integers, a network-order port, raw
#: bytes (addresses: 4 or 16 of them).
U32, U16, BE16, BYTES = "u32", "u16", "be16", "bytes"
HOWS = (U32, U16, BE16, BYTES)

#: The largest value each integer ``how`` can hold (a snapshot with more is refused).
MAXIMUM = {U32: (1 << 32) - 1, U16: (1 << 16) - 1, BE16: (1 << 16) - 1}

#: One attribute taken from a kind's IFLA_INFO_DATA: (attribute type, field, how).
DataAttr = Tuple[int, str, str]

#: Facts shown for a link: (name, value) pairs, in the order they are shown.
Facts = Tuple[Tuple[str, Any], ...]


class Kind(NamedTuple):
    """One kind of link (or a family of kinds that share a layout), as every phase sees it."""

    #: The IFLA_INFO_KIND strings it stands for.
    names: Tuple[str, ...]
    #: What its IFLA_INFO_DATA holds worth keeping (``LinkRecord.data``, snapshots by field name).
    data: Tuple[DataAttr, ...] = ()
    #: What IFLA_LINK means for it: "peer" (the other end of a pair, veth and netkit), "lower"
    #: (the device it sits on, macvlan and friends), or None (nothing vethpeer follows).
    link: Optional[str] = None
    #: The data field holding the underlay device's ifindex (in the link's *link* namespace,
    #: IFLA_LINK_NETNSID), for tunnels that can be bound to one; 0 or absent: none.
    underlay: Optional[str] = None
    #: It encapsulates (vxlan, gre, ...): it carries a ``model.Tunnel`` built from the fields
    #: ``vni``, ``tunnel_local``, ``tunnel_remote``, ``tunnel_port``, and a trace may end at it.
    tunnel: bool = False
    #: How DOT draws it (node attributes after ``shape=``); None: a plain box.
    shape: Optional[str] = None
    #: Facts worth showing beyond the tunnel's, from its data (``Link.info``): mode, flags, ...
    describe: Optional[Callable[[Mapping[str, Any]], Facts]] = None
