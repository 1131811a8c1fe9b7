"""Live tests (root): namespaces held in the ways discovery used to miss, each by nothing else.

Each builds a veth whose peer is in a namespace held only one way (a thread of a process whose main
thread has exited, a thread's private fd table, a tun file, a bind mount in another mount namespace,
a covered bind mount), then checks that a scan finds the pair and lists the holder.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from typing import Optional, Tuple

import pytest

import vethpeer
from lab import Holder, Lab
from vethpeer import Namespace, Topology

pytestmark = pytest.mark.live

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _namespace(topology: Topology, inode: int) -> Namespace:
    [ns] = [ns for ns in topology.namespaces if ns.id.inode == inode]
    return ns


def _peer(topology: Topology, ns: Namespace) -> Tuple[str, str]:
    [link] = topology.find("eth0", ns.id)
    peer = topology.peer_of(link.ref)
    assert peer is not None, topology.unresolved_of(link.ref)
    return topology.namespace(peer.netns).label, topology.link(peer).name


def _named_with_veth(lab: Lab, how: str) -> Tuple[str, str, int]:
    name = lab.netns(how)
    host_end = lab.link_name(how[:3])
    lab.veth(host_end, None, "eth0", name)
    return name, host_end, os.stat(f"/run/netns/{name}").st_ino


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_thread_of_a_process_whose_main_thread_exited(lab: Lab) -> None:
    name, host_end, inode = _named_with_veth(lab, "zombie")
    holder = lab.holder("zombie-thread", f"/run/netns/{name}")
    tid = int(holder.info[0])

    def leader_gone() -> bool:
        try:
            os.readlink(f"/proc/{holder.pid}/ns/net")
        except FileNotFoundError:
            return True
        return False

    _wait_for(leader_gone, "the holder's main thread did not exit")
    lab.forget_name(name)
    topology = vethpeer.scan()
    ns = _namespace(topology, inode)
    assert (holder.pid, tid) in [(h.pid, h.detail) for h in ns.threads]
    assert ns.error is None
    assert _peer(topology, ns) == ("root", host_end)


def test_fd_in_a_threads_private_fd_table(lab: Lab) -> None:
    name, host_end, inode = _named_with_veth(lab, "privfd")
    holder = lab.holder("private-fd", f"/run/netns/{name}")
    tid, fd = int(holder.info[0]), int(holder.info[1])
    lab.forget_name(name)
    topology = vethpeer.scan()
    ns = _namespace(topology, inode)
    # The thread's own id is what /proc/ID/fd/FD shows it under.
    assert [(h.pid, h.detail) for h in ns.fds] == [(tid, fd)]
    assert _peer(topology, ns) == ("root", host_end)


def test_namespace_held_only_by_a_tun_file(lab: Lab) -> None:
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun")
    name, host_end, inode = _named_with_veth(lab, "tun")
    holder = lab.holder("tun", f"/run/netns/{name}", lab.link_name("tap"))
    lab.forget_name(name)
    topology = vethpeer.scan()
    ns = _namespace(topology, inode)
    assert [(h.pid, h.detail) for h in ns.tuns] == [(holder.pid, int(holder.info[0]))]
    assert not ns.pids and not ns.fds and not ns.threads and not ns.sockets
    assert _peer(topology, ns) == ("root", host_end)
    assert {link.name for link in topology.links_in(ns.id)} >= {"eth0", lab.link_name("tap")}

    result = subprocess.run([sys.executable, "-m", "vethpeer", "namespaces", "--json"], capture_output=True,
                            env=dict(os.environ, PYTHONPATH=SRC), check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    [item] = [item for item in json.loads(result.stdout)["namespaces"] if item["inode"] == inode]
    assert item["tuns"] == [{"pid": holder.pid, "fd": int(holder.info[0])}]


def test_namespace_held_only_by_a_tun_file_never_attached(lab: Lab) -> None:
    """Before: missed (TUNGETDEVNETNS fails without a device). A VPN daemon between open and
    TUNSETIFF: SIOCGSKNS on its tun file names the namespace it was opened in."""
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun")
    name, host_end, inode = _named_with_veth(lab, "tuo")
    holder = lab.holder("tun-open", f"/run/netns/{name}")
    lab.forget_name(name)
    topology = vethpeer.scan()
    ns = _namespace(topology, inode)
    assert [(h.pid, h.detail) for h in ns.tuns] == [(holder.pid, int(holder.info[0]))]
    assert _peer(topology, ns) == ("root", host_end)


def test_namespace_held_only_by_a_tun_file_whose_device_was_deleted(lab: Lab) -> None:
    """Before: missed. The tap was deleted (ip link del); its file still holds the namespace."""
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun")
    name, host_end, inode = _named_with_veth(lab, "tud")
    tap = lab.link_name("td")
    holder = lab.holder("tun", f"/run/netns/{name}", tap)
    lab.ip("-n", name, "link", "del", tap)
    lab.forget_name(name)
    topology = vethpeer.scan()
    ns = _namespace(topology, inode)
    assert [(h.pid, h.detail) for h in ns.tuns] == [(holder.pid, int(holder.info[0]))]
    assert _peer(topology, ns) == ("root", host_end)


def test_a_tun_file_holds_where_it_was_opened_not_where_its_device_went(lab: Lab) -> None:
    """Before: the holder was put on the device's namespace (TUNGETDEVNETNS), so the namespace the
    file was opened in, held by nothing else, was missed. The device's place still ties the tap
    to its holder (show's tun holders)."""
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun")
    name, _host_end, inode = _named_with_veth(lab, "tum")
    elsewhere = lab.netns("tue")
    tap = lab.link_name("tm")
    holder = lab.holder("tun", f"/run/netns/{name}", tap)
    lab.ip("-n", name, "link", "set", tap, "netns", elsewhere)
    lab.forget_name(name)
    topology = vethpeer.scan()
    ns = _namespace(topology, inode)
    assert [(h.pid, h.detail) for h in ns.tuns] == [(holder.pid, int(holder.info[0]))]
    (moved,) = [ns for ns in topology.namespaces if elsewhere in ns.names]
    assert not moved.tuns
    (device,) = [link for link in topology.links_in(moved.id) if link.name == tap]
    assert [h.pid for h in device.tun_holders] == [holder.pid]


def test_namespace_held_only_by_an_io_uring_registered_file(lab: Lab) -> None:
    """Before: missing from every list. The ring's fdinfo names it (net:[INODE]); it cannot be
    opened without using the ring, so it is listed unreadable, with its holder and the reason, and
    the root end's peer is unresolved rather than the namespace forgotten."""
    name, host_end, inode = _named_with_veth(lab, "iou")
    try:
        holder = lab.holder("ring", f"/run/netns/{name}")
    except RuntimeError as error:
        pytest.skip(f"no io_uring here: {error}")
    lab.forget_name(name)
    topology = vethpeer.scan()
    ns = _namespace(topology, inode)
    assert [(h.pid, h.detail) for h in ns.rings] == [(holder.pid, int(holder.info[0]))]
    assert ns.error is not None and "io_uring" in ns.error
    (end,) = [link for link in topology.links.values() if link.name == host_end]
    unresolved = topology.unresolved_of(end.ref)
    assert unresolved is not None and unresolved.reason == "peer-netns-unreachable"
    result = subprocess.run([sys.executable, "-m", "vethpeer", "namespaces", "--json"], capture_output=True,
                            env=dict(os.environ, PYTHONPATH=SRC), check=False, timeout=60)
    [item] = [item for item in json.loads(result.stdout)["namespaces"] if item["inode"] == inode]
    assert item["rings"] == [{"pid": holder.pid, "fd": int(holder.info[0])}]


def test_bind_mount_only_in_another_mount_namespace(lab: Lab) -> None:
    name, host_end, inode = _named_with_veth(lab, "mntns")
    target = os.path.join(lab.tmpdir, "elsewhere")
    open(target, "w").close()
    holder = lab.holder("hide", f"/run/netns/{name}", target)
    lab.forget_name(name)
    topology = vethpeer.scan(mount_namespaces=True)  # also where others keep many mount namespaces
    ns = _namespace(topology, inode)
    assert ns.paths == (f"/proc/{holder.pid}/root{target}",)
    assert ns.error is None
    assert _peer(topology, ns) == ("root", host_end)


def _mount(lab: Lab, *args: str) -> None:
    subprocess.run(["mount", *args], check=True)
    lab.mounts.append(args[-1])


def test_covered_bind_mount_is_alive_not_vanished(lab: Lab) -> None:
    """A bind mount hidden by a later mount on a directory above it: the namespace lives."""
    name, _host_end, inode = _named_with_veth(lab, "cover")
    directory = os.path.join(lab.tmpdir, "dir")
    os.mkdir(directory)
    nsfile = os.path.join(directory, "ns")
    open(nsfile, "w").close()
    _mount(lab, "--bind", f"/run/netns/{name}", nsfile)
    _mount(lab, "-t", "tmpfs", "none", directory)
    lab.forget_name(name)
    topology = vethpeer.scan()
    assert not any(str(inode) in warning and "vanished" in warning for warning in topology.warnings)
    ns = _namespace(topology, inode)
    assert ns.error is not None and "alive but unreachable" in ns.error and nsfile in ns.error
    assert nsfile in ns.paths


def test_covered_bind_mount_reachable_from_another_mount_namespace(lab: Lab) -> None:
    """Covered here, but a mount namespace made before the cover still shows it: read through it."""
    name, host_end, inode = _named_with_veth(lab, "cov2")
    directory = os.path.join(lab.tmpdir, "dir")
    os.mkdir(directory)
    nsfile = os.path.join(directory, "ns")
    open(nsfile, "w").close()
    _mount(lab, "--bind", f"/run/netns/{name}", nsfile)
    # A private mount namespace with its own copy of the bind mount, taken before the cover.
    other = os.path.join(lab.tmpdir, "other")
    open(other, "w").close()
    holder = lab.holder("hide", nsfile, other)
    _mount(lab, "-t", "tmpfs", "none", directory)
    lab.forget_name(name)
    topology = vethpeer.scan(mount_namespaces=True)
    ns = _namespace(topology, inode)
    assert ns.error is None
    assert f"/proc/{holder.pid}/root{other}" in ns.paths
    assert _peer(topology, ns) == ("root", host_end)


def test_fifo_in_run_netns_does_not_hang(lab: Lab) -> None:
    fifo = f"/run/netns/{lab.prefix}-fifo"
    os.makedirs("/run/netns", exist_ok=True)
    os.mkfifo(fifo)
    try:
        result = subprocess.run([sys.executable, "-m", "vethpeer", "namespaces", "--json"], capture_output=True,
                                env=dict(os.environ, PYTHONPATH=SRC), check=False, timeout=30)
        assert result.returncode == 0, result.stderr
        assert any(fifo in warning and "not a namespace file" in warning
                   for warning in json.loads(result.stdout)["warnings"])
    finally:
        os.unlink(fifo)
    assert not os.path.exists(fifo)


def _setpriv() -> Optional[str]:
    for directory in ("/usr/bin", "/bin", "/usr/sbin"):
        if os.access(os.path.join(directory, "setpriv"), os.X_OK):
            return os.path.join(directory, "setpriv")
    return None


def test_unprivileged_in_a_namespace_does_not_call_it_root(lab: Lab) -> None:
    setpriv = _setpriv()
    if setpriv is None:
        pytest.skip("needs setpriv")
    name = lab.netns("unpriv")
    inode = os.stat(f"/run/netns/{name}").st_ino
    mode = os.stat(SRC).st_mode
    if not (mode & stat.S_IROTH and mode & stat.S_IXOTH):
        pytest.skip("the source tree is not readable by nobody")
    probe = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", "pass"],
                           capture_output=True, check=False, timeout=60, cwd="/")
    if probe.returncode != 0:  # e.g. an interpreter whose shared library only root may read
        pytest.skip(f"this Python does not run as nobody: {probe.stderr.decode(errors='replace').strip()[:200]}")
    result = subprocess.run(
        ["ip", "netns", "exec", name, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-m", "vethpeer", "namespaces", "--json"],
        capture_output=True, env=dict(os.environ, PYTHONPATH=SRC), check=False, timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    [own] = [item for item in document["namespaces"] if item["own"]]
    assert own["inode"] == inode
    assert own["root"] is False


def test_denied_process_whose_namespace_is_known_is_not_a_warning(lab: Lab) -> None:
    """Here PID 1 is not readable even for root (a sandbox); its namespace is the root one."""
    try:
        os.readlink("/proc/1/ns/net")
    except PermissionError:
        pass
    else:
        pytest.skip("PID 1 is readable here")
    topology = vethpeer.scan()
    assert not any("could not inspect" in warning and "process" in warning for warning in topology.warnings)
    assert topology.root is not None and 1 in topology.root.pids


def test_holders_are_listed_in_the_table(lab: Lab) -> None:
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun")
    name, _host_end, inode = _named_with_veth(lab, "tab")
    holder: Holder = lab.holder("tun", f"/run/netns/{name}", lab.link_name("tp"))
    lab.forget_name(name)
    result = subprocess.run([sys.executable, "-m", "vethpeer", "namespaces"], capture_output=True,
                            env=dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1"), check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.decode().splitlines() if f" {inode} " in line]
    assert f"tun {holder.pid}/{holder.info[0]}" in line
