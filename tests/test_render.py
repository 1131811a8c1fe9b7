"""Renderers without a kernel: escaping, tables, and the JSON contract, on the recorded fixture."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest

from topo import found
from vethpeer import REASONS, resolve, snapshot
from vethpeer.model import Holders, Link, Namespace, NamespaceId, Topology
from vethpeer.render import json as json_render
from vethpeer.render import table as table_render
from vethpeer.render.table import Match
from vethpeer.render.text import Style, escape, table

FIXTURE = Path(__file__).parent / "data" / "host.snapshot.json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

ESC_NAME = "e\x1b[31mred"
BAD_UTF8 = b"o\xff\xfe"
BAD_NAME = BAD_UTF8.decode("utf-8", "surrogateescape")
DHCP_NS = "qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc"
BRIDGE = "brqfabc7ead-3c"
LINK_KEYS = {"ifname", "ifindex", "kind", "mac", "mtu", "state", "master", "addresses", "netns"}


def load_topology() -> Topology:
    return resolve.resolve(snapshot.loads(FIXTURE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology()


def only_link(topology: Topology, name: str) -> Link:
    found = topology.find(name)
    assert len(found) == 1, f"{name!r}: {found}"
    return found[0]


def matches_for(topology: Topology, name: str) -> List[Match]:
    return [(link.ref, topology.peer_of(link.ref), topology.unresolved_of(link.ref))
            for link in topology.find(name)]


def all_outputs(topology: Topology) -> Dict[str, str]:
    """Every rendering of the fixture: tables (plain and coloured), JSON, and peer for every name."""
    outputs = {}
    for enabled in (False, True):
        style = Style(enabled)
        outputs[f"list color={enabled}"] = table_render.render_list(topology, style)
        outputs[f"namespaces color={enabled}"] = table_render.render_namespaces(topology, style)
    outputs["list json"] = json_render.render_list(topology)
    outputs["namespaces json"] = json_render.render_namespaces(topology)
    for name in sorted({link.name for link in topology.links.values()}):
        matches = matches_for(topology, name)
        outputs[f"peer {name!r}"] = table_render.render_peer(topology, matches, Style(False))
        outputs[f"peer {name!r} json"] = json_render.render_peer(topology, matches)
    return outputs


def lines_with(text: str, *needles: str) -> List[str]:
    return [line for line in text.splitlines() if all(needle in line for needle in needles)]


# --- escape ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["eth0", "ns-39d60faa-aa", "a b", "x@if3", "~!#$%^&*()"])
def test_escape_keeps_printable_ascii(name: str) -> None:
    assert escape(name) == name


def test_escape_esc() -> None:
    assert escape(ESC_NAME) == "e\\x1b[31mred"
    assert "\x1b" not in escape(ESC_NAME)


@pytest.mark.parametrize("code", range(0x20))
def test_escape_c0_controls(code: int) -> None:
    assert escape(f"a{chr(code)}b") == f"a\\x{code:02x}b"


def test_escape_del() -> None:
    assert escape("a\x7fb") == "a\\x7fb"


@pytest.mark.parametrize("code", range(0x80, 0xA0))
def test_escape_c1_controls(code: int) -> None:
    # \u, not \x: \xNN above 7f is kept for bytes that were not UTF-8.
    assert escape(chr(code)) == f"\\u{code:04x}"


def test_escape_doubles_backslash() -> None:
    assert escape("a\\b") == "a\\\\b"
    assert escape("\\x1b") == "\\\\x1b"


def test_escape_undecodable_bytes_become_hex() -> None:
    assert escape(BAD_NAME) == "o\\xff\\xfe"


@pytest.mark.parametrize("char", [
    "\u202e", "\u202d", "\u2066", "\u2069", "\u200e", "\u200b", "\u200d", "\ufeff",
])
def test_escape_bidi_and_zero_width(char: str) -> None:
    assert escape(f"a{char}b") == f"a\\u{ord(char):04x}b"


def test_escape_astral_non_printable() -> None:
    assert escape("\U000e0001") == "\\U000e0001"


@pytest.mark.parametrize("name", ["é", "ü-eth", "日本", "ÿ", "Ωmega", "\U0001f600"])
def test_escape_keeps_printable_non_ascii(name: str) -> None:
    assert escape(name) == name


def test_escape_output_is_always_printable() -> None:
    every_code_point = "".join(chr(code) for code in range(0x110000))
    assert escape(every_code_point).isprintable()


TRICKY = [
    "", "a", "\\", "\\\\", "\x1b", "\\x1b", "\\\\x1b", "\udcff", "\\xff", "ÿ", "\xff\udcff",
    "\u200b", "\\u200b", "\u202e", "\\u202e", "\U000e0001", "\\U000e0001", "\x00", "\\x00", "\\0",
    "o\udcff\udcfe", "o\\xff\\xfe", "e\x1b[31mred", "e\\x1b[31mred", "\x7f", "\\x7f", "\udc80", "\\x80",
]


def test_escape_is_unambiguous_on_tricky_inputs() -> None:
    rendered = {escape(text): text for text in TRICKY}
    assert len(rendered) == len(set(TRICKY))


@pytest.mark.parametrize("code", [0x85, 0x9B, 0xA0, 0xAD])
def test_escape_distinguishes_latin1_controls_from_undecodable_bytes(code: int) -> None:
    # "\xc2\x85" (valid UTF-8 for U+0085) and "\x85" (an invalid byte) are different interface names.
    assert escape(chr(code)) != escape(chr(0xDC00 + code))


# --- Style and table -------------------------------------------------------------------------------


STYLE_METHODS = ["bold", "dim", "warn", "good", "accent"]


@pytest.mark.parametrize("method", STYLE_METHODS)
def test_style_disabled_returns_text_unchanged(method: str) -> None:
    assert getattr(Style(False), method)("text") == "text"


@pytest.mark.parametrize("method", STYLE_METHODS)
def test_style_enabled_wraps_in_ansi(method: str) -> None:
    styled = getattr(Style(True), method)("text")
    assert styled.startswith("\x1b[") and styled.endswith("\x1b[0m")
    assert ANSI.sub("", styled) == "text"


def test_style_enabled_leaves_empty_text_alone() -> None:
    assert Style(True).warn("") == ""


def test_table_left_aligns_columns() -> None:
    text = table(["NAME", "KIND"], [["a", "veth"], ["much-longer", "bridge"]], Style(False))
    lines = text.split("\n")
    assert len(lines) == 3
    starts = {line.index(kind) for line, kind in zip(lines, ["KIND", "veth", "bridge"])}
    assert starts == {len("much-longer") + 2}


def test_table_right_aligns_listed_columns() -> None:
    text = table(["IFINDEX", "NAME"], [["1", "lo"], ["1057", "vpfxhid"]], Style(False), right=(0,))
    lines = text.split("\n")
    ends = {line.index(name) for line, name in zip(lines, ["NAME", "lo", "vpfxhid"])}
    assert ends == {len("IFINDEX") + 2}
    assert lines[1].startswith(" " * (len("IFINDEX") - 1) + "1")


def test_table_has_no_trailing_spaces() -> None:
    text = table(["A", "LAST"], [["long-cell", ""], ["x", "y"]], Style(False))
    assert all(line == line.rstrip() for line in text.split("\n"))


def test_table_plain_has_no_ansi() -> None:
    text = table(["A", "B"], [["x", "y"]], Style(False), styles=("accent", "warn"))
    assert "\x1b" not in text


def test_table_colour_does_not_disturb_padding() -> None:
    headers = ["NETNS", "IFNAME", "IFINDEX", "LAST"]
    rows = [["root", "vpfxup", "1056", "-"], ["vpfx-node", "tap39d60faa-aa", "3", "brq"], ["x", "", "", ""]]
    args: Dict[str, Any] = {"right": (2,), "styles": ("warn", "accent", "dim", "good")}
    plain = table(headers, rows, Style(False), **args)
    colored = table(headers, rows, Style(True), **args)
    assert "\x1b[" in colored
    # Colour codes wrap cells after padding: only trailing blanks (inside a code) may differ.
    assert [line.rstrip() for line in ANSI.sub("", colored).split("\n")] == plain.split("\n")


@pytest.mark.parametrize("render", [table_render.render_list, table_render.render_namespaces])
def test_fixture_tables_identical_once_colour_is_removed(
        topology: Topology, render: Callable[[Topology, Style], str]) -> None:
    colored = render(topology, Style(True))
    assert "\x1b[" in colored
    assert ANSI.sub("", colored) == render(topology, Style(False))


# --- table renderers on the fixture ----------------------------------------------------------------


def test_fixture_resolves_known_pairs(topology: Topology) -> None:
    # ns/tap, uplink/vpfxup, eth0/vethc0ffee, three eth1 pairs, the same-namespace escape pair
    assert len(topology.pairs) == 7
    assert [item.reason for item in topology.unresolved] == ["peer-netns-unreachable"]
    assert topology.link(topology.unresolved[0].link).name == "vpfxhid"


def test_list_shows_every_pair_on_one_line(topology: Topology) -> None:
    text = table_render.render_list(topology, Style(False))
    for pair in topology.pairs:
        a, b = topology.link(pair.a), topology.link(pair.b)
        found = lines_with(text, escape(a.name), escape(b.name),
                           escape(topology.namespace(pair.a.netns).label),
                           escape(topology.namespace(pair.b.netns).label))
        assert found, f"pair {a.name!r} <-> {b.name!r} missing"


def test_list_shows_known_pairs(topology: Topology) -> None:
    text = table_render.render_list(topology, Style(False))
    assert lines_with(text, DHCP_NS, "ns-39d60faa-aa", "vpfx-node", "tap39d60faa-aa", BRIDGE)
    assert lines_with(text, "uplink", "vpfxup", "root")
    assert lines_with(text, "vethc0ffee", "eth0", "(python)")
    for i in range(3):
        assert lines_with(text, f"vpfx-a{i} ", f"vpfx-b{i} ", "eth1")


def test_list_shows_unresolved_section_after_pairs(topology: Topology) -> None:
    text = table_render.render_list(topology, Style(False))
    unresolved = lines_with(text, "vpfxhid", "peer-netns-unreachable")
    assert len(unresolved) == 1
    assert text.index("vpfxhid") > text.index("vpfxup")
    assert "vpfxhid" not in text[: text.index("vethc0ffee")]


def test_list_escapes_hostile_names(topology: Topology) -> None:
    text = table_render.render_list(topology, Style(False))
    assert lines_with(text, "vpfx-esc", escape(ESC_NAME), escape(BAD_NAME))
    assert escape(BAD_NAME) == "o\\xff\\xfe"


def test_no_raw_control_or_undecodable_characters_in_any_output(topology: Topology) -> None:
    for what, output in all_outputs(topology).items():
        text = ANSI.sub("", output) if "color=True" in what else output
        assert "\x1b" not in text, what
        assert all(line.isprintable() for line in text.split("\n")), what
        assert "\udcff" not in text and "\xff" not in text, what


def test_peer_of_dhcp_port_shows_tap_and_bridge(topology: Topology) -> None:
    text = table_render.render_peer(topology, matches_for(topology, "ns-39d60faa-aa"), Style(False))
    assert lines_with(text, "link", DHCP_NS, "ns-39d60faa-aa", "10.10.100.2/24", "169.254.169.254/16")
    assert lines_with(text, "peer", "vpfx-node", "tap39d60faa-aa", BRIDGE)


def test_peer_of_unreachable_end_gives_the_reason(topology: Topology) -> None:
    text = table_render.render_peer(topology, matches_for(topology, "vpfxhid"), Style(False))
    assert "peer-netns-unreachable" in text
    assert not [line for line in text.splitlines() if line.startswith("peer  ")]  # no peer row


# --- JSON contract ---------------------------------------------------------------------------------


def check_link_document(doc: Dict[str, Any]) -> None:
    assert doc.keys() >= LINK_KEYS
    assert isinstance(doc["ifname"], str) and isinstance(doc["ifindex"], int)
    assert doc["kind"] is None or isinstance(doc["kind"], str)
    assert doc["mac"] is None or re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2})*", doc["mac"])
    assert isinstance(doc["mtu"], int) and isinstance(doc["state"], str)
    assert doc["master"] is None or isinstance(doc["master"], str)
    assert isinstance(doc["addresses"], list)
    assert all(re.fullmatch(r"[0-9a-fA-F.:]+/\d+", address) for address in doc["addresses"])
    netns = doc["netns"]
    assert {"inode", "name", "root"} <= netns.keys()
    assert isinstance(netns["inode"], int) and isinstance(netns["root"], bool)
    assert netns["name"] is None or isinstance(netns["name"], str)


def test_every_link_document_follows_the_contract(topology: Topology) -> None:
    for ref in topology.links:
        doc = json.loads(json.dumps(json_render.link_json(topology, ref)))
        check_link_document(doc)
        assert doc["ifindex"] == ref.ifindex and doc["netns"]["inode"] == ref.netns.inode


def test_link_document_master_is_a_name_or_null(topology: Topology) -> None:
    tap = only_link(topology, "tap39d60faa-aa")
    port = only_link(topology, "ns-39d60faa-aa")
    assert json_render.link_json(topology, tap.ref)["master"] == BRIDGE
    assert json_render.link_json(topology, port.ref)["master"] is None


def test_link_document_addresses_and_netns(topology: Topology) -> None:
    doc = json_render.link_json(topology, only_link(topology, "ns-39d60faa-aa").ref)
    assert doc["addresses"] == ["10.10.100.2/24", "169.254.169.254/16"]
    assert doc["netns"]["name"] == DHCP_NS and doc["netns"]["root"] is False
    assert doc["kind"] == "veth" and doc["ifindex"] == 2


def test_peer_json_shape(topology: Topology) -> None:
    doc = json.loads(json_render.render_peer(topology, matches_for(topology, "ns-39d60faa-aa")))
    assert doc["version"] == 1
    assert len(doc["matches"]) == 1
    match = doc["matches"][0]
    assert {"link", "peer", "unresolved"} <= match.keys()
    check_link_document(match["link"])
    check_link_document(match["peer"])
    assert match["link"]["ifname"] == "ns-39d60faa-aa"
    assert match["peer"]["ifname"] == "tap39d60faa-aa"
    assert match["peer"]["netns"]["name"] == "vpfx-node"
    assert match["peer"]["master"] == BRIDGE
    assert match["unresolved"] is None


def test_peer_json_for_unresolved_end(topology: Topology) -> None:
    doc = json.loads(json_render.render_peer(topology, matches_for(topology, "vpfxhid")))
    match = doc["matches"][0]
    assert match["peer"] is None
    assert match["unresolved"] == "peer-netns-unreachable"
    assert match["unresolved"] in REASONS
    assert match["link"]["netns"]["root"] is True


def test_peer_json_with_no_matches(topology: Topology) -> None:
    doc = json.loads(json_render.render_peer(topology, []))
    assert doc["version"] == 1 and doc["matches"] == []


def test_list_json_shape(topology: Topology) -> None:
    doc = json.loads(json_render.render_list(topology))
    assert doc["version"] == 1
    assert isinstance(doc["warnings"], list)
    assert len(doc["pairs"]) == len(topology.pairs)
    for pair in doc["pairs"]:
        assert {"a", "b"} <= pair.keys()
        check_link_document(pair["a"])
        check_link_document(pair["b"])
    assert len(doc["unresolved"]) == len(topology.unresolved)
    for item in doc["unresolved"]:
        assert {"link", "reason"} <= item.keys()
        check_link_document(item["link"])
        assert item["reason"] in REASONS


def test_list_json_pairs_are_the_topology_pairs(topology: Topology) -> None:
    doc = json.loads(json_render.render_list(topology))

    def key(link: Dict[str, Any]) -> Tuple[int, int]:
        return link["netns"]["inode"], link["ifindex"]

    got = {frozenset((key(pair["a"]), key(pair["b"]))) for pair in doc["pairs"]}
    want = {frozenset(((p.a.netns.inode, p.a.ifindex), (p.b.netns.inode, p.b.ifindex)))
            for p in topology.pairs}
    assert got == want


def test_list_json_unresolved_entry(topology: Topology) -> None:
    doc = json.loads(json_render.render_list(topology))
    (item,) = doc["unresolved"]
    assert item["link"]["ifname"] == "vpfxhid"
    assert item["reason"] == "peer-netns-unreachable"


def test_namespaces_json_shape(topology: Topology) -> None:
    doc = json.loads(json_render.render_namespaces(topology))
    assert doc["version"] == 1
    required = {"inode", "dev", "cookie", "name", "root", "paths", "pids", "links"}
    assert len(doc["namespaces"]) == len(topology.namespaces)
    for entry in doc["namespaces"]:
        assert required <= entry.keys()
        assert isinstance(entry["inode"], int) and isinstance(entry["dev"], int)
        assert isinstance(entry["paths"], list) and isinstance(entry["pids"], list)
    assert [entry["root"] for entry in doc["namespaces"]].count(True) == 1


def test_namespaces_json_matches_snapshot_records() -> None:
    snap = snapshot.loads(FIXTURE.read_text(encoding="utf-8"))
    doc = json.loads(json_render.render_namespaces(resolve.resolve(snap)))
    by_inode = {entry["inode"]: entry for entry in doc["namespaces"]}
    assert by_inode.keys() == {record.inode for record in snap.namespaces}
    for record in snap.namespaces:
        entry = by_inode[record.inode]
        assert entry["links"] == len(record.links)
        assert entry["pids"] == list(record.namespace.pids)
        assert entry["cookie"] == record.namespace.cookie
        assert entry["name"] == record.namespace.name


def test_namespaces_json_names_and_holders(topology: Topology) -> None:
    doc = json.loads(json_render.render_namespaces(topology))
    names = [entry["name"] for entry in doc["namespaces"]]
    assert DHCP_NS in names and "vpfx-node" in names
    held = [entry for entry in doc["namespaces"] if entry["name"] is None and not entry["root"]]
    assert len(held) == 1 and held[0]["pids"]


def test_json_names_round_trip_exactly(topology: Topology) -> None:
    doc = json.loads(json_render.render_list(topology))
    names = {pair[side]["ifname"] for pair in doc["pairs"] for side in ("a", "b")}
    assert ESC_NAME in names
    assert BAD_NAME in names
    assert BAD_NAME.encode("utf-8", "surrogateescape") == BAD_UTF8
    assert names == {topology.link(ref).name for pair in topology.pairs for ref in pair}


def test_json_output_is_ascii_json_without_control_characters(topology: Topology) -> None:
    for what, text in all_outputs(topology).items():
        if "json" not in what:
            continue
        assert text.endswith("\n") and text.count("\n") == 1, what
        assert text.isascii() and text[:-1].isprintable(), what
        assert json.loads(text)["version"] == 1, what


def test_rendering_twice_is_identical(topology: Topology) -> None:
    assert all_outputs(topology) == all_outputs(topology)


def test_rendering_a_fresh_resolve_is_identical(topology: Topology) -> None:
    assert all_outputs(load_topology()) == all_outputs(topology)


def test_owners_name_namespaces_and_travel_in_json_and_snapshots() -> None:
    """A namespace's best owner is its label; every owner reaches the JSON (namespace objects and
    each LINK's netns, extras as keys of their own) and survives a saved snapshot."""
    import json as std_json

    from vethpeer import resolve as resolve_module
    from vethpeer import snapshot as snapshot_module
    from vethpeer.host.netlink import LinkRecord
    from vethpeer.render import json as json_render
    from vethpeer.snapshot import NamespaceRecord, NsidAnswer, Snapshot

    web = found("docker", "web-1", "237c0d292145" + "0" * 52, (("project", "shop"), ("kind", "x")),
                "config.v2.json SandboxKey")
    pod = found("pod", "default/nginx-7d9", "uid-1", (), "cgroup")

    def veth(index: int, peer: int, nsid: int) -> LinkRecord:
        return LinkRecord(index, b"eth0", 0, "veth", None, None, 1500, 6, None, peer, nsid, ())

    def ns(inode: int, links: tuple, owners: tuple, root: bool = False) -> NamespaceRecord:
        return NamespaceRecord(Namespace(NamespaceId(4, inode), None, Holders(), root=root, own=root, owners=owners),
                               links)

    snapshot = Snapshot((ns(1, (veth(5, 2, 0),), (), root=True), ns(2, (veth(2, 5, 0),), (web, pod))),
                        (NsidAnswer(1, 2, 0), NsidAnswer(2, 1, 0)), (), (), "pid 1", ())
    assert snapshot_module.loads(snapshot_module.dumps(snapshot)) == snapshot
    topology = resolve_module.resolve(snapshot)
    [container] = [n for n in topology.namespaces if not n.root]
    assert container.label == "docker: web-1"
    document = std_json.loads(json_render.render_list(topology))
    [pair] = document["pairs"]
    owners = pair["a"]["netns"]["owners"]
    assert [o["kind"] for o in owners] == ["docker", "pod"]
    assert owners[0]["project"] == "shop" and owners[0]["kind"] == "docker"  # an extra never replaces
    assert pair["a"]["netns"]["label"] == "docker: web-1"
    namespaces = std_json.loads(json_render.render_namespaces(topology))["namespaces"]
    assert [o["name"] for n in namespaces for o in n["owners"]] == ["web-1", "default/nginx-7d9"]


