"""Write gre.snapshot.json: the IP tunnel family (gre, gretap, ip6gre, ipip, sit, ip6tnl), which
this test kernel cannot make (none of their modules), from RTM_NEWLINK messages laid out as the
kernel sends them (include/uapi/linux/if_tunnel.h: IFLA_GRE_LINK/LOCAL/REMOTE,
IFLA_IPTUN_LINK/LOCAL/REMOTE; 4-byte addresses, 16 for the ip6 kinds), parsed by vethpeer's own
parser. Run from the project root:

    python tests/data/gre_build.py

The host: eth0 in the root namespace, under a gre, a sit and an ip6gre bound to it, an ipip and
an ip6tnl bound to nothing, and a gretap; in namespace ``edge`` a gre made in the root namespace
and moved there, whose underlay is still eth0 in the root namespace (IFLA_LINK_NETNSID 0, with
the RTM_GETNSID answer that proves it).
"""

from __future__ import annotations

import ipaddress
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from relations_build import attr, link, root_and_one, write  # noqa: E402

from vethpeer.kinds import gre  # noqa: E402
from vethpeer.snapshot import Snapshot  # noqa: E402

EDGE = 4026532700


def tunnel(layout: str, local: str, remote: str, underlay: int = 0) -> bytes:
    """IFLA_INFO_DATA as ipgre_fill_info / ip6gre_fill_info ("gre") or ipip/sit/ip6_tnl_fill_info
    ("iptun") put it: the link always (0: none), then the addresses."""
    link_attr, local_attr, remote_attr = (
        (gre.IFLA_GRE_LINK, gre.IFLA_GRE_LOCAL, gre.IFLA_GRE_REMOTE) if layout == "gre"
        else (gre.IFLA_IPTUN_LINK, gre.IFLA_IPTUN_LOCAL, gre.IFLA_IPTUN_REMOTE))
    return (attr(link_attr, struct.pack("=I", underlay)) + attr(local_attr, ipaddress.ip_address(local).packed)
            + attr(remote_attr, ipaddress.ip_address(remote).packed))


def build() -> Snapshot:
    root = (
        link(1, "lo", mac=b"\0" * 6),
        link(2, "eth0"),
        link(3, "gre1", "gre", lower=2, mac=b"", data=tunnel("gre", "192.0.2.1", "198.51.100.1", 2)),
        link(4, "ipip1", "ipip", mac=b"", data=tunnel("iptun", "192.0.2.1", "203.0.113.9")),
        link(5, "sit1", "sit", lower=2, mac=b"", data=tunnel("iptun", "192.0.2.1", "198.51.100.7", 2)),
        link(6, "ip6gre1", "ip6gre", lower=2, mac=b"", data=tunnel("gre", "2001:db8::1", "2001:db8::2", 2)),
        link(7, "ip6tnl1", "ip6tnl", mac=b"", data=tunnel("iptun", "2001:db8::1", "2001:db8::9")),
        link(8, "gretap1", "gretap", data=tunnel("gre", "192.0.2.1", "198.51.100.3")),
    )
    edge = (
        link(1, "lo", mac=b"\0" * 6),
        link(2, "gre-out", "gre", lower=2, netnsid=0, mac=b"", data=tunnel("gre", "192.0.2.1", "198.51.100.99", 2)),
    )
    return root_and_one(root, EDGE, "edge", edge)


if __name__ == "__main__":
    write("gre", build())
