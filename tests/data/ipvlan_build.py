"""Write ipvlan.snapshot.json: ipvlan and ipvtap devices, which this test kernel cannot make (no
ipvlan module), from RTM_NEWLINK messages laid out as the kernel sends them
(include/uapi/linux/if_link.h: IFLA_IPVLAN_MODE and IFLA_IPVLAN_FLAGS, u16 each;
ipvlan_nl_fillinfo), parsed by vethpeer's own parser. Run from the project root:

    python tests/data/ipvlan_build.py

The host: eth0 in the root namespace with an ipvlan on it in l2 mode (bridge) and an ipvtap in
l3 mode (vepa); in namespace ``pod`` an ipvlan in l3s mode (private) whose lower device is eth0
in the root namespace (IFLA_LINK_NETNSID 0, with the RTM_GETNSID answer that proves it).
"""

from __future__ import annotations

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from relations_build import attr, link, root_and_one, write  # noqa: E402

from vethpeer.kinds import ipvlan  # noqa: E402
from vethpeer.snapshot import Snapshot  # noqa: E402

POD = 4026532600


def data(mode: int, flags: int) -> bytes:
    return (attr(ipvlan.IFLA_IPVLAN_MODE, struct.pack("=H", mode))
            + attr(ipvlan.IFLA_IPVLAN_FLAGS, struct.pack("=H", flags)))


def build() -> Snapshot:
    root = (
        link(1, "lo", mac=b"\0" * 6),
        link(2, "eth0"),
        link(3, "ipvl0", "ipvlan", lower=2, data=data(0, 0)),
        link(4, "ipvt0", "ipvtap", lower=2, data=data(1, ipvlan.IPVLAN_F_VEPA)),
    )
    pod = (
        link(1, "lo", mac=b"\0" * 6),
        link(2, "eth0", "ipvlan", lower=2, netnsid=0, data=data(2, ipvlan.IPVLAN_F_PRIVATE)),
    )
    return root_and_one(root, POD, "pod", pod)


if __name__ == "__main__":
    write("ipvlan", build())
