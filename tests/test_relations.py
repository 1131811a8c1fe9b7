"""Relations without root: parsing IFLA_INFO_DATA, snapshots by name, lower devices proven through
the simulated kernel's nsid answers (never by ifindex alone), masters, tun holders, JSON and show."""

from __future__ import annotations

import json
import os
import re
import socket
import struct
from typing import Dict, List, Sequence, Tuple

import pytest

from sim import World
from test_netlink_parse import attr, link_message, parse, replay
from topo import found
from vethpeer import resolve
from vethpeer import snapshot as snapshot_io
from vethpeer.discover import qemu_vm_name
from vethpeer.host import netlink
from vethpeer.host.kernel import TunFile
from vethpeer.host.netlink import LinkRecord
from vethpeer.kinds import geneve, in_order, vxlan
from vethpeer.model import Holders, Link, LinkRef, Namespace, NamespaceId, Topology
from vethpeer.render import json as json_render
from vethpeer.render.show import render_show
from vethpeer.render.text import Style
from vethpeer.resolve import FdQuestion, ViaQuestion
from vethpeer.snapshot import NamespaceRecord, Snapshot

IFLA_LINKINFO = netlink.IFLA_LINKINFO | 0x8000  # as the kernel sends it: NLA_F_NESTED


def linkinfo(kind: bytes, data: bytes = b"", slave_kind: bytes = b"") -> bytes:
    body = attr(netlink.IFLA_INFO_KIND, kind + b"\0")
    if data:
        body += attr(netlink.IFLA_INFO_DATA | 0x8000, data)
    if slave_kind:
        body += attr(netlink.IFLA_INFO_SLAVE_KIND, slave_kind + b"\0")
    return attr(IFLA_LINKINFO, body)


def u32(value: int) -> bytes:
    return struct.pack("=I", value)


def be16(value: int) -> bytes:
    return struct.pack("!H", value)


# --- parsing ------------------------------------------------------------------------------------


def test_recorded_vxlan_parameters_match_what_ip_showed() -> None:
    links = {link.name: link for link in replay("kinds.links.json", netlink.RTM_NEWLINK, netlink.parse_link)}
    with open(f"{__file__.rsplit('/', 1)[0]}/data/kinds.ip.json") as handle:
        [shown] = [item for item in json.load(handle) if item["ifname"] == "vx0"]
    data = shown["linkinfo"]["info_data"]
    vx0 = links[b"vx0"]
    assert (vx0.value("vni"), vx0.value("tunnel_port")) == (data["id"], data["port"]) == (42, 4789)
    assert vx0.value("tunnel_link") is None and vx0.value("tunnel_remote") is None  # made without dev or group
    # Other kinds' IFLA_INFO_DATA is not read.
    assert links[b"mv0"].value("vni") is None and links[b"br0"].value("tunnel_port") is None


def test_vxlan_with_ipv6_group_local_and_underlay() -> None:
    group = socket.inet_pton(socket.AF_INET6, "ff05::100")
    local = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    data = (attr(vxlan.IFLA_VXLAN_ID, u32(7)) + attr(vxlan.IFLA_VXLAN_GROUP6, group)
            + attr(vxlan.IFLA_VXLAN_LINK, u32(12)) + attr(vxlan.IFLA_VXLAN_LOCAL6, local)
            + attr(vxlan.IFLA_VXLAN_PORT, be16(8472)))
    [link] = parse(link_message(9, attr(netlink.IFLA_IFNAME, b"vx6\0"), linkinfo(b"vxlan", data),
                                attr(netlink.IFLA_LINK_NETNSID, struct.pack("=i", 3))))
    assert tuple(map(link.value, ("vni", "tunnel_remote", "tunnel_local", "tunnel_port", "tunnel_link"))) == (
        7, group, local, 8472, 12)
    assert link.link_netnsid == 3
    assert resolve.format_ip(link.value("tunnel_remote")) == "ff05::100"


def test_geneve_has_remote_and_port_but_no_underlay() -> None:
    data = (attr(geneve.IFLA_GENEVE_ID, u32(5000)) + attr(geneve.IFLA_GENEVE_REMOTE, bytes([192, 0, 2, 7]))
            + attr(3, b"\x40") + attr(geneve.IFLA_GENEVE_PORT, be16(6081)))  # 3: IFLA_GENEVE_TTL, skipped
    [link] = parse(link_message(4, attr(netlink.IFLA_IFNAME, b"gnv0\0"), linkinfo(b"geneve", data)))
    assert (link.kind, *map(link.value, ("vni", "tunnel_remote", "tunnel_port", "tunnel_link"))) == (
        "geneve", 5000, bytes([192, 0, 2, 7]), 6081, None)


