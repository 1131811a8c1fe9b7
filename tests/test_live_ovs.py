"""Open vSwitch for real (root): Debian's openvswitch-switch in userspace mode (datapath_type=netdev).

This kernel has no openvswitch module, so the kernel datapath is covered by the recorded snapshot
in tests/data/ovs/; here ovsdb-server and ovs-vswitchd run as children of the test, with their
database, sockets, pid files and logs in the lab's temporary directory (nothing under
/run/openvswitch or /etc/openvswitch), and ovs-vswitchd inside a namespace of the lab, so every
device it makes (the ovs-netdev datapath tap, bridge and internal-port taps) is in a namespace
the lab deletes. Skipped when the package is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Dict, Iterator, List, Optional

import pytest

from lab import Lab
from vethpeer import ovsdb, scanner
from vethpeer import snapshot as snapshot_io
from vethpeer.model import Link, NamespaceId, Topology
from vethpeer.render import table as render_table
from vethpeer.render.text import Style
from vethpeer.resolve import resolve

pytestmark = pytest.mark.live

PROGRAMS = ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl")
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


def missing() -> Optional[str]:
    absent = [program for program in PROGRAMS if shutil.which(program) is None]
    if absent or not os.path.exists(SCHEMA):
        return (f"openvswitch-switch is not installed ({', '.join(absent) or SCHEMA} missing): "
                "apt-get install openvswitch-switch")
    return None


def wait_for(path: str, process: subprocess.Popen, what: str, log: str) -> None:
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        if process.poll() is not None or time.monotonic() > deadline:
            text = ""
            if os.path.exists(log):
                with open(log, errors="replace") as handle:
                    text = handle.read()
            raise RuntimeError(f"{what} did not start (exit {process.returncode}): {text[-2000:]}")
        time.sleep(0.02)


class Ovs:
    """ovsdb-server and ovs-vswitchd of one test, and ovs-vsctl against them."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.rundir = os.path.join(lab.tmpdir, "run", "openvswitch")
        os.makedirs(self.rundir)
        self.socket = os.path.join(self.rundir, "db.sock")
        self.env = dict(os.environ, OVS_RUNDIR=self.rundir, OVS_DBDIR=self.rundir, OVS_LOGDIR=self.rundir,
                        OVS_SYSCONFDIR=self.rundir)
        self.processes: List[subprocess.Popen] = []
        self.netns = lab.netns("ovs")

    def _start(self, argv: List[str], pidfile: str, what: str) -> subprocess.Popen:
        log = os.path.join(self.rundir, f"{what}.log")
        # Children, not --detach: the test waits for them, so no daemon outlives it (or is left a
        # zombie under a PID 1 that does not reap).
        process = subprocess.Popen([*argv, f"--pidfile={pidfile}", f"--log-file={log}", "--no-chdir",
                                    f"--unixctl={os.path.join(self.rundir, what + '.ctl')}"],
                                   env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        self.processes.append(process)
        wait_for(pidfile, process, what, log)
        return process

    def start(self) -> None:
        database = os.path.join(self.rundir, "conf.db")
        subprocess.run(["ovsdb-tool", "create", database, SCHEMA], check=True, env=self.env)
        self._start(["ovsdb-server", database, f"--remote=punix:{self.socket}"],
                    os.path.join(self.rundir, "ovsdb-server.pid"), "ovsdb-server")
        wait_for(self.socket, self.processes[0], "ovsdb-server's socket", database)
        self.vsctl("--no-wait", "init")
        self.vswitchd = self._start(["ip", "netns", "exec", self.netns, "ovs-vswitchd", f"unix:{self.socket}"],
                                    os.path.join(self.rundir, ovsdb.VSWITCHD_PIDFILE), "ovs-vswitchd")

    def vsctl(self, *args: str) -> str:
        result = subprocess.run(["ovs-vsctl", f"--db=unix:{self.socket}", "--timeout=10", *args],
                                capture_output=True, text=True, env=self.env, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"ovs-vsctl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def stop_vswitchd(self) -> None:
        self._stop(self.vswitchd)

    @staticmethod
    def _stop(process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        for process in reversed(self.processes):
            self._stop(process)


@pytest.fixture
def ovs(lab: Lab) -> Iterator[Ovs]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    made = Ovs(lab)
    try:
        made.start()
        yield made
    finally:
        made.stop()  # then the lab deletes the namespaces (and every tap in them) and the directory


def netns_of(topology: Topology, inode: int) -> NamespaceId:
    return next(ns.id for ns in topology.namespaces if ns.id.inode == inode)


def links_by_name(topology: Topology, netns: NamespaceId) -> Dict[str, Link]:
    return {link.name: link for link in topology.links_in(netns)}


def test_a_userspace_bridge_and_its_ports(ovs: Ovs, lab: Lab) -> None:
    ns = ovs.netns
    bridge, internal, veth, peer, tap = (lab.link_name(s) for s in ("br", "int", "ve0", "ve1", "tap"))
    ovs.vsctl("add-br", bridge, "--", "set", "bridge", bridge, "datapath_type=netdev")
    ovs.vsctl("add-port", bridge, internal, "--", "set", "interface", internal, "type=internal")
    lab.ip("-n", ns, "link", "add", veth, "type", "veth", "peer", "name", peer)
    ovs.vsctl("add-port", bridge, veth)
    lab.ip("-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
    ovs.vsctl("add-port", bridge, tap)
    # Another namespace with a device called like an OVS port: names alone must not tie it.
    other = lab.netns("other")
    lab.ip("-n", other, "link", "add", internal, "type", "veth", "peer", "name", lab.link_name("x"))

    # What the kernel shows: the netdev datapath gives nothing a master; its devices are taps.
    shown = {item["ifname"]: item for item in lab.links(ns)}
    assert set(shown) >= {"ovs-netdev", bridge, internal, veth, peer, tap}
    for name in ("ovs-netdev", bridge, internal, tap):
        assert shown[name]["linkinfo"]["info_kind"] == "tun", shown[name]
    assert all("master" not in item for item in shown.values())

    view = ovsdb.ovs_bridges(sockets=(ovs.socket,))
    st = os.stat(f"/run/netns/{ns}")
    assert view.warning is None
    assert view.netns == (st.st_dev, st.st_ino)
    assert view.datapath_types == ((bridge, "netdev"),)
    assert view.by_name() == {bridge: (bridge, bridge, "internal"), internal: (bridge, internal, "internal"),
                              veth: (bridge, veth, ""), tap: (bridge, tap, "")}
    ifindexes = {item.name: item.ifindex for item in view.interfaces}
    assert ifindexes == {name: shown[name]["ifindex"] for name in (bridge, internal, veth, tap)}

    # The whole scan, with this test's socket where ovsdb's would be; saved and loaded back.
    saved = os.path.join(lab.tmpdir, "scan.json")
    topology = scanner.scan(save=saved, ovs_sockets=(ovs.socket,))
    here = netns_of(topology, st.st_ino)
    links = links_by_name(topology, here)
    assert {name: link.ovs_bridge for name, link in links.items() if link.ovs_bridge} == {
        bridge: bridge, internal: bridge, veth: bridge, tap: bridge}
    assert links["ovs-netdev"].ovs_bridge is None and links[peer].ovs_bridge is None
    elsewhere = links_by_name(topology, netns_of(topology, os.stat(f"/run/netns/{other}").st_ino))
    assert elsewhere[internal].ovs_bridge is None
    with open(saved) as handle:
        loaded = resolve(snapshot_io.loads(handle.read()))
    assert links_by_name(loaded, here) == links
    # The table shows the bridge where a master would be.
    row = next(line for line in render_table.render_list(topology, Style(False)).splitlines()
               if f" {veth} " in line)
    assert f"ovs:{bridge}" in row

    # ovs-vswitchd stopped: its taps stay (persistent) and ovsdb still lists them, but nothing
    # says which namespace the names are from any more: no bridge is shown, with a warning.
    ovs.stop_vswitchd()
    assert lab.ip("-n", ns, "link", "show", "dev", bridge)
    after = ovsdb.ovs_bridges(sockets=(ovs.socket,))
    assert after.netns is None and after.warning is not None and "namespace is unknown" in after.warning
    assert len(after.interfaces) == 4


def test_the_cli_json_carries_the_bridge(ovs: Ovs, lab: Lab) -> None:
    ns = ovs.netns
    bridge, veth, peer = (lab.link_name(s) for s in ("br", "a", "b"))
    ovs.vsctl("add-br", bridge, "--", "set", "bridge", bridge, "datapath_type=netdev")
    lab.ip("-n", ns, "link", "add", veth, "type", "veth", "peer", "name", peer)
    ovs.vsctl("add-port", bridge, veth)
    code = ("import sys, vethpeer.ovsdb as o; o.DEFAULT_SOCKETS = (sys.argv[1],); "
            "from vethpeer.cli import main; sys.argv = ['vethpeer', '--json', 'peer', '--netns', sys.argv[2], "
            "sys.argv[3]]; sys.exit(main())")
    result = subprocess.run([sys.executable, "-c", code, ovs.socket, ns, veth], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    match = json.loads(result.stdout)["matches"][0]
    assert match["link"]["ovs_bridge"] == bridge and match["link"]["master"] is None
    assert match["peer"]["ovs_bridge"] is None


