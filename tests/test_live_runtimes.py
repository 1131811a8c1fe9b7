"""Live tests against real container runtimes (Docker, Podman, LXC, systemd-nspawn, containerd+CNI).

tests/runtimes/setup.sh starts them and writes a manifest (what runs where, as each runtime's own
tool reports it); these tests compare one ``vethpeer.scan()`` of the host with it.

Skipped unless the runtimes run: either tests/runtimes/setup.sh was run beforehand (its manifest
exists; the tests then leave the runtimes running), or VETHPEER_RUNTIMES=1 is set, and then the
tests run setup.sh themselves (it installs the Debian packages it needs) and teardown.sh afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import vethpeer
from vethpeer import LinkRef, NamespaceId, Topology

pytestmark = pytest.mark.live

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtimes")
STATE = os.environ.get("VETHPEER_RUNTIMES_STATE", "/run/vethpeer-runtimes")
MANIFEST = os.path.join(STATE, "manifest.json")

Json = Dict[str, Any]

# One case per container setup.sh starts: "runtime:name" (compose ones by service: their names
# depend on the compose version, and the project is skipped where compose cannot be installed).
CASES = [
    "docker:vprt-web1", "docker:vprt-web2", "docker:vprt-usernet", "docker:vprt-side", "docker:vprt-none",
    "docker:vprt-host", "compose:web", "compose:db", "podman:vprt-podman1", "podman:vprt-pc1",
    "lxc:vprt-lxc1", "nspawn:vprt-m1", "containerd:(sandbox)", "containerd:app",
]


def _manifest_current() -> bool:
    check = [sys.executable, os.path.join(HERE, "manifest.py"), "--check", MANIFEST]
    return subprocess.run(check, check=False).returncode == 0


@pytest.fixture(scope="module")
def runtimes() -> Iterator[Json]:
    if os.geteuid() != 0:
        pytest.skip("the runtimes need root")
    started = False
    if os.environ.get("VETHPEER_RUNTIMES") == "1":
        if not _manifest_current():
            subprocess.run([os.path.join(HERE, "setup.sh")], check=True)
            started = True
    elif not os.path.exists(MANIFEST):
        pytest.skip("no runtimes running: run tests/runtimes/setup.sh first, or set VETHPEER_RUNTIMES=1")
    elif not _manifest_current():
        pytest.fail(f"{MANIFEST} names processes that no longer run: run tests/runtimes/setup.sh again")
    try:
        with open(MANIFEST) as f:
            yield json.load(f)
    finally:
        if started:
            subprocess.run([os.path.join(HERE, "teardown.sh")], check=True)


@pytest.fixture(scope="module")
def topology(runtimes: Json) -> Topology:
    return vethpeer.scan(addresses=False)


def container(manifest: Json, case: str) -> Json:
    runtime, name = case.split(":", 1)
    for c in manifest["containers"]:
        if runtime == "compose":
            if c["owner"].get("compose_service") == name:
                return c
        elif c["runtime"] == runtime and c["name"] == name:
            return c
    if runtime == "compose":
        pytest.skip("no compose project (docker-compose was not installable)")
    if case == "podman:vprt-pc1":
        pytest.skip("no podman pod (podman pod create failed in setup.sh)")
    raise AssertionError(f"{case} is not in the manifest")


def namespace_of(manifest: Json, c: Json) -> Tuple[NamespaceId, Json]:
    nid = NamespaceId(c["netns_dev"], c["netns_inode"])
    entry = next(ns for ns in manifest["namespaces"] if (ns["dev"], ns["inode"]) == tuple(nid))
    return nid, entry


@pytest.mark.parametrize("case", CASES)
def test_namespace_found(case: str, runtimes: Json, topology: Topology) -> None:
    c = container(runtimes, case)
    nid, expected = namespace_of(runtimes, c)
    found = {ns.id: ns for ns in topology.namespaces}
    assert nid in found, f"{case}: namespace {nid} (pid {c['pid']}) not found"
    ns = found[nid]
    assert ns.root == expected["root"]
    assert ns.error is None, ns.error
    assert c["pid"] in ns.pids
    assert set(expected["names"]) <= set(ns.names)
    # Docker's SandboxKey is /var/run/docker/netns/<sandbox id[:12]>, and /var/run is /run here.
    assert set(expected["paths"]) <= set(ns.paths), (expected["paths"], ns.paths)


@pytest.mark.parametrize("case", CASES)
def test_veths_paired(case: str, runtimes: Json, topology: Topology) -> None:
    c = container(runtimes, case)
    nid, expected = namespace_of(runtimes, c)
    root = topology.root
    assert root is not None
    for veth in expected["veths"]:
        ref = LinkRef(nid, veth["ifindex"])
        assert topology.link(ref).name == veth["ifname"]
        peer = topology.peer_of(ref)
        assert peer is not None, f"{case}: {veth['ifname']} unpaired: {topology.unresolved_of(ref)}"
        assert peer == LinkRef(root.id, veth["peer_ifindex"])
        assert topology.link(peer).name == veth["peer_ifname"]
        master = topology.master_of(peer)
        assert (master.name if master else None) == veth["peer_master"]
        assert topology.peer_of(peer) == ref


def test_all_veths_of_the_runtimes_paired(runtimes: Json, topology: Topology) -> None:
    """Every host end on a runtime's bridge (and nspawn's ve-) is paired, none left unresolved."""
    bridges = {v["peer_master"] for ns in runtimes["namespaces"] for v in ns["veths"]} - {None}
    root = topology.root
    assert root is not None
    ends: List[LinkRef] = []
    for link in topology.links_in(root.id):
        master = topology.master_of(link.ref)
        if link.kind == "veth" and ((master and master.name in bridges) or link.name.startswith("ve-vprt-")):
            ends.append(link.ref)
    expected = sum(len(ns["veths"]) for ns in runtimes["namespaces"])
    assert len(ends) == expected
    assert all(topology.peer_of(ref) is not None for ref in ends)


# --- OWNERS -----------------------------------------------------------------------------------
# The owners each runtime's own tool reports (manifest "owners": docker inspect, podman inspect,
# lxc-info, the nspawn supervisor, ctr's task spec annotations) must all be among vethpeer's, and
# the selector for each finds that very namespace, from the library and from the command line.
# Kinds in the manifest: docker (name without "/", id, compose_project/compose_service), podman
# (name, id, pod, infra), lxc, machine, pod (name "NAMESPACE/NAME", id = pod uid, containers).
@pytest.mark.parametrize("case", CASES)
def test_owner(case: str, runtimes: Json, topology: Topology) -> None:
    c = container(runtimes, case)
    nid, expected = namespace_of(runtimes, c)
    ns = topology.namespace(nid)
    wanted = sorted((o["kind"], o["name"]) for o in expected["owners"])
    got = {(o.kind, o.name) for o in ns.owners}
    assert set(wanted) <= got, f"{case}: expected owners {wanted}, vethpeer says {sorted(got)}"
    if not ns.root:
        assert ns.label != f"net:[{ns.id.inode}]" and not ns.label.startswith("pid ")


#: manifest owner kind -> selector prefix
_SELECTOR = {"docker": "docker", "podman": "podman", "lxc": "lxc", "machine": "machine", "pod": "pod"}


@pytest.mark.parametrize("case", CASES)
def test_selector_finds_the_namespace(case: str, runtimes: Json, topology: Topology) -> None:
    from vethpeer import query

    c = container(runtimes, case)
    nid, expected = namespace_of(runtimes, c)
    for owner in expected["owners"]:
        prefix = _SELECTOR.get(owner["kind"])
        if prefix is None:
            continue
        spec = f"{prefix}:{owner['name']}"
        assert query.select(topology, spec) == nid, spec
        if owner["kind"] == "docker" and owner.get("id"):
            assert query.select(topology, f"docker:{owner['id'][:12]}") == nid
        if topology.namespace(nid).root:
            continue
        peer = subprocess.run([sys.executable, "-m", "vethpeer", "peer", "lo", "--netns", spec, "--json", "-q"],
                              capture_output=True, text=True, check=False,
                              env=dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(HERE), "..", "src")))
        assert peer.returncode == 0, (spec, peer.stderr)
        [match] = json.loads(peer.stdout)["matches"]
        assert match["link"]["netns"]["inode"] == nid.inode
        assert {(o["kind"], o["name"]) for o in match["link"]["netns"]["owners"]} >= {(owner["kind"], owner["name"])}
