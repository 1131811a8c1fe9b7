"""Writes kernel.snapshot.json: a host using Open vSwitch's kernel datapath, which this test kernel
cannot have (no openvswitch module). Run from the repository root: python tests/data/ovs/build.py

The device layout is the one `ip -d link` shows on an OpenStack compute/network node with the OVS
agent (hybrid firewall) and kernel datapath: ``ovs-system`` (kind openvswitch, no master), each
bridge's local port (kind openvswitch, master ovs-system, slave kind openvswitch), physical NICs and
qvo veth ends with master ovs-system, vxlan_sys_4789 (kind vxlan) on the datapath, qbr Linux
bridges holding the qvb end and the VM's tap, and internal ports moved into a qdhcp namespace
(kind openvswitch, and no master there: the datapath is in root). The ovsdb view is what its
ovsdb-server would answer, including two entries that must not be tied to anything: the moved
internal port (its name exists in another namespace only) and a tap deleted and made again
behind ovs-vswitchd's back (ovsdb's ifindex is stale and the new device has no master).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # tests/, for sim
sys.path.insert(0, str(HERE.parent.parent.parent / "src"))

from sim import World  # noqa: E402
from vethpeer import snapshot as snapshot_io  # noqa: E402
from vethpeer.ovsdb import OvsInterface, OvsView  # noqa: E402

OVS = "openvswitch"


def build() -> str:
    world = World()
    root = world.root
    qdhcp = world.namespace()
    vm_ns = world.namespace()  # a container that happens to name its end like an OVS port
    world.add(root, b"eth0", None, index=2)
    world.add(root, b"eth1", None, index=3)
    world.add(root, b"ovs-system", OVS, index=4)
    world.add(root, b"br-ex", OVS, index=5)
    world.add(root, b"br-int", OVS, index=6)
    world.add(root, b"br-tun", OVS, index=7)
    world.add(root, b"vxlan_sys_4789", "vxlan", index=8)
    qvo = world.add(root, b"qvo39d60faa-aa", "veth", index=9)
    qvb = world.add(root, b"qvb39d60faa-aa", "veth", index=10)
    world.links[root][qvo]["peer"] = (root, qvb)
    world.links[root][qvb]["peer"] = (root, qvo)
    world.truth.add(frozenset(((root, qvo), (root, qvb))))
    world.add(root, b"qbr39d60faa-aa", "bridge", index=11)
    world.add(root, b"tap39d60faa-aa", "tun", index=12)
    world.add(root, b"tap77c0ffee-01", "tun", index=14)  # re-made: ovsdb still says ifindex 40
    world.add(qdhcp, b"tapdhcp0-11", OVS, index=20)
    world.veth(vm_ns, root, b"qvo39d60faa-aa", b"vethc0ffee")
    masters = {3: 4, 5: 4, 6: 4, 7: 4, 8: 4, 9: 4, 10: 11, 12: 11}
    slave_kinds = {4: OVS, 11: "bridge"}

    snap, _ = world.ask_all(world.snapshot())
    namespaces = []
    for record in snap.namespaces:
        if record.inode == root:
            links = tuple(link._replace(master=masters.get(link.ifindex),
                                        slave_kind=slave_kinds.get(masters.get(link.ifindex, 0)))
                          for link in record.links)
            namespaces.append(record._replace(links=links, names=()))
        elif record.inode == qdhcp:
            namespaces.append(record._replace(names=("qdhcp-8a6b8f36-0ab4-4d45-9d29-5bd3dc2f2e63",)))
        else:
            namespaces.append(record)
    view = OvsView(
        interfaces=tuple(sorted((
            OvsInterface("br-ex", "br-ex", "br-ex", "internal", 5),
            OvsInterface("eth1", "br-ex", "eth1", "", 3),
            OvsInterface("br-int", "br-int", "br-int", "internal", 6),
            OvsInterface("qvo39d60faa-aa", "br-int", "qvo39d60faa-aa", "", 9),
            OvsInterface("tap77c0ffee-01", "br-int", "tap77c0ffee-01", "", 40),
            OvsInterface("tapdhcp0-11", "br-int", "tapdhcp0-11", "internal", None),
            OvsInterface("patch-tun", "br-int", "patch-tun", "patch", None),
            OvsInterface("br-tun", "br-tun", "br-tun", "internal", 7),
            OvsInterface("patch-int", "br-tun", "patch-int", "patch", None),
            OvsInterface("vxlan-0a000002", "br-tun", "vxlan-0a000002", "vxlan", 8),
        ))),
        datapath_types=(("br-ex", "system"), ("br-int", "system"), ("br-tun", "system")),
        socket="/run/openvswitch/db.sock", vswitchd_pid=1203, netns=(4, root))
    return snapshot_io.dumps(snap._replace(namespaces=tuple(namespaces), ovs=view, root_source="pid 1")) + "\n"


if __name__ == "__main__":
    (HERE / "kernel.snapshot.json").write_text(build())
