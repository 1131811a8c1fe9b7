"""The ovsdb reader against a fake ovsdb-server, the reply parser, and tying names to links.

No root needed: the server is a thread on a unix socket under a temporary host root, and
ovs-vswitchd's /proc entry is a fake one whose ns/net points at this process's namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from ovs_fake import FakeOvsdb, reply
from vethpeer import ovsdb
from vethpeer import snapshot as snapshot_io
from vethpeer.model import Link, LinkRef, NamespaceId, Topology
from vethpeer.ovsdb import OvsInterface, OvsView
from vethpeer.render import json as render_json
from vethpeer.render import table as render_table
from vethpeer.render.text import Style
from vethpeer.resolve import resolve

SOCKET = "/run/openvswitch/db.sock"
FAKE_PID = 4242

NETDEV_REPLY = reply([
    ("vpbr0", "netdev", [("vpbr0", [("vpbr0", "internal", 3)]), ("vpint0", [("vpint0", "internal", 4)]),
                         ("vpve0", [("vpve0", "", 6)]), ("bond0", [("vpa", "", 7), ("vpb", "", 8)])]),
    ("br-int", "", [("br-int", [("br-int", "internal", None)]), ("patch-tun", [("patch-tun", "patch", None)])]),
])


class HostRoot:
    """A host tree: /run/openvswitch for the socket and pid file, /proc/PID for ovs-vswitchd."""

    def __init__(self) -> None:
        # Short on purpose: a unix socket path holds at most 107 bytes.
        self.root = tempfile.mkdtemp(prefix="vpovs")
        self.rundir = os.path.join(self.root, "run", "openvswitch")
        os.makedirs(self.rundir)
        self.socket = os.path.join(self.rundir, "db.sock")
        self.servers: List[FakeOvsdb] = []

    def vswitchd(self, pid: int = FAKE_PID, comm: bytes = b"ovs-vswitchd\n") -> None:
        with open(os.path.join(self.rundir, "ovs-vswitchd.pid"), "w") as handle:
            handle.write(f"{pid}\n")
        os.makedirs(os.path.join(self.root, "proc", str(pid), "ns"))
        with open(os.path.join(self.root, "proc", str(pid), "comm"), "wb") as handle:
            handle.write(comm)
        os.symlink("/proc/self/ns/net", os.path.join(self.root, "proc", str(pid), "ns", "net"))

    def serve(self, *steps: Tuple[str, object]) -> FakeOvsdb:
        server = FakeOvsdb(self.socket, steps)
        self.servers.append(server)
        return server

    def view(self, timeout: float = ovsdb.TIMEOUT) -> OvsView:
        return ovsdb.ovs_bridges(self.root, timeout=timeout)

    def cleanup(self) -> None:
        for server in self.servers:
            server.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def host() -> Iterator[HostRoot]:
    made = HostRoot()
    try:
        yield made
    finally:
        made.cleanup()


def own_netns() -> Tuple[int, int]:
    st = os.stat("/proc/self/ns/net")
    return (st.st_dev, st.st_ino)


# --- the exchange -----------------------------------------------------------------------------------


def test_a_netdev_and_a_kernel_bridge_are_read(host: HostRoot) -> None:
    host.vswitchd()
    server = host.serve(("send", NETDEV_REPLY))
    view = host.view()
    assert view.warning is None
    assert view.socket == SOCKET  # shown as the host spells it, not under the root
    assert view.vswitchd_pid == FAKE_PID
    assert view.netns == own_netns()
    assert view.datapath_types == (("br-int", ""), ("vpbr0", "netdev"))
    assert view.by_name() == {
        "vpbr0": ("vpbr0", "vpbr0", "internal"), "vpint0": ("vpbr0", "vpint0", "internal"),
        "vpve0": ("vpbr0", "vpve0", ""), "vpa": ("vpbr0", "bond0", ""), "vpb": ("vpbr0", "bond0", ""),
        "br-int": ("br-int", "br-int", "internal"), "patch-tun": ("br-int", "patch-tun", "patch"),
    }
    assert OvsInterface("vpve0", "vpbr0", "vpve0", "", 6) in view.interfaces
    assert OvsInterface("br-int", "br-int", "br-int", "internal", None) in view.interfaces
    # One read-only transact: selects of the three tables, nothing else.
    assert server.connections == 1
    request = json.loads(server.requests[0])
    assert request["method"] == "transact"
    assert request["params"][0] == "Open_vSwitch"
    assert [op["op"] for op in request["params"][1:]] == ["select"] * 3
    assert [op["table"] for op in request["params"][1:]] == ["Bridge", "Port", "Interface"]
    assert b"monitor" not in server.requests[0]


def test_no_socket_is_no_warning(host: HostRoot) -> None:
    assert host.view() == OvsView()
    assert ovsdb.ovs_bridges(host.root, sockets=("/var/run/openvswitch/db.sock",)) == OvsView()


def test_var_run_is_read_as_run(host: HostRoot) -> None:
    host.vswitchd()
    host.serve(("send", NETDEV_REPLY))
    view = ovsdb.ovs_bridges(host.root, sockets=("/var/run/openvswitch/db.sock",))
    assert view.socket == SOCKET and len(view.interfaces) == 7


def test_a_reply_in_small_pieces_and_split_inside_a_character(host: HostRoot) -> None:
    host.vswitchd()
    raw = reply([("brü", "netdev", [("pört", [("intérface", "internal", 5)])])])
    cut = raw.index("ü".encode()) + 1  # between the two bytes of ü
    steps: List[Tuple[str, object]] = [("send", raw[:cut]), ("sleep", 0.02)]
    rest = raw[cut:]
    steps += [("send", rest[i:i + 7]) for i in range(0, len(rest), 7)]
    host.serve(*steps)
    view = host.view()
    assert view.warning is None
    assert view.by_name() == {"intérface": ("brü", "pört", "internal")}


def test_a_reply_ending_in_a_brace_that_is_not_its_end(host: HostRoot) -> None:
    host.vswitchd()
    raw = reply([("br}", "netdev", [("p}", [("i}", "internal", 5)])])])
    cut = raw.index(b"}") + 1
    host.serve(("send", raw[:cut]), ("sleep", 0.02), ("send", raw[cut:]))
    assert host.view().by_name() == {"i}": ("br}", "p}", "internal")}


def test_messages_back_to_back_others_skipped(host: HostRoot) -> None:
    host.vswitchd()
    notification = json.dumps({"id": None, "method": "update", "params": [None, {}]}).encode()
    echo = json.dumps({"id": "echo", "method": "echo", "params": []}).encode()
    other = reply([("wrong", "netdev", [])], request_id=99)
    host.serve(("send", notification + echo + b"\n " + other + NETDEV_REPLY + b'{"id":1,'))
    view = host.view()
    assert view.warning is None
    assert "wrong" not in dict(view.datapath_types) and len(view.interfaces) == 7


def test_a_slow_server_costs_the_timeout_and_no_more(host: HostRoot) -> None:
    host.vswitchd()
    host.serve(("send", NETDEV_REPLY[:40]), ("sleep", 3), ("send", NETDEV_REPLY[40:]))
    started = time.monotonic()
    view = host.view(timeout=0.3)
    elapsed = time.monotonic() - started
    assert view.interfaces == () and view.warning is not None and "did not answer within 0.3 s" in view.warning
    assert 0.25 < elapsed < 0.8


def test_a_silent_server_costs_the_timeout(host: HostRoot) -> None:
    host.serve(("sleep", 3))
    started = time.monotonic()
    view = host.view(timeout=0.2)
    assert time.monotonic() - started < 0.6
    assert view.interfaces == () and view.warning is not None


def test_a_silent_server_is_asked_once_until_its_socket_is_made_anew(host: HostRoot) -> None:
    """Before: every scan asked it again and waited the whole timeout (a watch paid it per scan)."""
    first = host.serve(("sleep", 3))
    assert "did not answer within 0.2 s" in str(host.view(timeout=0.2).warning)
    for _ in range(3):
        again = host.view(timeout=0.2)
        assert again.interfaces == () and "not asked again" in str(again.warning)
    assert first.connections == 1
    first.stop()
    time.sleep(0.02)  # a change time of its own, even where the inode number comes back
    host.vswitchd()
    restarted = host.serve(("send", NETDEV_REPLY))
    view = host.view()
    assert restarted.connections == 1 and view.warning is None and len(view.interfaces) == 7


def test_a_socket_behind_a_link_out_of_the_root_is_not_asked(host: HostRoot, tmp_path: Path) -> None:
    """Before: R/run/openvswitch/db.sock -> /elsewhere/db.sock connected to a socket outside R."""
    outside = tempfile.mkdtemp(prefix="vpovx")
    try:
        server = FakeOvsdb(os.path.join(outside, "db.sock"), [("send", NETDEV_REPLY)])
        try:
            os.symlink(os.path.join(outside, "db.sock"), host.socket)
            view = host.view()
            assert server.connections == 0 and view == OvsView()
        finally:
            server.stop()
    finally:
        shutil.rmtree(outside, ignore_errors=True)


@pytest.mark.parametrize("garbage", [b"HTTP/1.1 400 Bad Request\r\n\r\n", b"[1,2,3]", b"\x00\xff\xfe", b'"text"'])
def test_garbage_is_refused_at_once(host: HostRoot, garbage: bytes) -> None:
    host.serve(("send", garbage), ("sleep", 3))
    started = time.monotonic()
    view = host.view(timeout=2)
    assert time.monotonic() - started < 1
    assert view.interfaces == () and view.warning is not None and "could not be read" in view.warning


def test_garbage_that_starts_like_json_ends_with_the_connection(host: HostRoot) -> None:
    host.serve(("send", b'{"id": "vethpeer-ovs", "result": [}}'))
    view = host.view(timeout=2)
    assert view.interfaces == () and view.warning is not None and "ended in the middle" in view.warning


def test_a_huge_reply_is_cut_off(host: HostRoot) -> None:
    chunk = b"x" * (1 << 20)
    host.serve(("send", b'{"id":"vethpeer-ovs","result":"' + chunk * 17), ("sleep", 3))
    view = host.view(timeout=2)
    assert view.interfaces == () and view.warning is not None and "over" in view.warning


def test_exchange_caps_the_bytes_read(host: HostRoot) -> None:
    host.serve(("send", b'{"id":"vethpeer-ovs","result":"' + b"y" * 5000 + b'"}'))
    with pytest.raises(ValueError, match="over 1000 bytes"):
        ovsdb.exchange(host.socket, timeout=1, cap=1000)


@pytest.mark.parametrize("answer", [
    {"id": "vethpeer-ovs", "error": {"error": "unknown database", "details": "Open_vSwitch"}, "result": None},
    {"id": "vethpeer-ovs", "error": None, "result": [{"rows": []}, {"error": "unknown table"}, {"rows": []}]},
    {"id": "vethpeer-ovs", "error": None, "result": [{"rows": []}]},
    {"id": "vethpeer-ovs", "error": None, "result": [{"rows": [{"name": 5}]}, {"rows": []}, {"rows": []}]},
])
def test_an_ovsdb_error_is_a_warning(host: HostRoot, answer: Dict[str, object]) -> None:
    host.serve(("send", json.dumps(answer).encode()))
    view = host.view()
    assert view.interfaces == () and view.warning is not None and "could not be used" in view.warning


def test_a_closed_connection_is_a_warning(host: HostRoot) -> None:
    host.serve()
    view = host.view()
    assert view.interfaces == () and view.warning is not None and "closed the connection" in view.warning


def test_a_socket_nobody_listens_on_is_refused(host: HostRoot) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(host.socket)
    dead.close()  # the file stays: what a crashed ovsdb-server leaves behind
    view = host.view()
    assert view.interfaces == () and view.warning is not None and "refused" in view.warning.lower()


def test_a_stale_pid_file_leaves_the_namespace_unknown(host: HostRoot) -> None:
    host.vswitchd(comm=b"bash\n")  # the pid was reused by something else
    host.serve(("send", NETDEV_REPLY))
    view = host.view()
    assert len(view.interfaces) == 7
    assert view.vswitchd_pid is None and view.netns is None
    assert view.warning is not None and "namespace is unknown" in view.warning


def test_no_pid_file_and_no_bridges_is_no_warning(host: HostRoot) -> None:
    host.serve(("send", reply([])))
    view = host.view()
    assert view.interfaces == () and view.warning is None and view.socket == SOCKET


# --- the parser -------------------------------------------------------------------------------------


def test_split_message_needs_more_until_the_end() -> None:
    raw = NETDEV_REPLY
    for cut in range(len(raw)):
        assert ovsdb.split_message(raw[:cut]) == (None, 0)
    value, used = ovsdb.split_message(raw + b" {")
    assert used == len(raw) and value["id"] == "vethpeer-ovs"


def test_ports_on_no_bridge_and_rows_missing_are_left_out() -> None:
    message = json.loads(reply([("br0", "netdev", [("p0", [("i0", "internal", 1)])])]))
    message["result"][1]["rows"].append({"_uuid": ["uuid", "orphan"], "name": "p9", "interfaces": ["uuid", "x"]})
    message["result"][0]["rows"][0]["ports"][1].append(["uuid", "gone"])
    interfaces, _ = ovsdb.parse_reply(message)
    assert [i.name for i in interfaces] == ["i0"]


@pytest.mark.parametrize("breakage", ["duplicate-interface", "duplicate-bridge", "ifindex-text", "ifindex-two",
                                      "uuid", "set"])
def test_unsound_replies_are_refused(breakage: str) -> None:
    message = json.loads(reply([("br0", "netdev", [("p0", [("i0", "internal", 1)]), ("p1", [("i1", "", 2)])])]))
    bridges, ports, interfaces = (message["result"][i]["rows"] for i in range(3))
    if breakage == "duplicate-interface":
        interfaces[1]["name"] = "i0"
    elif breakage == "duplicate-bridge":
        bridges.append(dict(bridges[0]))
    elif breakage == "ifindex-text":
        interfaces[0]["ifindex"] = "1"
    elif breakage == "ifindex-two":
        interfaces[0]["ifindex"] = ["set", [1, 2]]
    elif breakage == "uuid":
        ports[0]["_uuid"] = "p0"
    elif breakage == "set":
        bridges[0]["ports"] = ["set", "x"]
    with pytest.raises(ValueError):
        ovsdb.parse_reply(message)


# --- tying names to links -----------------------------------------------------------------------------

NS = NamespaceId(4, 4026531840)
OTHER = NamespaceId(4, 4026532999)


def link(ifindex: int, name: str, kind: Optional[str] = None, master: Optional[int] = None,
         netns: NamespaceId = NS) -> Link:
    return Link(LinkRef(netns, ifindex), name, kind, "openvswitch" if master else None, None, 1500, "UP", True,
                master, None, None, (), ())


def by_name(*links: Link) -> Dict[str, Link]:
    return {item.name: item for item in links}


KERNEL_VIEW = OvsView(
    interfaces=(OvsInterface("br-int", "br-int", "br-int", "internal", 5),
                OvsInterface("tap1", "br-int", "tap1", "", 7),
                OvsInterface("eth1", "br-ex", "eth1", "", None),
                OvsInterface("stale", "br-int", "stale", "", 40),
                OvsInterface("loose", "br-int", "loose", "", 9)),
    datapath_types=(("br-ex", "system"), ("br-int", "")), netns=(NS.dev, NS.inode))


def test_kernel_datapath_ports_need_an_openvswitch_master() -> None:
    links = by_name(link(3, "ovs-system", "openvswitch"), link(5, "br-int", "openvswitch", master=3),
                    link(7, "tap1", "tun", master=3), link(8, "eth1", None, master=3),
                    link(10, "stale", "veth", master=3),  # ovsdb recorded ifindex 40: another device
                    link(9, "loose", "veth"),  # no master: not (or no longer) on the datapath
                    link(11, "br0", "bridge"), link(12, "fake", "veth", master=11))
    got = ovsdb.ovs_ports(links, KERNEL_VIEW)
    assert got == {LinkRef(NS, 5): "br-int", LinkRef(NS, 7): "br-int", LinkRef(NS, 8): "br-ex"}


def test_a_master_that_is_not_the_datapath_is_no_evidence() -> None:
    view = KERNEL_VIEW._replace(interfaces=(OvsInterface("tap1", "br-int", "tap1", "", None),))
    links = by_name(link(3, "ovs-system", "bridge"), link(7, "tap1", "tun", master=3))
    assert ovsdb.ovs_ports(links, view) == {}


def test_netdev_datapath_ports_need_the_recorded_ifindex() -> None:
    view = OvsView(interfaces=(OvsInterface("vpbr0", "vpbr0", "vpbr0", "internal", 3),
                               OvsInterface("vpve0", "vpbr0", "vpve0", "", 6),
                               OvsInterface("remade", "vpbr0", "remade", "", 8),
                               OvsInterface("unknown", "vpbr0", "unknown", "", None)),
                   datapath_types=(("vpbr0", "netdev"),), netns=(NS.dev, NS.inode))
    links = by_name(link(2, "ovs-netdev", "tun"), link(3, "vpbr0", "tun"), link(6, "vpve0", "veth"),
                    link(9, "remade", "veth"), link(10, "unknown", "veth"))
    assert ovsdb.ovs_ports(links, view) == {LinkRef(NS, 3): "vpbr0", LinkRef(NS, 6): "vpbr0"}


def test_names_are_only_looked_up_in_ovs_vswitchds_namespace() -> None:
    links = {item.ref: item for item in (
        link(3, "ovs-system", "openvswitch", netns=OTHER), link(7, "tap1", "tun", master=3, netns=OTHER),
        link(3, "ovs-system", "openvswitch"), link(5, "br-int", "openvswitch", master=3))}
    warnings = ovsdb.with_ovs_bridges(links, KERNEL_VIEW)
    assert warnings == []
    assert links[LinkRef(NS, 5)].ovs_bridge == "br-int"
    assert links[LinkRef(OTHER, 7)].ovs_bridge is None  # same name, same ifindex, wrong namespace
    # The namespace unknown: nothing is tied at all.
    unknown = {ref: item._replace(ovs_bridge=None) for ref, item in links.items()}
    ovsdb.with_ovs_bridges(unknown, KERNEL_VIEW._replace(netns=None, warning="w"))
    assert all(item.ovs_bridge is None for item in unknown.values())
    # ovs-vswitchd's namespace not among those read: nothing either.
    elsewhere = {ref: item._replace(ovs_bridge=None) for ref, item in links.items()}
    assert ovsdb.with_ovs_bridges(elsewhere, KERNEL_VIEW._replace(netns=(4, 1))) == []
    assert all(item.ovs_bridge is None for item in elsewhere.values())


# --- the snapshot keeps it ----------------------------------------------------------------------------


def test_the_snapshot_keeps_the_view_and_older_ones_have_none() -> None:
    from vethpeer.snapshot import Snapshot

    view = KERNEL_VIEW._replace(socket=SOCKET, vswitchd_pid=812, warning="a warning")
    snap = Snapshot((), (), (), (), "pid 1", (), ovs=view)
    assert snapshot_io.loads(snapshot_io.dumps(snap)).ovs == view
    plain = Snapshot((), (), (), (), "pid 1", ())
    assert "ovs" not in snapshot_io.to_json(plain)
    assert snapshot_io.loads(snapshot_io.dumps(plain)).ovs is None


@pytest.mark.parametrize("ovs", [
    [], {"interfaces": [["a", "b", "c", "d"]]}, {"interfaces": [["a", "b", 3, "d", None]]},
    {"interfaces": [["a", "b", "c", "d", "5"]]}, {"interfaces": [["a", "b", "c", "d", 1 << 40]]},
    {"datapath_types": [["br0"]]}, {"netns": [1]}, {"netns": [1, -5]}, {"warning": 3},
])
def test_a_malformed_ovs_key_is_refused(ovs: object) -> None:
    from vethpeer.snapshot import Snapshot

    data = snapshot_io.to_json(Snapshot((), (), (), (), "pid 1", ()))
    data["ovs"] = ovs
    with pytest.raises(ValueError):
        snapshot_io.loads(json.dumps(data))


# --- a recorded kernel-datapath host (tests/data/ovs/build.py) -----------------------------------------

KERNEL_SNAPSHOT = Path(__file__).parent / "data" / "ovs" / "kernel.snapshot.json"


def kernel_topology() -> Topology:
    return resolve(snapshot_io.loads(KERNEL_SNAPSHOT.read_text()))


def test_kernel_datapath_ports_get_their_bridge() -> None:
    topology = kernel_topology()
    got = {(topology.namespace(item.netns).label, item.name): item.ovs_bridge
           for item in topology.links.values() if item.ovs_bridge is not None}
    assert got == {("root", "br-ex"): "br-ex", ("root", "eth1"): "br-ex", ("root", "br-int"): "br-int",
                   ("root", "qvo39d60faa-aa"): "br-int", ("root", "br-tun"): "br-tun"}
    # Not tied: the internal port moved into qdhcp (its name is ovsdb's, its namespace is not
    # ovs-vswitchd's), the container's end that carries a port's name, the re-made tap (stale
    # ifindex, no master), vxlan_sys_4789 (ovsdb calls the port vxlan-0a000002), ovs-system itself.
    assert topology.warnings == ()


def test_the_table_and_json_show_the_bridge() -> None:
    topology = kernel_topology()
    table = render_table.render_list(topology, Style(False))
    row = next(line for line in table.splitlines() if line.startswith("root") and "qvo39d60faa-aa" in line)
    assert "ovs:br-int" in row and "qbr39d60faa-aa" in row
    other = next(line for line in table.splitlines() if "vethc0ffee" in line)
    assert "ovs:" not in other
    document = json.loads(render_json.render_list(topology))
    ends = [end for pair in document["pairs"] for end in (pair["a"], pair["b"])]
    by_end = {(end["netns"]["label"], end["ifname"]): end for end in ends}
    assert by_end[("root", "qvo39d60faa-aa")]["ovs_bridge"] == "br-int"
    assert by_end[("root", "qvo39d60faa-aa")]["master"] == "ovs-system"
    assert by_end[("root", "qvb39d60faa-aa")]["ovs_bridge"] is None
    assert all(end["ovs_bridge"] is None for end in ends if end["netns"]["label"] != "root")


def test_save_and_load_keep_the_view() -> None:
    snap = snapshot_io.loads(KERNEL_SNAPSHOT.read_text())
    assert snap.ovs is not None and len(snap.ovs.interfaces) == 10
    assert snapshot_io.loads(snapshot_io.dumps(snap)) == snap
    # Without the view (an older snapshot), the same host has no bridges and no complaint.
    bare = resolve(snap._replace(ovs=None))
    assert all(item.ovs_bridge is None for item in bare.links.values()) and bare.warnings == ()


def test_a_warning_in_the_view_reaches_the_topology() -> None:
    snap = snapshot_io.loads(KERNEL_SNAPSHOT.read_text())
    assert snap.ovs is not None
    warned = resolve(snap._replace(ovs=OvsView(socket=SOCKET, warning="ovsdb at x did not answer")))
    assert warned.warnings == ("ovsdb at x did not answer",)