def test_vlan_lower_and_bond_port() -> None:
    vlan_data = attr(1, struct.pack("=H", 100))  # IFLA_VLAN_ID: not a tunnel, not parsed
    messages = (
        link_message(5, attr(netlink.IFLA_IFNAME, b"eth1.100\0"), attr(netlink.IFLA_LINK, u32(3)),
                     linkinfo(b"vlan", vlan_data))
        + link_message(6, attr(netlink.IFLA_IFNAME, b"bond0\0"), linkinfo(b"bond", attr(1, b"\x04")))
        + link_message(7, attr(netlink.IFLA_IFNAME, b"eth2\0"), attr(netlink.IFLA_MASTER, u32(6)),
                       linkinfo(b"", slave_kind=b"bond"))
    )
    vlan, bond, port = parse(messages)
    assert (vlan.kind, vlan.link, vlan.link_netnsid, vlan.value("vni")) == ("vlan", 3, None, None)
    assert bond.kind == "bond" and bond.value("vni") is None
    assert (port.master, port.slave_kind) == (6, "bond")


def test_tunnel_attribute_too_short_for_its_type_is_skipped() -> None:
    data = (struct.pack("=HH", 6, vxlan.IFLA_VXLAN_ID) + b"\x01\x00\x00\x00"  # 2 bytes of a u32
            + attr(vxlan.IFLA_VXLAN_PORT, b"\x12"))
    [link] = parse(link_message(9, attr(netlink.IFLA_IFNAME, b"vx\0"), linkinfo(b"vxlan", data)))
    assert link.value("vni") is None and link.value("tunnel_port") is None


# --- snapshots ----------------------------------------------------------------------------------


def _record(index: int, name: bytes, kind: str, **extra: object) -> LinkRecord:
    """A link record; keywords other than the record's own fields are its kind's data fields."""
    fields = dict(master=None, link=None, link_netnsid=None, slave_kind=None)
    fields.update(extra)
    own = {key: fields.pop(key) for key in ("slave_kind", "master", "link", "link_netnsid")}
    return LinkRecord(index, name, 1, kind, own["slave_kind"], None, 1500, 6,  # type: ignore[arg-type]
                      own["master"], own["link"], own["link_netnsid"], (),  # type: ignore[arg-type]
                      in_order(fields))


def _ns(inode: int, links: Tuple[LinkRecord, ...], root: bool = False) -> NamespaceRecord:
    return NamespaceRecord(Namespace(NamespaceId(4, inode), None, Holders(names=() if root else (f"n{inode}",)),
                                     root=root, own=root), links)


def test_tunnel_fields_survive_a_snapshot_by_name_and_old_snapshots_still_load() -> None:
    vx = _record(6, b"vx0", "vxlan", vni=42, tunnel_local=bytes([10, 0, 0, 1]), tunnel_port=4789, tunnel_link=2)
    tun = TunFile(4321, 7, 100, b"tap0", "qemu-system-x86", "web", None)
    snap = Snapshot((_ns(100, (vx, _record(2, b"eth0", "veth")), root=True),), (), (), (), "pid 1", (),
                    tun_files=(tun,))
    text = snapshot_io.dumps(snap)
    data = json.loads(text)
    assert data["snapshot_version"] == 1
    assert data["namespaces"][0]["links"][0][12] == {"vni": 42, "tunnel_local": "0a000001", "tunnel_port": 4789,
                                                     "tunnel_link": 2}
    assert len(data["namespaces"][0]["links"][1]) == 12  # nothing named: the old shape
    assert snapshot_io.loads(text) == snap
    del data["tun_files"]
    data["namespaces"][0]["links"][0][12]["from_the_future"] = 1
    loaded = snapshot_io.loads(json.dumps(data))
    assert loaded.tun_files == () and loaded.namespaces[0].links[0] == vx
    data["namespaces"][0]["links"][0][12]["vni"] = -1
    with pytest.raises(ValueError):
        snapshot_io.loads(json.dumps(data))


