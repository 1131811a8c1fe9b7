"""Write relations.snapshot.json: kinds this test kernel lacks (vlan, bond, dummy, geneve, Open
vSwitch), from hand-built RTM_NEWLINK messages laid out as the kernel sends them, parsed by
vethpeer's own parser. Run from the project root:

    python tests/data/relations_build.py

The host it describes: in the root namespace a bond (eth2, eth3), a vlan on eth1, a dummy on
a bridge, a geneve, and Open vSwitch (``ovs-system``, bridge ``br-int`` and a tap port, all with
master ovs-system); in namespace ``ctr`` a vlan whose lower device is eth1 in the root namespace
(IFLA_LINK_NETNSID 0, with the RTM_GETNSID answer that proves it), and a veth to the root.
"""

from __future__ import annotations

import os
import struct
import sys
from typing import List, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "src"))

from vethpeer import snapshot as snapshot_io  # noqa: E402
from vethpeer.host import netlink  # noqa: E402
from vethpeer.host.netlink import LinkRecord  # noqa: E402
from vethpeer.kinds import geneve as geneve_kind  # noqa: E402
from vethpeer.model import Holders, Namespace, NamespaceId  # noqa: E402
from vethpeer.snapshot import NamespaceRecord, NsidAnswer, Snapshot  # noqa: E402

ROOT, CTR = 4026531840, 4026532500


def attr(atype: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, atype) + payload + b"\0" * ((4 - length % 4) % 4)


def u32(value: int) -> bytes:
    return struct.pack("=I", value)


def link(index: int, name: str, kind: str = "", *, master: int = 0, lower: int = 0, netnsid: int = -2,
         data: bytes = b"", slave_kind: str = "", mac: bytes = b"\x02\x00\x00\x00\x00\x01") -> LinkRecord:
    attrs = attr(netlink.IFLA_IFNAME, name.encode() + b"\0") + attr(netlink.IFLA_MTU, u32(1500))
    attrs += attr(netlink.IFLA_ADDRESS, mac) + attr(netlink.IFLA_OPERSTATE, b"\x06")
    if lower:
        attrs += attr(netlink.IFLA_LINK, u32(lower))
    if master:
        attrs += attr(netlink.IFLA_MASTER, u32(master))
    info = b""
    if kind:
        info += attr(netlink.IFLA_INFO_KIND, kind.encode() + b"\0")
    if data:
        info += attr(netlink.IFLA_INFO_DATA | 0x8000, data)
    if slave_kind:
        info += attr(netlink.IFLA_INFO_SLAVE_KIND, slave_kind.encode() + b"\0")
    if info:
        attrs += attr(netlink.IFLA_LINKINFO | 0x8000, info)
    if netnsid != -2:
        attrs += attr(netlink.IFLA_LINK_NETNSID, struct.pack("=i", netnsid))
    body = struct.pack("=BxHiII", 0, 1, index, 0x11043, 0) + attrs
    message = struct.pack("=IHHII", 16 + len(body), netlink.RTM_NEWLINK, netlink.NLM_F_MULTI, 1, 0) + body
    return netlink.parse_link(message, 16, len(message))


def build() -> Snapshot:
    geneve = (attr(geneve_kind.IFLA_GENEVE_ID, u32(5001)) + attr(geneve_kind.IFLA_GENEVE_REMOTE, bytes([192, 0, 2, 50]))
              + attr(geneve_kind.IFLA_GENEVE_PORT, struct.pack("!H", 6081)))
    root: List[LinkRecord] = [
        link(1, "lo", mac=b"\0" * 6),
        link(2, "eth1"),
        link(3, "eth1.100", "vlan", lower=2, data=attr(1, struct.pack("=H", 100))),
        link(4, "bond0", "bond", data=attr(1, b"\x04")),
        link(5, "eth2", master=4, slave_kind="bond"),
        link(6, "eth3", master=4, slave_kind="bond"),
        link(7, "br0", "bridge"),
        link(8, "dummy0", "dummy", master=7, slave_kind="bridge"),
        link(9, "gnv0", "geneve", data=geneve),
        link(10, "ovs-system", "openvswitch"),
        link(11, "br-int", "openvswitch", master=10, slave_kind="openvswitch"),
        link(12, "tap1", "tun", master=10, slave_kind="openvswitch"),
        link(13, "vethr", "veth", lower=2, netnsid=0),
    ]
    ctr = [
        link(1, "lo", mac=b"\0" * 6),
        link(2, "eth0", "veth", lower=13, netnsid=0),
        link(3, "vlan200", "vlan", lower=2, netnsid=0, data=attr(1, struct.pack("=H", 200))),
    ]

    def ns(inode: int, links: List[LinkRecord], root_ns: bool) -> NamespaceRecord:
        return NamespaceRecord(Namespace(NamespaceId(4, inode), None, Holders(names=() if root_ns else ("ctr",)),
                                         root=root_ns, own=root_ns), tuple(links))

    return Snapshot((ns(ROOT, root, True), ns(CTR, ctr, False)),
                    (NsidAnswer(CTR, ROOT, 0), NsidAnswer(ROOT, CTR, 0)), (), (), "pid 1", ())


def root_and_one(root: Sequence[LinkRecord], inode: int, name: str, links: Sequence[LinkRecord]) -> Snapshot:
    """The root namespace and one named namespace, each with id 0 for the other: the shape of
    the snapshots of one link kind (ipvlan_build, gre_build)."""
    return Snapshot((NamespaceRecord(Namespace(NamespaceId(4, ROOT), None, Holders(), root=True, own=True),
                                     tuple(root)),
                     NamespaceRecord(Namespace(NamespaceId(4, inode), None, Holders(names=(name,))), tuple(links))),
                    (NsidAnswer(inode, ROOT, 0), NsidAnswer(ROOT, inode, 0)), (), (), "pid 1", ())


def write(name: str, snapshot: Snapshot) -> None:
    """Record ``snapshot`` as tests/data/<name>.snapshot.json."""
    with open(os.path.join(HERE, f"{name}.snapshot.json"), "w", encoding="utf-8") as handle:
        handle.write(snapshot_io.dumps(snapshot))


if __name__ == "__main__":
    write("relations", build())
