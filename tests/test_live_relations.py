"""Live relations (root): bridge ports across namespaces, a macvlan whose parent is in another
namespace, vxlan underlays (same namespace and after a move), a tap held by a process; each
checked in the Topology and in `show --json`.

Everything is built inside namespaces the lab makes (nothing in the root namespace), so removing
the namespaces removes every device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

import pytest

import vethpeer
from lab import Lab
from vethpeer.model import Link, LinkRef, Topology

pytestmark = pytest.mark.live

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _inode(name: str) -> int:
    return os.stat(f"/run/netns/{name}").st_ino


def _link(topology: Topology, netns: str, name: str) -> Link:
    [ns] = [ns for ns in topology.namespaces if ns.id.inode == _inode(netns)]
    [link] = topology.find(name, ns.id)
    return link


def _ifindex(lab: Lab, netns: str, name: str) -> int:
    [item] = [item for item in lab.links(netns) if item["ifname"] == name]
    return int(item["ifindex"])


def _show(*args: str) -> Dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "vethpeer", "show", *args, "--json"], capture_output=True,
                            env=dict(os.environ, PYTHONPATH=SRC), check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    document: Dict[str, Any] = json.loads(result.stdout)
    return document


def _where(ref: Optional[Dict[str, Any]]) -> Optional[tuple]:
    return None if ref is None else (ref["netns"]["name"], ref["ifname"], ref["ifindex"])


def test_bridge_ports_across_namespaces(lab: Lab) -> None:
    hub = lab.netns("hub")
    lab.ip("-n", hub, "link", "add", "br0", "type", "bridge")
    others = [lab.netns(f"c{i}") for i in range(3)]
    for i, other in enumerate(others):
        lab.veth(f"p{i}", hub, "eth0", other)
        lab.ip("-n", hub, "link", "set", f"p{i}", "master", "br0")
    topology = vethpeer.scan()
    bridge = _link(topology, hub, "br0")
    ports = topology.ports_of(bridge.ref)
    assert sorted(topology.link(ref).name for ref in ports) == ["p0", "p1", "p2"]
    for i, other in enumerate(others):
        port = _link(topology, hub, f"p{i}")
        [master] = [r for r in topology.relations_of(port.ref) if r.kind == "master"]
        assert master.target == bridge.ref and master.source == port.ref
        assert topology.peer_of(port.ref) == _link(topology, other, "eth0").ref
    assert list(topology.relations) == sorted(topology.relations, key=lambda r: (
        [ns.id for ns in topology.namespaces].index(r.source.netns), r.source.ifindex, r.kind))

    [match] = _show("br0", "--netns", hub)["matches"]
    # Ports and master are in the link's own namespace: their refs carry no namespace object.
    assert match["link"]["netns"]["name"] == hub
    assert sorted((port["ifname"], port["ifindex"]) for port in match["link"]["ports"]) == [
        (f"p{i}", _ifindex(lab, hub, f"p{i}")) for i in range(3)]
    [port_match] = _show("p1", "--netns", hub)["matches"]
    assert port_match["link"]["master_link"] == {"ifname": "br0", "ifindex": _ifindex(lab, hub, "br0"),
                                                 "kind": "bridge"}
    assert port_match["link"]["master"] == "br0"
    assert _where(port_match["peer"]) == (others[1], "eth0", _ifindex(lab, others[1], "eth0"))


@pytest.mark.parametrize("linked", [True, False], ids=["veth-between", "nothing-between"])
def test_macvlan_parent_in_another_namespace(lab: Lab, linked: bool) -> None:
    """With a veth between the two namespaces, pairing already learned the child's id for the
    parent; without, the parent must be found by asking (through a hub, then RTM_GETNSID)."""
    parent_ns = lab.netns("par")
    child_ns = lab.netns("chi")
    sink = lab.netns("sink")
    # Decoys: namespaces that also hold an interface at the parent's ifindex (2, the first veth
    # end in a fresh namespace). Only the nsid answer can tell them apart.
    if linked:
        lab.veth("up0", parent_ns, "eth0", child_ns)
    else:
        lab.veth("up0", parent_ns, "pz", sink)
        lab.veth("eth0", child_ns, "cz", sink)
    decoys = [lab.netns(f"d{i}") for i in range(6)]
    for i, decoy in enumerate(decoys):
        lab.veth("eth0", decoy, f"y{i}", sink)
    lab.ip("-n", parent_ns, "link", "add", "mv0", "link", "up0", "type", "macvlan", "mode", "bridge")
    lab.ip("-n", parent_ns, "link", "set", "mv0", "netns", child_ns)
    [moved] = [item for item in lab.links(child_ns) if item["ifname"] == "mv0"]
    assert "link_netnsid" in moved, moved  # the kernel reports the parent as elsewhere
    parent_index = _ifindex(lab, parent_ns, "up0")
    assert all(_ifindex(lab, decoy, "eth0") == parent_index for decoy in decoys)

    topology = vethpeer.scan()
    macvlan = _link(topology, child_ns, "mv0")
    parent = _link(topology, parent_ns, "up0")
    assert topology.lower_of(macvlan.ref) == parent.ref
    assert topology.uppers_of(parent.ref) == [macvlan.ref]

    [match] = _show("mv0", "--netns", child_ns)["matches"]
    lower = match["link"]["lower"]
    assert lower["reason"] is None and _where(lower["link"]) == (parent_ns, "up0", parent_index)
    [match] = _show("up0", "--netns", parent_ns)["matches"]
    assert [_where(u) for u in match["link"]["uppers"]] == [(child_ns, "mv0", _ifindex(lab, child_ns, "mv0"))]


def test_macvlan_in_the_same_namespace(lab: Lab) -> None:
    ns = lab.netns("same")
    other = lab.netns("oth")
    lab.veth("up0", ns, "eth0", other)
    lab.ip("-n", ns, "link", "add", "mv0", "link", "up0", "type", "macvlan")
    topology = vethpeer.scan()
    assert topology.lower_of(_link(topology, ns, "mv0").ref) == _link(topology, ns, "up0").ref


def test_vxlan_underlay_here_and_after_a_move(lab: Lab) -> None:
    ns = lab.netns("vx")
    moved_to = lab.netns("vxm")
    far = lab.netns("far")
    lab.veth("u0", ns, "eth0", far)
    lab.ip("-n", ns, "addr", "add", "10.77.0.1/24", "dev", "u0")
    lab.ip("-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "42", "dev", "u0", "local", "10.77.0.1",
           "group", "239.1.1.1", "dstport", "4789")
    lab.ip("-n", ns, "link", "add", "vx1", "type", "vxlan", "id", "43", "dev", "u0", "remote", "10.77.0.9",
           "dstport", "8472")
    lab.ip("-n", ns, "link", "set", "vx1", "netns", moved_to)
    underlay = _ifindex(lab, ns, "u0")

    topology = vethpeer.scan()
    here = _link(topology, ns, "vx0")
    assert here.tunnel is not None
    assert (here.tunnel.kind, here.tunnel.vni, here.tunnel.local, here.tunnel.remote, here.tunnel.port) == (
        "vxlan", 42, "10.77.0.1", "239.1.1.1", 4789)
    assert topology.lower_of(here.ref) == LinkRef(here.ref.netns, underlay)
    # After the move IFLA_VXLAN_LINK still names u0 in the namespace the vxlan was made in, which
    # the kernel now reports as the vxlan's IFLA_LINK_NETNSID.
    there = _link(topology, moved_to, "vx1")
    assert there.link_netnsid is not None
    assert there.tunnel is not None and (there.tunnel.vni, there.tunnel.remote, there.tunnel.port) == (
        43, "10.77.0.9", 8472)
    assert topology.lower_of(there.ref) == _link(topology, ns, "u0").ref
    [relation] = [r for r in topology.relations_of(there.ref) if r.source == there.ref]
    assert relation.kind == "underlay"

    [match] = _show("vx1", "--netns", moved_to)["matches"]
    tunnel = match["link"]["tunnel"]
    assert (tunnel["kind"], tunnel["vni"], tunnel["remote"], tunnel["port"]) == ("vxlan", 43, "10.77.0.9", 8472)
    assert _where(tunnel["underlay"]["link"]) == (ns, "u0", underlay)
    assert match["link"]["lower"] is None


def test_tap_held_by_a_process(lab: Lab) -> None:
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun")
    ns = lab.netns("tap")
    tap = lab.link_name("tap")
    holder = lab.holder("tun", f"/run/netns/{ns}", tap)
    fd = int(holder.info[0])
    # A same-named device in another namespace must not be taken for it.
    decoy_ns = lab.netns("tapd")
    lab.ip("-n", decoy_ns, "link", "add", tap, "type", "bridge")
    topology = vethpeer.scan()
    link = _link(topology, ns, tap)
    assert [(h.pid, h.fd, h.vm) for h in link.tun_holders] == [(holder.pid, fd, None)]
    [held] = link.tun_holders
    assert held.comm and held.comm.startswith("python")
    assert held.owners and held.owners[0].kind == "process" and held.owners[0].id == str(holder.pid)
    assert _link(topology, decoy_ns, tap).tun_holders == ()

    [match] = _show(tap, "--netns", ns)["matches"]
    holders: List[Dict[str, Any]] = match["link"]["tun_holders"]
    assert [(h["pid"], h["fd"], h["vm"]) for h in holders] == [(holder.pid, fd, None)]
    assert holders[0]["owners"][0]["kind"] == "process"


def test_tap_moved_after_it_was_made_and_held_by_a_qemu(lab: Lab) -> None:
    """TUNGETDEVNETNS names the namespace the device is in now (dev_net of the device), and the
    fdinfo ``iff:`` its name now: a tap moved after qemu opened it is still tied to its holder."""
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun")
    made_in, moved_to = lab.netns("tapa"), lab.netns("tapb")
    tap = lab.link_name("qtap")
    qemu = os.path.join(lab.tmpdir, "qemu-system-x86_64")
    os.symlink(sys.executable, qemu)
    holder = lab.holder("tun", f"/run/netns/{made_in}", tap, "-name", "guest=vm-one,debug-threads=on",
                        executable=qemu)
    lab.ip("-n", made_in, "link", "set", tap, "netns", moved_to)
    topology = vethpeer.scan()
    link = _link(topology, moved_to, tap)
    [held] = link.tun_holders
    assert (held.pid, held.fd, held.vm) == (holder.pid, int(holder.info[0]), "vm-one")
    assert held.comm == "qemu-system-x86"  # the kernel's 15 bytes of the name it was run as
    assert not topology.find(tap, _link(topology, made_in, "lo").netns)

    env = dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1")
    result = subprocess.run([sys.executable, "-m", "vethpeer", "show", tap], capture_output=True, text=True,
                            env=env, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"held by    pid {holder.pid} (qemu-system-x86) fd {holder.info[0]}, vm vm-one" in result.stdout


def test_show_text_and_exit_codes(lab: Lab) -> None:
    hub = lab.netns("txt")
    lab.ip("-n", hub, "link", "add", "br0", "type", "bridge")
    lab.veth("p0", hub, "eth0", lab.netns("txo"))
    lab.ip("-n", hub, "link", "set", "p0", "master", "br0")
    env = dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1")
    result = subprocess.run([sys.executable, "-m", "vethpeer", "show", "p0", "--netns", hub], capture_output=True,
                            text=True, env=env, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "master     br0 (ifindex" in result.stdout and "peer       eth0 (ifindex" in result.stdout
    missing = subprocess.run([sys.executable, "-m", "vethpeer", "show", "nosuch0", "--netns", hub],
                             capture_output=True, text=True, env=env, check=False, timeout=300)
    assert missing.returncode == 1 and "no interface named nosuch0" in missing.stderr