# --- proving lower devices -------------------------------------------------------------------------


def _with_lower(world: World, child: int, parent: int, parent_index: int, kind: str = "macvlan",
                nsid: object = "assign") -> Tuple[Snapshot, int]:
    """The world's snapshot plus a ``kind`` device in ``child`` on ``parent_index`` in ``parent``."""
    index = world.add(child, b"mv0", kind)
    snap = world.snapshot()
    netnsid = world.assign(child, parent) if nsid == "assign" else nsid
    record = LinkRecord(index, b"mv0", 1, kind, None, None, 1500, 6, None, parent_index, netnsid, ())  # type: ignore[arg-type]
    namespaces = tuple(ns._replace(links=tuple(record if link.ifindex == index else link for link in ns.links))
                       if ns.inode == child else ns for ns in snap.namespaces)
    return snap._replace(namespaces=namespaces), index


def _decoyed(decoys: int) -> Tuple[World, int, int, int]:
    """A parent namespace whose ifindex 2 is a veth end, and ``decoys`` namespaces whose ifindex 2
    is one too; the child is wired to the root only."""
    world = World()
    parent, child = world.namespace(), world.namespace()
    (_, parent_index), _ = world.veth(parent, world.root)
    world.veth(child, world.root)
    for _ in range(decoys):
        world.veth(world.namespace(), world.root)
    return world, parent, child, parent_index


def _lower(topology: Topology, child: int, index: int) -> Tuple[object, ...]:
    [relation] = [r for r in topology.relations if r.kind in ("lower", "underlay")
                  and r.source.netns.inode == child and r.source.ifindex == index]
    return (None if relation.target is None else (relation.target.netns.inode, relation.target.ifindex),
            relation.reason)


@pytest.mark.parametrize("decoys", [0, 2, 12])
def test_cross_namespace_lower_is_proven_by_the_devices_own_namespace(decoys: int) -> None:
    world, parent, child, parent_index = _decoyed(decoys)
    snap, index = _with_lower(world, child, parent, parent_index)
    answered, asked = world.ask_all(snap)
    topology = resolve.resolve(answered)
    assert _lower(topology, child, index) == ((parent, parent_index), None)
    # The veth pairs are exactly what they were.
    assert {frozenset(((p.a.netns.inode, p.a.ifindex), (p.b.netns.inode, p.b.ifindex)))
            for p in topology.pairs} == world.truth
    # Only the child's table says what its nsid means; the questions about it ask the child.
    # (RTM_GETNSID with NETNSA_FD of a candidate, or through a hub whose table is known.)
    lower_questions = [q for q in asked if isinstance(q, (FdQuestion, ViaQuestion)) and q.asker == child]
    assert any(q.target == parent if isinstance(q, FdQuestion) else True for q in lower_questions)
    if decoys > 4:
        # Many candidates: a hub narrows them first, not one question per candidate.
        assert any(isinstance(q, ViaQuestion) for q in lower_questions)
        assert len(lower_questions) <= 3


def test_lower_unproven_without_answers_and_never_by_ifindex_alone() -> None:
    world, parent, child, parent_index = _decoyed(1)
    snap, index = _with_lower(world, child, parent, parent_index)
    # No question answered: the parent and the decoy both hold the ifindex; neither is proven.
    target, reason = _lower(resolve.resolve(snap), child, index)
    assert target is None and reason == "unproven"
    # Even with a single candidate.
    world, parent, child, parent_index = _decoyed(0)
    snap, index = _with_lower(world, child, parent, parent_index)
    assert _lower(resolve.resolve(snap), child, index) == (None, "unproven")


def test_lower_whose_namespace_lacks_the_ifindex_is_missing() -> None:
    world, parent, child, _parent_index = _decoyed(0)
    snap, index = _with_lower(world, child, parent, 77)
    answered, _asked = world.ask_all(snap)
    target, reason = _lower(resolve.resolve(answered), child, index)
    assert target is None and reason in ("netns-unreachable", "missing")


def test_lower_in_an_unreadable_namespace() -> None:
    world, parent, child, parent_index = _decoyed(0)
    world.unreadable.add(parent)
    snap, index = _with_lower(world, child, parent, parent_index)
    answered, _asked = world.ask_all(snap)
    target, reason = _lower(resolve.resolve(answered), child, index)
    assert target is None and reason == "netns-unreachable"


