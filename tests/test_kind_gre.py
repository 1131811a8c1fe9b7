"""The IP tunnel family (kinds/gre.py: gre, gretap, ip6gre, ipip, sit, ip6tnl), through a recorded
snapshot: this test kernel has none of their modules, so tests/data/gre_build.py lays the devices
out as the kernel sends them and vethpeer's own parser reads them; the CLI loads the file."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

import recorded
from recorded import recorded_and_built
from vethpeer import cli

RECORDED = recorded.path("gre")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Dict[str, Any]:
    code = cli.main(["--load", RECORDED, "--json", *argv])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    return dict(json.loads(out))


def show(capsys: pytest.CaptureFixture[str], name: str) -> Dict[str, Any]:
    [match] = run_json(capsys, "show", name)["matches"]
    return dict(match["link"])


def ends(capsys: pytest.CaptureFixture[str], name: str) -> List[str]:
    [trace] = run_json(capsys, "trace", name)["traces"]
    return [path["end"] for path in trace["paths"]]


def test_recorded_file_is_what_the_builder_writes() -> None:
    recorded_file, built = recorded_and_built("gre")
    assert recorded_file == built


@pytest.mark.parametrize(("name", "kind", "local", "remote"), [
    ("gre1", "gre", "192.0.2.1", "198.51.100.1"),
    ("sit1", "sit", "192.0.2.1", "198.51.100.7"),
    ("ip6gre1", "ip6gre", "2001:db8::1", "2001:db8::2")])
def test_a_bound_tunnel_shows_its_addresses_and_its_underlay(capsys: pytest.CaptureFixture[str], name: str,
                                                              kind: str, local: str, remote: str) -> None:
    tunnel = show(capsys, name)["tunnel"]
    assert (tunnel["kind"], tunnel["local"], tunnel["remote"], tunnel["vni"], tunnel["port"]) == (
        kind, local, remote, None, None)
    assert tunnel["underlay"]["reason"] is None and tunnel["underlay"]["link"]["ifname"] == "eth0"
    assert ends(capsys, name) == ["physical"]


@pytest.mark.parametrize(("name", "kind", "remote"), [
    ("ipip1", "ipip", "203.0.113.9"), ("ip6tnl1", "ip6tnl", "2001:db8::9"), ("gretap1", "gretap", "198.51.100.3")])
def test_an_unbound_tunnel_is_where_the_trace_ends(capsys: pytest.CaptureFixture[str], name: str, kind: str,
                                                   remote: str) -> None:
    tunnel = show(capsys, name)["tunnel"]
    assert (tunnel["kind"], tunnel["remote"], tunnel["underlay"]) == (kind, remote, None)
    assert ends(capsys, name) == ["tunnel"]


def test_a_tunnel_moved_to_another_namespace_keeps_its_underlay_there(capsys: pytest.CaptureFixture[str]) -> None:
    link = show(capsys, "gre-out")
    underlay = link["tunnel"]["underlay"]
    assert underlay["reason"] is None
    assert (underlay["link"]["ifname"], underlay["link"]["netns"]["root"]) == ("eth0", True)
    [eth0] = [match["link"] for match in run_json(capsys, "show", "eth0")["matches"]]
    assert sorted(upper["ifname"] for upper in eth0["uppers"]) == ["gre-out", "gre1", "ip6gre1", "sit1"]
    code = cli.main(["--load", RECORDED, "show", "gre-out"])
    out, _err = capsys.readouterr()
    assert code == 0 and "tunnel     gre local 192.0.2.1 remote 198.51.100.99" in out, out


def test_the_sentence_for_a_tunnel_has_no_peer_reads_right(capsys: pytest.CaptureFixture[str]) -> None:
    [match] = run_json(capsys, "peer", "ipip1")["matches"]
    assert (match["unresolved"], match["detail"]) == (
        "no-peer", "ipip1 is an ipip interface; only veth and netkit interfaces have a peer")
    [match] = run_json(capsys, "peer", "gre1")["matches"]
    assert match["detail"].startswith("gre1 is a gre interface;")
