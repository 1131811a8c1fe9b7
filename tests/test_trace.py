"""``trace`` without a kernel: hand-built topologies with relations, and the recorded fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Tuple

from topo import Builder, neutron_host
from vethpeer import resolve, snapshot
from vethpeer.edges import is_loopback, is_physical, relations_of
from vethpeer.model import Relation, Topology, TunHolder
from vethpeer.render import trace as trace_render
from vethpeer.render.text import Style
from vethpeer.trace import trace

FIXTURE = Path(__file__).parent / "data" / "host.snapshot.json"


def names(topology: Topology, hops: tuple) -> List[Tuple[str, str]]:  # type: ignore[type-arg]
    return [(topology.link(hop.ref).name, hop.via) for hop in hops]


def fixture() -> Topology:
    return resolve.resolve(snapshot.loads(FIXTURE.read_text(encoding="utf-8")))


# --- what counts as physical, and the relations consumed --------------------------------------------


def test_physical_is_kindless_with_a_hardware_address() -> None:
    topology, refs = neutron_host()
    assert is_physical(topology.link(refs["eth1"]))
    assert not is_physical(topology.link(refs["tap"]))  # a veth has a kind
    assert not is_physical(topology.link(refs["brq"]))
    lo = next(link for link in topology.links.values() if link.name == "lo")
    assert is_loopback(lo) and not is_physical(lo)


def test_relations_are_taken_as_given_when_present() -> None:
    topology, refs = neutron_host()
    assert relations_of(topology) == topology.relations
    assert Relation("lower", refs["macvlan"], refs["eth2"]) in relations_of(topology)


def test_master_relations_derived_when_none_are_given() -> None:
    b = Builder()
    root = b.ns(None, root=True)
    bridge = b.link(root, "br0", "bridge")
    port = b.link(root, "eth1", None, master=bridge)
    topology = b.topology(relations=False)
    assert topology.relations == ()
    assert relations_of(topology) == (Relation("master", port, bridge),)


def test_a_master_that_was_not_read_is_an_unproven_relation() -> None:
    b = Builder()
    root = b.ns(None, root=True)
    port = b.link(root, "eth1", "veth")
    topology = b.topology(relations=False)
    link = topology.links[port]
    topology.links[port] = link._replace(master=99)  # type: ignore[index]
    (relation,) = relations_of(topology)
    assert relation.target is None and relation.reason == "missing"


# --- the walk ---------------------------------------------------------------------------------------


def test_qdhcp_port_reaches_the_physical_uplink_and_forks() -> None:
    topology, refs = neutron_host()
    result = trace(topology, refs["ns"])
    ends = [(path.end, names(topology, path.hops)) for path in result.paths]
    trunk = [("ns-39d60faa-aa", "start"), ("tap39d60faa-aa", "peer"), ("brqfabc7ead-3c", "master")]
    assert ends == [
        ("physical", [*trunk, ("eth1", "port")]),
        ("physical", [*trunk, ("vxlan-7", "port"), ("eth2", "underlay")]),
        ("process", [*trunk, ("tapvm", "port")]),
    ]
    # The container's port on the same bridge leads nowhere further: not a way out.
    assert all(refs["vethweb"] not in [hop.ref for hop in path.hops] for path in result.paths)
    assert result.paths[2].holders == (TunHolder(4242, 17, "qemu-system-x86", "guest-1"),)


def test_macvlan_goes_to_its_lower_device_in_another_namespace() -> None:
    topology, refs = neutron_host()
    (path,) = trace(topology, refs["macvlan"]).paths
    assert (path.end, names(topology, path.hops)) == ("physical", [("mv0", "start"), ("eth2", "lower")])


def test_the_walk_never_goes_up_from_a_lower_device() -> None:
    topology, refs = neutron_host()
    (path,) = trace(topology, refs["eth2"]).paths
    assert names(topology, path.hops) == [("eth2", "start")] and path.end == "physical"


def test_tunnel_without_underlay_ends_as_tunnel() -> None:
    b = Builder()
    root = b.ns(None, root=True)
    vx = b.link(root, "vxlan-9", "vxlan")
    (path,) = trace(b.topology(), vx).paths
    assert path.end == "tunnel"


def test_staying_inside_ends_at_the_bridge() -> None:
    b = Builder()
    root = b.ns(None, root=True)
    a, c = b.ns("a"), b.ns("c")
    bridge = b.link(root, "br0", "bridge")
    start, _ = b.veth(a, "eth0", root, "va", b_master=bridge)
    b.veth(c, "eth0", root, "vc", b_master=bridge)
    b.veth(c, "x", root, "vx", b_master=bridge)
    topology = b.topology()
    result = trace(topology, start)
    (path,) = result.paths
    assert path.end == "inside"
    assert names(topology, path.hops) == [("eth0", "start"), ("va", "peer"), ("br0", "master")]
    assert result.reached == 7


def test_unresolved_peer_and_unproven_master_are_ends_with_reasons() -> None:
    b = Builder()
    root = b.ns(None, root=True)
    lost = b.dangling(root, "vlost")
    b.relate("master", lost, None, "master-unproven", "the master's namespace could not be read")
    topology = b.topology()
    result = trace(topology, lost)
    assert [(p.end, p.step, p.reason) for p in result.paths] == [
        ("unresolved", "peer", "peer-netns-unreachable"), ("unresolved", "master", "master-unproven")]


def test_cycles_terminate() -> None:
    b = Builder()
    root = b.ns(None, root=True)
    bridge = b.link(root, "br0", "bridge")
    # Both ends of one veth on the same bridge: a loop.
    b.veth(root, "l1", root, "l2", a_master=bridge, b_master=bridge)
    uplink = b.link(root, "eth1", None, master=bridge)
    topology = b.topology()
    result = trace(topology, bridge)
    assert [(p.end, topology.link(p.hops[-1].ref).name) for p in result.paths] == [("physical", "eth1")]
    assert result.reached == 4
    assert uplink


def test_is_exit_hook_names_a_stand_in() -> None:
    b = Builder()
    root, other = b.ns(None, root=True), b.ns("wire")
    bridge = b.link(root, "br0", "bridge")
    up, _ = b.veth(root, "up0", other, "wire0", a_master=bridge)
    start, _ = b.veth(b.ns("x"), "eth0", root, "vx", b_master=bridge)
    topology = b.topology()
    assert trace(topology, start).paths[0].end == "inside"
    (path,) = trace(topology, start, is_exit=lambda link: link.ref == up).paths
    assert path.end == "physical" and path.hops[-1].ref == up


def test_a_thousand_ports_stay_linear() -> None:
    b = Builder()
    root = b.ns(None, root=True)
    bridge = b.link(root, "br0", "bridge")
    b.link(root, "eth1", None, master=bridge)
    first = None
    for i in range(1000):
        end, _ = b.veth(b.ns(f"n{i}"), "eth0", root, f"h{i}", b_master=bridge)
        first = first or end
    assert first is not None
    topology = b.topology()
    result = trace(topology, first)
    assert [p.end for p in result.paths] == ["physical"] and result.reached == 2002


# --- rendering --------------------------------------------------------------------------------------


def test_text_shows_the_trunk_once_and_each_fork() -> None:
    topology, refs = neutron_host()
    text = trace_render.render_text(topology, [trace(topology, refs["ns"])], Style(False, "utf-8"))
    lines = text.splitlines()
    assert lines[0] == ("ns-39d60faa-aa (qdhcp-fabc7ead) \u21c4 tap39d60faa-aa (root) \u2192 "
                        "brqfabc7ead-3c (bridge)  (3 ways out)")
    assert lines[1] == "  \u251c\u2192 eth1 (physical)"
    assert lines[2] == "  \u251c\u2192 vxlan-7 (vxlan vni 7 remote 192.0.2.9) \u2192 eth2 (physical)"
    assert lines[3] == "  \u2514\u2192 tapvm (tun)  (held by guest-1)"


def test_text_in_ascii_terminal_uses_ascii_arrows() -> None:
    topology, refs = neutron_host()
    text = trace_render.render_text(topology, [trace(topology, refs["macvlan"])], Style(False, "ascii"))
    assert text == "mv0 (docker: web-1, macvlan) -> eth2 (root, physical)\n"


def test_text_escapes_names() -> None:
    b = Builder()
    root = b.ns(None, root=True)
    evil = b.link(root, "e\x1b[31m\udcff", None)
    text = trace_render.render_text(b.topology(), [trace(b.topology(), evil)], Style(False, "utf-8"))
    assert "\x1b" not in text and "\udcff" not in text
    assert text.startswith("e\\x1b[31m\\xff (root, physical)")


def test_json_hops() -> None:
    topology, refs = neutron_host()
    document = json.loads(trace_render.render_json(topology, [trace(topology, refs["ns"])]))
    assert document["version"] == 1
    (entry,) = document["traces"]
    assert entry["start"]["ifname"] == "ns-39d60faa-aa"
    assert [p["end"] for p in entry["paths"]] == ["physical", "physical", "process"]
    first = entry["paths"][0]
    assert [(h["ifname"], h["via"], h["physical"]) for h in first["hops"]] == [
        ("ns-39d60faa-aa", "start", False), ("tap39d60faa-aa", "peer", False),
        ("brqfabc7ead-3c", "master", False), ("eth1", "port", True)]
    assert first["hops"][1]["netns"]["label"] == "root"
    assert first["unresolved"] is None
    assert entry["paths"][2]["holders"] == [{"pid": 4242, "fd": 17, "comm": "qemu-system-x86", "vm": "guest-1"}]


def test_fixture_qdhcp_stays_inside_its_node() -> None:
    topology = fixture()
    (start,) = topology.find("ns-39d60faa-aa")
    (path,) = trace(topology, start.ref).paths
    assert path.end == "inside"
    assert names(topology, path.hops) == [("ns-39d60faa-aa", "start"), ("tap39d60faa-aa", "peer"),
                                          ("brqfabc7ead-3c", "master")]
