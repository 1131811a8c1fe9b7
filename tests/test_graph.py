"""``graph`` without a kernel: the graph model, narrowing, and every output format.

Every DOT output is parsed by the real Graphviz ``dot`` (and drawn: the SVG's text is compared with
the names put in). Mermaid is checked by a structural validator written from Mermaid's flowchart
grammar, by golden files, and, where ``VETHPEER_MERMAID_CHECK`` names a directory whose
node_modules hold ``mermaid`` and ``jsdom``, by Mermaid's own parser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Set

import pytest

from topo import Builder, neutron_host
from vethpeer import graph as graph_lib
from vethpeer import resolve, snapshot
from vethpeer.model import LinkRef, Topology
from vethpeer.render import graph as graph_render
from vethpeer.render.graph import mermaid
from vethpeer.render.text import escape

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "host.snapshot.json"
GOLDEN = DATA / "graph"
DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's dot is not installed (.ci/run installs the "
                                                     "Debian package graphviz)")

HOSTILE = [
    'quo"te', "back\\slash", "new\nline", "esc\x1b[31m", "bell\x07", "\udcff\udcfebytes", "end", "subgraph",
    "graph", "o--x", "x-->y", "a;b", "#quot;", "&amp;", "<b>", "{x}", "[y]", "|z|", "`tick`", "\u202eevil",
    "\u6f22\u5b57", "%%", "click", "style", "classDef", "a:::b", "-->", "\\N", "\\G", "\\l",
]


def fixture() -> Topology:
    return resolve.resolve(snapshot.loads(FIXTURE.read_text(encoding="utf-8")))


def hostile() -> Topology:
    """Every hostile string as an interface name, a namespace label and an owner."""
    b = Builder()
    root = b.ns(None, root=True)
    bridge = b.link(root, "br\"0\\", "bridge")
    for i, name in enumerate(HOSTILE):
        ns = b.ns(name, owner=("docker", name) if i % 2 else None)
        b.veth(ns, name, root, f"h{i}", b_master=bridge)
    b.dangling(root, "dang\"\\\n")
    b.relate("lower", b.link(root, "mv\"x", "macvlan"), None, "lower-unproven", 'detail "with" \\ quotes\n')
    return b.topology()


def every_topology() -> Dict[str, Topology]:
    return {"fixture": fixture(), "neutron": neutron_host()[0], "hostile": hostile()}


# --- the model --------------------------------------------------------------------------------------


def test_nodes_edges_and_clusters() -> None:
    topology, refs = neutron_host()
    g = graph_lib.build(topology)
    ids = {node.id: node for node in g.nodes}
    assert all(node.name != "lo" for node in g.nodes), "loopbacks are left out"
    kinds = {(e.source, e.target): (e.kind, e.directed) for e in g.edges}
    ns, tap, brq = (graph_lib.link_id(refs[k]) for k in ("ns", "tap", "brq"))
    assert kinds[(ns, tap)] == ("veth", False)  # the end on a bridge second: it lays out to the right
    assert kinds[(tap, brq)] == ("master", True)
    assert kinds[(graph_lib.link_id(refs["vxlan"]), graph_lib.link_id(refs["eth2"]))] == ("underlay", True)
    assert kinds[(graph_lib.link_id(refs["macvlan"]), graph_lib.link_id(refs["eth2"]))] == ("lower", True)
    assert kinds[(graph_lib.link_id(refs["vmtap"]), "p_4242")] == ("tun", True)
    assert ids["p_4242"].name == "guest-1" and ids["p_4242"].kind == "vm"
    assert ids[graph_lib.link_id(refs["eth1"])].physical
    assert [c.label for c in g.clusters] == ["root", "qdhcp-fabc7ead", "docker: web-1"]


def test_unproven_ends_are_stubs() -> None:
    g = graph_lib.build(hostile())
    stubs = [n for n in g.nodes if n.role == "stub"]
    assert sorted(n.kind for n in stubs) == ["lower-unproven", "peer-netns-unreachable"]
    for stub in stubs:
        (edge,) = [e for e in g.edges if e.target == stub.id]
        assert stub.cluster is None and edge.directed


def test_output_is_deterministic() -> None:
    topology, _ = neutron_host()
    shuffled = Topology(tuple(reversed(topology.namespaces)), dict(reversed(list(topology.links.items()))),
                        topology.pairs, topology.unresolved, (), "pid 1", relations=topology.relations)
    for fmt in ("dot", "mermaid", "json"):
        render = graph_render.formats()[fmt].render
        assert render(graph_lib.build(topology)) == render(graph_lib.build(shuffled))


def _names(g: graph_lib.Graph) -> Set[str]:
    return {n.name for n in g.nodes}


def test_narrow_by_netns_keeps_its_neighbours() -> None:
    topology, refs = neutron_host()
    g = graph_lib.narrow(graph_lib.build(topology), netns=refs["ns"].netns)
    assert _names(g) == {"ns-39d60faa-aa", "tap39d60faa-aa"}


def test_narrow_around_component_and_hops() -> None:
    topology, refs = neutron_host()
    full = graph_lib.build(topology)
    component = graph_lib.narrow(full, around=[refs["ns"]])
    assert _names(component) == _names(full)  # everything hangs off the bridge
    one = graph_lib.narrow(full, around=[refs["ns"]], hops=1)
    assert _names(one) == {"ns-39d60faa-aa", "tap39d60faa-aa"}
    two = graph_lib.narrow(full, around=[refs["ns"]], hops=2)
    assert _names(two) == {"ns-39d60faa-aa", "tap39d60faa-aa", "brqfabc7ead-3c"}


def test_narrow_by_kind_keeps_holders_and_stubs_with_their_interface() -> None:
    topology, _ = neutron_host()
    g = graph_lib.narrow(graph_lib.build(topology), kinds=frozenset({"tun", "device"}))
    assert _names(g) == {"eth1", "eth2", "tapvm", "guest-1"}
    assert {e.kind for e in g.edges} == {"tun"}
    h = graph_lib.narrow(graph_lib.build(hostile()), kinds=frozenset({"macvlan"}))
    assert {n.role for n in h.nodes} == {"link", "stub"}


# --- DOT, parsed and drawn by Graphviz ---------------------------------------------------------------


def run_dot(text: str, fmt: str) -> bytes:
    assert DOT is not None
    result = subprocess.run([DOT, f"-T{fmt}"], input=text.encode("ascii"), capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stderr == b"", result.stderr.decode(errors="replace")  # no syntax warning either
    return result.stdout


@needs_dot
@pytest.mark.parametrize("which", ["fixture", "neutron", "hostile"])
def test_dot_parses_and_draws_every_name_as_given(which: str) -> None:
    topology = every_topology()[which]
    g = graph_lib.build(topology)
    text = graph_render.formats()["dot"].render(g)
    assert isinstance(text, str) and text.isascii()
    svg = run_dot(text, "svg")
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    drawn: Dict[str, List[str]] = {}
    clusters: List[str] = []
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        title = group.find("s:title", ns)
        texts = ["".join(t.itertext()) for t in group.iter("{http://www.w3.org/2000/svg}text")]
        if title is not None and group.get("class") == "node":
            drawn[title.text or ""] = texts
        elif group.get("class") == "cluster":
            clusters.append(texts[0])
    for node in g.nodes:
        assert node.id in drawn, node
        assert drawn[node.id][0] == escape(node.name if node.role != "stub" else node.name + "?"), node
    assert clusters == [escape(c.label) for c in g.clusters]
    edges = [group for group in root.iter("{http://www.w3.org/2000/svg}g") if group.get("class") == "edge"]
    assert len(edges) == len(g.edges)


@needs_dot
def test_dot_canon_keeps_cluster_per_namespace() -> None:
    g = graph_lib.build(neutron_host()[0])
    canon = run_dot(graph_render.formats()["dot"].render(g), "canon").decode()
    assert canon.count("subgraph cluster_") == 3
    assert "dir=none" in canon


@needs_dot
def test_png_is_a_png() -> None:
    data = graph_render.formats()["png"].render(graph_lib.build(neutron_host()[0]))
    assert isinstance(data, bytes) and data.startswith(b"\x89PNG\r\n\x1a\n")


def test_svg_without_graphviz_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(graph_render.GraphvizMissing, match="apt install graphviz"):
        graph_render.formats()["svg"].render(graph_lib.build(neutron_host()[0]))


# --- Mermaid ----------------------------------------------------------------------------------------

_ID = r"(?:ns|l|u|r|p)_[0-9_a-z]+"
_LABEL = r'"[A-Za-z0-9 _.,:/@()+=#;<>\-]*"'
_MERMAID_LINES = [
    re.compile(r"flowchart LR"),
    re.compile(rf"  subgraph {_ID} \[{_LABEL}\]"),
    re.compile(r"  end"),
    re.compile(rf" +{_ID}(?:\[{_LABEL}\]|\(\[{_LABEL}\]\)|\[\[{_LABEL}\]\]|\{{\{{{_LABEL}\}}\}})"),
    re.compile(rf"  {_ID} (?:---|-\.-|-->\|[a-z]+\|) {_ID}"),
    re.compile(r"  classDef unproven [a-z:#0-9 ,\-]+"),
    re.compile(rf"  class {_ID}(?:,{_ID})* unproven"),
]
_RESERVED = {"end", "graph", "subgraph", "flowchart", "style", "class", "classDef", "click", "linkStyle"}


def validate_mermaid(text: str) -> None:
    """Every line one of the shapes the renderer may write; labels hold no raw quote, no raw '#'
    outside an entity, only ASCII; ids are declared before use, unique, never reserved words, and
    never start with 'o' or 'x' (Mermaid reads ``--o``/``--x`` as edge heads); subgraphs balance."""
    declared: Set[str] = set()
    depth = 0
    for line in text.splitlines():
        assert any(p.fullmatch(line) for p in _MERMAID_LINES), line
        for label in re.findall(r'"([^"]*)"', line):
            assert re.sub(r"#[0-9a-z]+;", "", label).count("#") == 0, label
            assert "<" not in label.replace("<br/>", "") and ">" not in label.replace("<br/>", ""), label
        ids = re.findall(rf"\b{_ID}\b", re.sub(r'"[^"]*"', '""', line))
        for ident in ids:
            assert ident not in _RESERVED and ident[0] not in "ox", ident
        if line.startswith("  subgraph "):
            depth += 1
            declared.add(ids[0])
        elif line == "  end":
            depth -= 1
        elif re.fullmatch(rf" +{_ID}[\[\(\{{].*", line):
            assert ids[0] not in declared, f"declared twice: {ids[0]}"
            declared.add(ids[0])
        elif " --" in line or " -.-" in line:
            assert ids[0] in declared and ids[-1] in declared, line
        assert depth in (0, 1)
    assert depth == 0
    assert text.isascii()


@pytest.mark.parametrize("which", ["fixture", "neutron", "hostile"])
def test_mermaid_is_valid_and_matches_golden(which: str) -> None:
    text = graph_render.formats()["mermaid"].render(graph_lib.build(every_topology()[which]))
    assert isinstance(text, str)
    validate_mermaid(text)
    golden = GOLDEN / f"{which}.mmd"
    if os.environ.get("VETHPEER_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="ascii")
    assert text == golden.read_text(encoding="ascii")


def test_mermaid_text_encodes_what_could_break_out() -> None:
    assert mermaid.text('a"b#c') == "a#34;b#35;c"
    assert mermaid.label("end") == '"end"'
    assert mermaid.label("\u6f22") == '"#28450;"'
    assert mermaid.label("x\ny") == '"x#92;x0ay"'


def test_the_validator_rejects_what_mermaid_rejects() -> None:
    for bad in ['flowchart LR\n  l_1["a"b"]\n', "flowchart LR\n  end --- l_1\n", 'flowchart LR\n  l_1["#"]\n',
                'flowchart LR\n  subgraph ns_1 ["x"]\n', "flowchart LR\n  l_1 --- l_2\n"]:
        with pytest.raises(AssertionError):
            validate_mermaid(bad)


_MERMAID_DIR = os.environ.get("VETHPEER_MERMAID_CHECK")
_CHECK_JS = """
import { JSDOM } from 'jsdom';
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window; globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
const text = process.argv[2];
try { await mermaid.parse(text); console.log('ok'); }
catch (e) { console.log(String(e.message || e)); process.exit(1); }
"""


@pytest.mark.skipif(not _MERMAID_DIR or shutil.which("node") is None,
                    reason="Mermaid's own parser runs only where VETHPEER_MERMAID_CHECK names a directory with "
                           "node_modules/mermaid and node_modules/jsdom (.ci/run installs them with npm; "
                           "the structural validator and golden files always run)")
@pytest.mark.parametrize("which", ["fixture", "neutron", "hostile"])
def test_mermaid_parses_with_mermaid(which: str, tmp_path: Path) -> None:
    assert _MERMAID_DIR is not None
    script = Path(_MERMAID_DIR) / "vethpeer-check.mjs"
    script.write_text(_CHECK_JS, encoding="utf-8")
    text = graph_render.formats()["mermaid"].render(graph_lib.build(every_topology()[which]))
    result = subprocess.run(["node", str(script), str(text)], capture_output=True, text=True, check=False,
                            cwd=_MERMAID_DIR)
    assert result.stdout.strip() == "ok", result.stdout + result.stderr


# --- JSON -------------------------------------------------------------------------------------------


def test_json_nodes_and_edges_round_trip_names() -> None:
    topology = hostile()
    g = graph_lib.build(topology)
    document = json.loads(graph_render.formats()["json"].render(g))  # type: ignore[arg-type]
    assert document["version"] == 1
    assert {n["name"] for n in document["nodes"]} >= set(HOSTILE)
    ids = {n["id"] for n in document["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in document["edges"])
    assert {c["id"] for c in document["namespaces"]} == {n["namespace"] for n in document["nodes"]} - {None}
    first = document["nodes"][0]
    assert set(first) == {"id", "role", "name", "kind", "namespace", "ifindex", "physical", "detail"}


def test_every_format_renders_every_topology() -> None:
    for name, fmt in graph_render.formats().items():
        if name in ("svg", "png") and DOT is None:
            continue
        for topology in every_topology().values():
            assert fmt.render(graph_lib.build(topology))


def test_link_ids_are_safe() -> None:
    assert re.fullmatch(r"l_[0-9_]+", graph_lib.link_id(LinkRef(*neutron_host()[1]["ns"])))
