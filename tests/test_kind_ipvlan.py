"""The ipvlan kind (kinds/ipvlan.py), through a recorded snapshot: this test kernel has no ipvlan
module, so tests/data/ipvlan_build.py lays the devices out as the kernel sends them and vethpeer's
own parser reads them; the CLI then loads the file (``--load``) as a user's bug report would be."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Tuple

import pytest

import recorded
from recorded import recorded_and_built
from vethpeer import cli, snapshot

RECORDED = recorded.path("ipvlan")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Tuple[int, str]:
    code = cli.main(["--load", RECORDED, *argv])
    out, err = capsys.readouterr()
    assert err == ""
    return code, out


def show(capsys: pytest.CaptureFixture[str], name: str, netns: str) -> Dict[str, Any]:
    """The LINK ``show --json`` gives for ``name`` in namespace ``netns`` ("root": the root one)."""
    code, out = run(capsys, "--json", "show", name, *(("--netns", netns) if netns != "root" else ()))
    assert code == 0
    [link] = [match["link"] for match in json.loads(out)["matches"]
              if (match["link"]["netns"]["root"] if netns == "root" else match["link"]["netns"]["name"] == netns)]
    return dict(link)


def test_recorded_file_is_what_the_builder_writes() -> None:
    recorded_file, built = recorded_and_built("ipvlan")
    assert recorded_file == built


def test_an_ipvlan_shows_its_mode_flags_and_lower_device_in_another_namespace(
        capsys: pytest.CaptureFixture[str]) -> None:
    link = show(capsys, "eth0", "pod")
    assert (link["kind"], link["info"]) == ("ipvlan", {"mode": "l3s", "flags": "private"})
    lower = link["lower"]
    assert lower["reason"] is None and lower["link"]["ifname"] == "eth0" and lower["link"]["netns"]["root"]
    code, out = run(capsys, "show", "eth0", "--netns", "pod")
    assert code == 0 and re.search(r"\n  lower +eth0 \(ifindex 2\) in root\n", out), out
    assert re.search(r"\n  ipvlan +mode l3s flags private\n", out), out


@pytest.mark.parametrize(("name", "kind", "info"), [
    ("ipvl0", "ipvlan", {"mode": "l2", "flags": "bridge"}),
    ("ipvt0", "ipvtap", {"mode": "l3", "flags": "vepa"})])
def test_every_mode_and_flag_is_named_as_iproute2_names_it(capsys: pytest.CaptureFixture[str], name: str,
                                                           kind: str, info: Dict[str, str]) -> None:
    link = show(capsys, name, "root")
    assert (link["kind"], link["info"]) == (kind, info)
    assert link["lower"]["link"]["ifname"] == "eth0"


def test_the_lower_devices_uppers_and_the_trace_name_them(capsys: pytest.CaptureFixture[str]) -> None:
    eth0 = show(capsys, "eth0", "root")
    assert eth0["info"] is None
    assert sorted(upper["ifname"] for upper in eth0["uppers"]) == ["eth0", "ipvl0", "ipvt0"]
    code, out = run(capsys, "trace", "eth0", "--netns", "pod")
    assert code == 0 and "ipvlan mode l3s flags private" in out, out


def test_a_mode_too_big_for_its_u16_is_refused() -> None:
    with open(RECORDED, encoding="utf-8") as handle:
        text = handle.read()
    assert '"ipvlan_mode":2' in text
    with pytest.raises(ValueError, match="ipvlan mode 70000 out of range"):
        snapshot.check_ranges(snapshot.loads(text.replace('"ipvlan_mode":2', '"ipvlan_mode":70000')))