def test_lower_nsid_unassigned_and_gone() -> None:
    world, parent, child, parent_index = _decoyed(0)
    snap, index = _with_lower(world, child, parent, parent_index, nsid=-1)
    assert _lower(resolve.resolve(snap), child, index) == (None, "nsid-unassigned")
    snap, index = _with_lower(world, child, parent, 0, kind="vlan", nsid=None)
    assert _lower(resolve.resolve(snap), child, index) == (None, "gone")


def test_same_namespace_lower_master_and_underlay_need_no_question() -> None:
    links = (
        _record(2, b"eth1", None),  # type: ignore[arg-type]
        _record(3, b"eth1.100", "vlan", link=2),
        _record(4, b"br0", "bridge"),
        _record(5, b"vx0", "vxlan", vni=42, tunnel_link=2, tunnel_port=4789, master=4, slave_kind="bridge"),
        _record(6, b"ghost", "macvlan", link=99),
        _record(7, b"gnv0", "geneve", vni=9, tunnel_remote=bytes([192, 0, 2, 9])),
    )
    snap = Snapshot((_ns(100, links, root=True),), (), (), (), "pid 1", ())
    pairing = resolve.Pairing(snap)
    assert pairing.plan() == []
    topology = resolve.resolve(snap, pairing)

    def ref(index: int) -> LinkRef:
        return LinkRef(topology.namespaces[0].id, index)

    assert topology.lower_of(ref(3)) == ref(2)
    assert topology.lower_of(ref(5)) == ref(2)
    assert sorted(topology.uppers_of(ref(2))) == [ref(3), ref(5)]
    assert topology.ports_of(ref(4)) == [ref(5)]
    assert topology.master_of(ref(5)) == topology.link(ref(4))
    [ghost] = [r for r in topology.relations_of(ref(6))]
    assert (ghost.kind, ghost.target, ghost.reason) == ("lower", None, "missing")
    assert [r.kind for r in topology.relations_of(ref(5))] == ["master", "underlay"]
    assert topology.lower_of(ref(7)) is None
    gnv = topology.link(ref(7)).tunnel
    assert gnv is not None and (gnv.kind, gnv.vni, gnv.remote, gnv.local, gnv.port) == ("geneve", 9, "192.0.2.9",
                                                                                          None, None)
    assert list(topology.relations) == sorted(topology.relations, key=lambda r: (r.source.ifindex, r.kind))

    document = json.loads(json_render.render_list(topology))
    assert document["version"] == 1
    [match] = json.loads(json_render.render_show(topology, [(ref(5), None, None)]))["matches"]
    link = match["link"]
    assert link["master"] == "br0" and link["master_link"]["ifname"] == "br0"
    assert link["tunnel"] == {"kind": "vxlan", "vni": 42, "local": None, "remote": None, "port": 4789,
                              "underlay": {"link": {"ifname": "eth1", "ifindex": 2, "kind": None,
                                                    "netns": link["netns"]}, "reason": None, "detail": None}}
    assert link["lower"] is None and link["ports"] == [] and link["tun_holders"] == [] and link["ovs_bridge"] is None
    [bridge] = json.loads(json_render.render_show(topology, [(ref(4), None, None)]))["matches"]
    assert [port["ifname"] for port in bridge["link"]["ports"]] == ["vx0"]
    [ghost_json] = json.loads(json_render.render_show(topology, [(ref(6), None, None)]))["matches"]
    assert ghost_json["link"]["lower"]["link"] is None and ghost_json["link"]["lower"]["reason"] == "missing"
    text = render_show(topology, [(ref(5), None, None)], Style(False))
    assert "master     br0 (ifindex 4, bridge) in root" in text
    assert "underlay   eth1 (ifindex 2) in root" in text and "tunnel     vxlan vni 42 port 4789" in text


# --- tun holders --------------------------------------------------------------------------------