def test_many_matches_answer_in_one_table(topology: Topology) -> None:
    """`peer lo` on a host: one table of the veth ends (none here), the rest summarised in one
    line; `peer eth0`: the container's eth0 row names its peer, its peer's namespace and bridge."""
    out = table_render.render_peer_matches(topology, matches_for(topology, "eth0"), Style(False))
    [row] = lines_with(out, "vethc0ffee")
    assert "brqfabc7ead-3c" in row and "vpfx-node" in row
    assert "1 more interface of that name with no peer: root" in out
    out = table_render.render_peer_matches(topology, matches_for(topology, "lo"), Style(False))
    assert "NETNS" not in out and out.count("\n") == 1
    assert "11 more interfaces" in out


# --- output encodings ------------------------------------------------------------------------------


def test_printable_in_escapes_only_what_the_encoding_cannot_show() -> None:
    from vethpeer.render.text import printable_in

    assert printable_in("漢字-é", "latin-1") == "\\u6f22\\u5b57-é"
    assert printable_in("漢字-é", "ascii") == "\\u6f22\\u5b57-\\u00e9"  # not \\xNN: a raw byte
    assert printable_in("x\U0001f600", "latin-1") == "x\\U0001f600"
    assert printable_in("漢字-é", "utf-8") == "漢字-é"
    assert printable_in("漢字", None) == "漢字"
    assert printable_in("漢字", "no-such-codec") == "\\u6f22\\u5b57"


