"""``trace`` and ``graph`` on real namespaces (root): the qdhcp picture traced out to its bridge and to
a veth standing in for the physical uplink.

A test cannot make a NIC (this kernel has no dummy either, and every device rtnetlink makes reports
an IFLA_INFO_KIND, which is exactly what ``is_physical`` looks for), and must never use the host's
own. So the uplink is a veth ``<prefix>upl`` on the bridge whose peer sits in a "wire" namespace,
and the test names it through ``trace``'s ``is_exit`` hook. Without the hook the same walk must end
"inside": by kernel evidence nothing here leaves the host, and the test checks that too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Dict, List, Tuple

import pytest

import vethpeer
from lab import Lab
from vethpeer.model import LinkRef, Namespace, Topology
from vethpeer.trace import trace

pytestmark = pytest.mark.live

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def ns_named(topology: Topology, name: str) -> Namespace:
    (ns,) = [ns for ns in topology.namespaces if name in ns.names]
    return ns


def only(topology: Topology, ifname: str, ns: Namespace) -> LinkRef:
    (link,) = topology.find(ifname, ns.id)
    return link.ref


def build(lab: Lab) -> Dict[str, str]:
    node = lab.netns("node")
    qdhcp = lab.netns("qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc")
    container = lab.netns("ct")
    wire = lab.netns("wire")
    names = {"node": node, "qdhcp": qdhcp, "ct": container, "wire": wire,
             "bridge": lab.link_name("brq"), "tap": lab.link_name("tap"), "port": lab.link_name("ns"),
             "ctport": lab.link_name("vct"), "uplink": lab.link_name("upl")}
    lab.ip("-n", node, "link", "add", names["bridge"], "type", "bridge")
    lab.veth(names["tap"], node, names["port"], qdhcp)
    lab.veth(names["ctport"], node, "eth0", container)
    lab.veth(names["uplink"], node, "wire0", wire)
    for port in ("tap", "ctport", "uplink"):
        lab.ip("-n", node, "link", "set", names[port], "master", names["bridge"])
    return names


def hop_names(topology: Topology, hops: Tuple) -> List[Tuple[str, str]]:  # type: ignore[type-arg]
    return [(topology.link(hop.ref).name, hop.via) for hop in hops]


def test_qdhcp_traced_to_its_bridge_and_the_stand_in_uplink(lab: Lab) -> None:
    names = build(lab)
    topology = vethpeer.scan()
    qdhcp, node = ns_named(topology, names["qdhcp"]), ns_named(topology, names["node"])
    start = only(topology, names["port"], qdhcp)
    uplink = only(topology, names["uplink"], node)
    trunk = [(names["port"], "start"), (names["tap"], "peer"), (names["bridge"], "master")]

    (inside,) = trace(topology, start).paths
    assert inside.end == "inside" and hop_names(topology, inside.hops) == trunk

    result = trace(topology, start, is_exit=lambda link: link.ref == uplink)
    (path,) = result.paths  # the container's port on the same bridge is no way out
    assert path.end == "physical"
    assert hop_names(topology, path.hops) == [*trunk, (names["uplink"], "port")]
    assert [hop.ref.netns for hop in path.hops] == [qdhcp.id, node.id, node.id, node.id]
    # everything but the wire namespace's end: the walk stops at the exit
    assert result.reached == 6


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vethpeer", *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1"), check=False)


def test_trace_command_on_the_live_host(lab: Lab) -> None:
    names = build(lab)
    result = run_cli("trace", names["port"], "--netns", names["qdhcp"], "--json")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["traces"]
    (path,) = entry["paths"]
    assert path["end"] == "inside"
    assert [(h["ifname"], h["netns"]["name"]) for h in path["hops"]] == [
        (names["port"], names["qdhcp"]), (names["tap"], names["node"]), (names["bridge"], names["node"])]
    text = run_cli("trace", names["port"], "--netns", names["qdhcp"])
    assert text.returncode == 0
    assert text.stdout.startswith(f"{names['port']} ({names['qdhcp']}) \u21c4 {names['tap']} ({names['node']}) "
                                  f"\u2192 {names['bridge']} (bridge) (stays inside this host)")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_of_a_namespace_on_the_live_host(lab: Lab) -> None:
    names = build(lab)
    result = run_cli("graph", "--netns", names["node"], "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {c["label"] for c in document["namespaces"]} == {names[k] for k in ("node", "qdhcp", "ct", "wire")}
    by_id = {n["id"]: n for n in document["nodes"]}
    edges = {(by_id[e["source"]]["name"], by_id[e["target"]]["name"], e["kind"]) for e in document["edges"]}
    for port in ("tap", "ctport", "uplink"):
        assert (names[port], names["bridge"], "master") in edges
    assert any({a, b} == {names["tap"], names["port"]} and kind == "veth" for a, b, kind in edges)
    dot = run_cli("graph", "--netns", names["node"])
    drawn = subprocess.run(["dot", "-Tsvg"], input=dot.stdout, capture_output=True, text=True, check=False)
    assert drawn.returncode == 0 and drawn.stderr == "" and names["bridge"] in drawn.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_demo_draws_itself(guard: None) -> None:
    """`vethpeer demo --graph dot` (how docs/demo.svg is made): the qdhcp port, its tap on the brq
    bridge, the container-like end; valid DOT; and the demo's namespaces are gone afterwards."""
    result = run_cli("demo", "--graph", "dot")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "(demo namespaces removed)"
    for needle in ('label="qdhcp-', 'label="ns-', 'label="tap', 'label="brq', "[dir=none", '[label="master"]'):
        assert needle in result.stdout, needle
    drawn = subprocess.run(["dot", "-Tsvg"], input=result.stdout, capture_output=True, text=True, check=False)
    assert drawn.returncode == 0 and drawn.stderr == ""
    assert not [n for n in os.listdir("/run/netns") if n.startswith("vethpeer-demo-")]