def test_tun_holders_tie_by_name_and_namespace() -> None:
    a = _ns(100, (_record(2, b"tap0", "tun"),), root=True)
    b = _ns(200, (_record(5, b"tap0", "tun"),))
    b = b.with_owners((found("docker", "web-1", "abc", (), "test"),))
    tuns = (TunFile(30, 9, 200, b"tap0", "qemu-system-x86", "guest1", 200),
            TunFile(40, 3, 200, b"tap0", "qemu-system-x86", "guest1", 100),
            TunFile(50, 4, 300, b"tap0", "openvpn", None, 100))  # a namespace not read: nothing to tie
    topology = resolve.resolve(Snapshot((a, b), (), (), (), "pid 1", (), tun_files=tuns))
    root_tap = topology.link(LinkRef(topology.namespaces[0].id, 2))
    other_tap = topology.link(LinkRef(topology.namespaces[1].id, 5))
    assert root_tap.tun_holders == ()
    assert [(h.pid, h.fd, h.vm) for h in other_tap.tun_holders] == [(30, 9, "guest1"), (40, 3, "guest1")]
    # Held from inside a container: named by its owner; from the root namespace: by the process.
    assert other_tap.tun_holders[0].owners[0].name == "web-1"
    assert other_tap.tun_holders[1].owners[0].kind == "process"
    assert other_tap.tun_holders[1].owners[0].name == "pid 40 (qemu-system-x86)"
    text = render_show(topology, [(other_tap.ref, None, None)], Style(False))
    assert "held by    pid 30 (qemu-system-x86) fd 9, vm guest1, docker: web-1" in text


@pytest.mark.parametrize(("argv", "name"), [
    (["/usr/bin/qemu-system-x86_64", "-name", "guest=web,debug-threads=on", "-m", "1024"], "web"),
    (["qemu-kvm", "-name", "plain"], "plain"),
    (["qemu-system-aarch64", "-name", "a,,b,process=x"], "a,b"),
    (["qemu-system-x86_64", "-m", "1024"], None),
    (["openvpn", "-name", "x"], None),
    ([], None),
])
def test_qemu_vm_name(argv: List[str], name: object) -> None:
    assert qemu_vm_name(argv) == name


# --- recorded: kinds this kernel lacks (tests/data/relations_build.py) ----------------------------

RECORDED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "relations.snapshot.json")


def _recorded() -> Tuple[Topology, Dict[str, Link]]:
    with open(RECORDED, encoding="utf-8") as handle:
        topology = resolve.resolve(snapshot_io.loads(handle.read()))
    by_name = {f"{topology.namespace(link.netns).label}/{link.name}": link for link in topology.links.values()}
    return topology, by_name


def test_recorded_file_is_what_the_builder_writes() -> None:
    from recorded import recorded_and_built

    recorded_file, built = recorded_and_built("relations")
    assert recorded_file == built


def test_recorded_bond_vlan_dummy_geneve_and_ovs() -> None:
    topology, by = _recorded()

    def names(refs: Sequence[LinkRef]) -> List[str]:
        return sorted(f"{topology.namespace(r.netns).label}/{topology.link(r).name}" for r in refs)

    assert names(topology.ports_of(by["root/bond0"].ref)) == ["root/eth2", "root/eth3"]
    assert names(topology.ports_of(by["root/br0"].ref)) == ["root/dummy0"]
    assert by["root/dummy0"].kind == "dummy"
    # Open vSwitch: the datapath device and every port on it (internal br-int, a tap).
    assert by["root/ovs-system"].kind == "openvswitch"
    assert names(topology.ports_of(by["root/ovs-system"].ref)) == ["root/br-int", "root/tap1"]
    assert by["root/tap1"].slave_kind == "openvswitch" and by["root/tap1"].ovs_bridge is None
    # vlan on eth1 here, and from the container (IFLA_LINK_NETNSID 0, proven by the recorded answer).
    assert topology.lower_of(by["root/eth1.100"].ref) == by["root/eth1"].ref
    assert topology.lower_of(by["ctr/vlan200"].ref) == by["root/eth1"].ref
    assert names(topology.uppers_of(by["root/eth1"].ref)) == ["ctr/vlan200", "root/eth1.100"]
    tunnel = by["root/gnv0"].tunnel
    assert tunnel is not None and (tunnel.kind, tunnel.vni, tunnel.remote, tunnel.port) == (
        "geneve", 5001, "192.0.2.50", 6081)
    assert topology.lower_of(by["root/gnv0"].ref) is None
    assert all(r.target is not None for r in topology.relations)

    document = json.loads(json_render.render_show(topology, [(by["root/ovs-system"].ref, None, None)]))
    assert [p["ifname"] for p in document["matches"][0]["link"]["ports"]] == ["br-int", "tap1"]


