"""Owners on the command line, from a recorded snapshot (no root needed): selectors for --netns,
one table when many interfaces share a name, owners in JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Tuple

import pytest

from topo import found
from vethpeer import cli, snapshot
from vethpeer.owners import Owner

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "host.snapshot.json"

WEB = found("docker", "web-1", "237c0d292145" + "a" * 52, (("project", "shop"), ("service", "web")),
            "config.v2.json SandboxKey")
SIDE = found("docker", "web-1-side", "237c0d29ffff" + "b" * 52, (), "hostconfig.json NetworkMode")
POD = found("pod", "default/nginx-7d9", "0c1d-uid", (("namespace", "default"),), "containerd spec")


@pytest.fixture
def owned(tmp_path: Path) -> str:
    """The recorded host, with a container's two owners on the process-held namespace and a pod
    on the qdhcp one."""
    snap = snapshot.loads(FIXTURE.read_text(encoding="utf-8"))
    records = []
    for record in snap.namespaces:
        ns = record.namespace
        owners: Tuple[Owner, ...] = ns.owners
        if ns.pids and not ns.root and not ns.names:
            owners = (WEB, SIDE)
        elif any(name.startswith("vpfx-a0") for name in ns.names):
            owners = (POD,)
        records.append(record.with_owners(owners))
    path = tmp_path / "owned.json"
    path.write_text(snapshot.dumps(snap._replace(namespaces=tuple(records))), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], path: str, *argv: str) -> Tuple[int, str, str]:
    code = cli.main(["--load", path, *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("spec", ["docker:web-1", "docker:web-1-side", "docker:237c0d292145", "web-1",
                                  "237c0d292145" + "a" * 52])
def test_netns_selects_a_namespace_by_its_owner(capsys: pytest.CaptureFixture[str], owned: str, spec: str) -> None:
    code, out, err = run(capsys, owned, "peer", "eth0", "--netns", spec, "--json")
    assert code == 0, err
    [match] = json.loads(out)["matches"]
    assert match["link"]["netns"]["label"] == "docker: web-1"
    assert [o["name"] for o in match["link"]["netns"]["owners"]] == ["web-1", "web-1-side"]
    assert match["link"]["netns"]["owners"][0]["project"] == "shop"
    assert match["peer"]["ifname"] == "vethc0ffee"


def test_pod_selector(capsys: pytest.CaptureFixture[str], owned: str) -> None:
    code, out, err = run(capsys, owned, "namespaces", "--json")
    assert code == 0
    code, out, err = run(capsys, owned, "peer", "eth1", "--netns", "pod:default/nginx-7d9", "--json")
    assert code == 0, err
    [match] = json.loads(out)["matches"]
    assert match["link"]["netns"]["label"] == "pod default/nginx-7d9"


def test_an_ambiguous_selector_lists_the_candidates_and_exits_2(capsys: pytest.CaptureFixture[str],
                                                                owned: str) -> None:
    code, out, err = run(capsys, owned, "peer", "eth0", "--netns", "docker:237c0d29")
    # Both owners are in one namespace: not ambiguous. Two namespaces with a matching id are.
    assert code == 0, err
    snap = snapshot.loads(Path(owned).read_text(encoding="utf-8"))
    records = [r.with_owners((SIDE,)) if r.namespace.name and r.namespace.name.startswith("vpfx-b0") else r
               for r in snap.namespaces]
    Path(owned).write_text(snapshot.dumps(snap._replace(namespaces=tuple(records))), encoding="utf-8")
    code, out, err = run(capsys, owned, "peer", "eth0", "--netns", "docker:237c0d29")
    assert code == 2 and out == ""
    assert "ambiguous" in err and err.count("docker: web-1") >= 1 and err.count("\n") == 1


def test_an_unknown_owner_exits_2_naming_the_forms(capsys: pytest.CaptureFixture[str], owned: str) -> None:
    code, _out, err = run(capsys, owned, "peer", "eth0", "--netns", "docker:nope")
    assert code == 2 and "docker: web-1" in err
    code, _out, err = run(capsys, owned, "peer", "eth0", "--netns", "no-such-thing")
    assert code == 2 and "docker:NAME" in err


def test_many_matches_are_one_table(capsys: pytest.CaptureFixture[str], owned: str) -> None:
    code, out, _err = run(capsys, owned, "peer", "eth0")
    assert code == 0
    assert out.count("IFINDEX  PEER NETNS") == 1, out  # one table, not one per match
    [row] = [line for line in out.splitlines() if "vethc0ffee" in line]
    assert row.startswith("docker: web-1") and "brqfabc7ead-3c" in row
    assert "1 more interface of that name with no peer: root" in out


def test_neutron_ports_and_holder_commands(capsys: pytest.CaptureFixture[str], owned: str) -> None:
    """On a Neutron node (a namespace owned by Neutron), an interface named after a port says which
    port it is; every holder pid shown carries its command name."""
    snap = snapshot.loads(Path(owned).read_text(encoding="utf-8"))
    qdhcp = found("neutron", "qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc", "fabc7ead-3c4d-4d5e-9f00-123456789abc",
                  (("role", "dhcp"), ("network", "fabc7ead-3c4d-4d5e-9f00-123456789abc")), "netns name")
    records = tuple(r.with_owners((qdhcp,)) if r.namespace.name and r.namespace.name.startswith("qdhcp-") else r
                    for r in snap.namespaces)
    holder = next(r.namespace for r in snap.namespaces
                  if r.namespace.pids and not r.namespace.root and not r.namespace.names)
    snap = snap._replace(namespaces=records, comms=((holder.pids[0], "nginx"),))
    Path(owned).write_text(snapshot.dumps(snap), encoding="utf-8")
    code, out, err = run(capsys, owned, "peer", "ns-39d60faa-aa", "--json")
    assert code == 0, err
    [match] = json.loads(out)["matches"]
    assert match["link"]["neutron_port"]["id_prefix"] == "39d60faa-aa"
    assert match["peer"]["neutron_port"]["prefix"] == "tap"
    code, out, err = run(capsys, owned, "namespaces")
    assert f"pid {holder.pids[0]} (nginx)" in out
    code, out, err = run(capsys, owned, "namespaces", "--json")
    [entry] = [n for n in json.loads(out)["namespaces"] if n["inode"] == holder.inode]
    assert entry["comms"] == {str(holder.pids[0]): "nginx"}