def test_table_escapes_cells_for_the_encoding_before_aligning() -> None:
    from vethpeer.render.text import Style, table

    text = table(["NAME", "X"], [["漢字", "1"], ["ab", "2"]], Style(False, encoding="ascii"))
    lines = text.splitlines()
    assert lines[1] == "\\u6f22\\u5b57  1"
    assert lines[2].index("2") == lines[1].index("1")  # still aligned after escaping
    text.encode("ascii")


def test_an_empty_host_points_at_the_demo() -> None:
    """A fresh host has nothing to show: the list says where to see what an answer looks like."""
    empty = Topology((), {}, (), (), (), "pid 1")
    text = table_render.render_list(empty, Style(False))
    assert text.startswith("No veth pairs found.") and "vethpeer demo" in text
    with_unresolved = table_render.render_list(load_topology(), Style(False))
    assert "vethpeer demo" not in with_unresolved
    cut = table_render.render_list(empty, Style(False), unread_hint="1 namespace could be read; 3 could not")
    assert "No veth pairs found" not in cut and "vethpeer demo" not in cut and "3 could not" in cut


def test_table_aligns_by_terminal_columns() -> None:
    """Before: widths were counted in characters, so a column after a wide name was shifted."""
    from vethpeer.render.text import columns

    text = table(["NAME", "NEXT"], [["漢字", "a"], ["e\u0301x", "b"], ["plain", "c"]], Style(False))
    starts = [columns(line[: line.index(last)]) for line, last in zip(text.splitlines()[1:], "abc")]
    assert starts == [7, 7, 7], text