def test_recorded_snapshot_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from vethpeer import cli

    assert cli.main(["--load", RECORDED, "show", "vlan200", "--netns", "ctr"]) == 0
    assert "lower      eth1 (ifindex 2) in root" in capsys.readouterr().out
    assert cli.main(["--load", RECORDED, "show", "--json", "eth2"]) == 0
    [match] = json.loads(capsys.readouterr().out)["matches"]
    assert match["link"]["master"] == "bond0"
    assert match["link"]["master_link"] == {"ifname": "bond0", "ifindex": 4, "kind": "bond"}
    assert cli.main(["--load", RECORDED, "show", "nosuch"]) == 1


def test_many_macvlans_on_the_hosts_nic_cost_linear_questions() -> None:
    """Containers with a macvlan on the host's eth (ifindex 2 in the root namespace), and nothing
    else: every container also has an ifindex 2 (the macvlan itself), so each end has hundreds of
    candidates. The root is asked first; the questions grow with the ends, not ends x candidates."""
    world = World()
    parent_index = world.add(world.root, b"eth1")
    assert parent_index == 2
    containers = [world.namespace() for _ in range(150)]
    snap = world.snapshot()
    namespaces = []
    for record in snap.namespaces:
        if record.inode in containers:
            nsid = world.assign(record.inode, world.root)
            macvlan = LinkRecord(2, b"eth0", 1, "macvlan", None, None, 1500, 6, None, parent_index, nsid, ())
            record = record._replace(links=(*record.links, macvlan))  # noqa: PLW2901
        namespaces.append(record)
    snap = snap._replace(namespaces=tuple(namespaces))
    answered, asked = world.ask_all(snap)
    topology = resolve.resolve(answered)
    lowers = [r for r in topology.relations if r.kind == "lower"]
    assert len(lowers) == len(containers)
    assert all(r.target is not None and (r.target.netns.inode, r.target.ifindex) == (world.root, 2) for r in lowers)
    assert len(asked) <= 2 * len(containers)


def test_show_escapes_names_it_did_not_choose() -> None:
    links = (_record(2, b"br\x1b[31m", "bridge"), _record(3, b"p\xff", "veth", master=2))
    tun = TunFile(30, 9, 100, b"p\xff", "q\x1bemu", "vm\x07", None)
    topology = resolve.resolve(Snapshot((_ns(100, links, root=True),), (), (), (), "pid 1", (), tun_files=(tun,)))
    text = render_show(topology, [(LinkRef(topology.namespaces[0].id, 3), None, None)], Style(False))
    assert "\x1b" not in text and "\x07" not in text and "\udcff" not in text
    assert "master     br\\x1b[31m (ifindex 2, bridge)" in text and "vm vm\\x07" in text


def test_what_a_kind_says_about_a_link_is_shown_everywhere_and_null_elsewhere() -> None:
    """``Link.info`` (from a kind's ``describe``) reaches JSON's ``info``, ``show``, the trace and
    the graph's node; a link whose kind says nothing has ``"info": null``."""
    from topo import Builder
    from vethpeer import graph as graph_lib
    from vethpeer import trace as trace_lib
    from vethpeer.render import trace as trace_render

    builder = Builder()
    root = builder.ns(None, root=True)
    lower = builder.link(root, "eth0", None)
    described = builder.link(root, "ipv0", "ipvlan")
    builder.links[described] = builder.links[described]._replace(info=(("mode", "l3s"), ("flags", "private")))
    builder.relate("lower", described, lower)
    topology = builder.topology()
    [match] = json.loads(json_render.render_show(topology, [(described, None, None)]))["matches"]
    assert match["link"]["info"] == {"mode": "l3s", "flags": "private"}
    [plain] = json.loads(json_render.render_show(topology, [(lower, None, None)]))["matches"]
    assert plain["link"]["info"] is None
    shown = render_show(topology, [(described, None, None)], Style(False))
    assert re.search(r"\n  ipvlan +mode l3s flags private\n", shown), shown
    [node] = [node for node in graph_lib.build(topology).nodes if node.ref == described]
    assert "mode l3s flags private" in node.detail
    text = trace_render.render_text(topology, [trace_lib.trace(topology, described)], Style(False))
    assert "ipvlan mode l3s flags private" in text
