"""Live tests (root): real namespaces and veth pairs, checked against what was built and `ip -j -d`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest

import vethpeer
from lab import Lab
from vethpeer import LinkRef, Namespace, Topology

pytestmark = pytest.mark.live

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def ns_named(topology: Topology, name: str) -> Namespace:
    matches = [ns for ns in topology.namespaces if name in ns.names]
    assert len(matches) == 1, f"namespace {name}: {matches}"
    return matches[0]


def ns_with_path(topology: Topology, path: str) -> Namespace:
    matches = [ns for ns in topology.namespaces if path in ns.paths]
    assert len(matches) == 1, f"namespace at {path}: {matches}"
    return matches[0]


def ns_of_pid(topology: Topology, pid: int) -> Namespace:
    inode = os.stat(f"/proc/{pid}/ns/net").st_ino
    matches = [ns for ns in topology.namespaces if ns.id.inode == inode]
    assert len(matches) == 1
    return matches[0]


def only(topology: Topology, ifname: str, ns: Namespace) -> LinkRef:
    found = topology.find(ifname, ns.id)
    assert len(found) == 1, f"{ifname} in {ns.label}: {found}"
    return found[0].ref


def peer_name(topology: Topology, ref: LinkRef) -> Tuple[str, str]:
    peer = topology.peer_of(ref)
    assert peer is not None, f"no peer for {topology.link(ref)}: {topology.unresolved_of(ref)}"
    return topology.namespace(peer.netns).label, topology.link(peer).name


def run_cli(*args: str, env: Optional[Dict[str, str]] = None,
            prefix: Tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=SRC)
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    return subprocess.run([*prefix, sys.executable, "-m", "vethpeer", *args], capture_output=True,
                          env=full_env, check=False)


def check_against_ip(lab: Lab, topology: Topology, netns: Optional[str], ns: Namespace) -> int:
    """Every link `ip -j -d link` shows in ``netns`` is in the topology with the same facts."""
    checked = 0
    by_index = {link.ifindex: link for link in topology.links_in(ns.id)}
    shown = lab.links(netns)
    assert set(by_index) == {item["ifindex"] for item in shown}
    for item in shown:
        link = by_index[item["ifindex"]]
        assert link.name == item["ifname"]
        assert link.mtu == item["mtu"]
        assert link.state == item["operstate"]
        assert link.mac == item.get("address")
        assert link.kind == item.get("linkinfo", {}).get("info_kind")
        assert (topology.master_of(link.ref).name if link.master else None) == item.get("master")
        assert link.link_netnsid == item.get("link_netnsid")
        if "link_index" in item:
            assert link.link == item["link_index"]
        checked += 1
    return checked


def test_neutron_picture(lab: Lab) -> None:
    """qdhcp namespace, ns- port, tap peer on a brq bridge: the issue's opening example."""
    node = lab.netns("node")
    qdhcp = lab.netns("qdhcp-fabc7ead-3c4d-4d5e-9f00-123456789abc")
    bridge, tap, port = lab.link_name("brq"), lab.link_name("tap"), lab.link_name("ns")
    lab.ip("-n", node, "link", "add", bridge, "type", "bridge")
    lab.veth(tap, node, port, qdhcp)
    lab.ip("-n", node, "link", "set", tap, "master", bridge)
    lab.ip("-n", qdhcp, "address", "add", "10.10.100.2/24", "dev", port)
    lab.ip("-n", qdhcp, "address", "add", "169.254.169.254/16", "dev", port)
    for link in (bridge, tap):
        lab.ip("-n", node, "link", "set", link, "up")
    lab.ip("-n", qdhcp, "link", "set", port, "up")
    uplink = lab.link_name("up")
    lab.veth(uplink, None, "uplink", node)

    topology = vethpeer.scan()
    qdhcp_ns, node_ns = ns_named(topology, qdhcp), ns_named(topology, node)
    port_ref = only(topology, port, qdhcp_ns)
    assert peer_name(topology, port_ref) == (node, tap)
    peer = topology.peer_of(port_ref)
    assert peer is not None
    master = topology.master_of(peer)
    assert master is not None and master.name == bridge and master.kind == "bridge"
    assert topology.link(port_ref).addresses[:2] == ("10.10.100.2/24", "169.254.169.254/16")
    root = topology.root
    assert root is not None and root.root
    assert peer_name(topology, only(topology, uplink, root)) == (node, "uplink")
    assert check_against_ip(lab, topology, qdhcp, qdhcp_ns) == 2
    assert check_against_ip(lab, topology, node, node_ns) == 4

    result = run_cli("peer", port, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    [match] = document["matches"]
    assert match["link"]["netns"]["name"] == qdhcp
    assert match["peer"]["ifname"] == tap and match["peer"]["master"] == bridge
    assert match["peer"]["netns"]["name"] == node and match["unresolved"] is None


def test_process_held_namespace(lab: Lab) -> None:
    holder = lab.holder("unshare")
    host_end = lab.link_name("p")
    lab.veth(host_end, None, "eth0", f"pid:{holder.pid}")
    topology = vethpeer.scan()
    ns = ns_of_pid(topology, holder.pid)
    assert holder.pid in ns.pids and not ns.names and not ns.paths
    assert ns.label.startswith(f"pid {holder.pid}")
    assert peer_name(topology, only(topology, "eth0", ns)) == ("root", host_end)


def _held_after_name_is_gone(lab: Lab, how: str) -> Tuple[Topology, Namespace, str, object]:
    """A namespace with a root veth whose /run/netns name is removed, held only by ``how``."""
    name = lab.netns(how)
    host_end = lab.link_name(how[:3])
    lab.veth(host_end, None, "eth0", name)
    inode = os.stat(f"/run/netns/{name}").st_ino
    if how == "mount":
        holder: object = lab.bind_mount(f"/run/netns/{name}", "netns-file")
    else:
        holder = lab.holder(how, f"/run/netns/{name}")
    lab.forget_name(name)
    topology = vethpeer.scan(sockets=how == "socket")  # looking inside sockets is opt-in
    [ns] = [ns for ns in topology.namespaces if ns.id.inode == inode]
    assert not ns.names
    assert peer_name(topology, only(topology, "eth0", ns)) == ("root", host_end)
    return topology, ns, host_end, holder


def test_bind_mounted_outside_run_netns(lab: Lab) -> None:
    _topology, ns, _host_end, path = _held_after_name_is_gone(lab, "mount")
    assert ns.paths == (path,)
    assert ns.label == path


def test_fd_held_namespace(lab: Lab) -> None:
    _topology, ns, _host_end, holder = _held_after_name_is_gone(lab, "fd")
    assert [(h.pid, h.detail) for h in ns.fds] == [(holder.pid, int(holder.info[0]))]  # type: ignore[attr-defined]
    assert not ns.pids and not ns.paths


def test_thread_held_namespace(lab: Lab) -> None:
    _topology, ns, _host_end, holder = _held_after_name_is_gone(lab, "thread")
    assert [(h.pid, h.detail) for h in ns.threads] == [(holder.pid, int(holder.info[0]))]  # type: ignore[attr-defined]
    assert not ns.pids


def test_socket_held_namespace(lab: Lab) -> None:
    _topology, ns, _host_end, holder = _held_after_name_is_gone(lab, "socket")
    assert [(h.pid, h.detail) for h in ns.sockets] == [(holder.pid, int(holder.info[0]))]  # type: ignore[attr-defined]
    assert not ns.pids and not ns.fds and not ns.paths


@pytest.mark.parametrize("with_root_uplinks", [False, True], ids=["no-hub", "root-hub"])
def test_identically_wired_pairs(lab: Lab, with_root_uplinks: bool) -> None:
    """Namespace pairs wired alike: every end has the same ifindex, peer ifindex and nsid."""
    count = 6
    sides = []
    for i in range(count):
        a, b = lab.netns(f"a{i}"), lab.netns(f"b{i}")
        if with_root_uplinks:
            lab.veth(lab.link_name(f"a{i}"), None, "uplink", a)
            lab.veth(lab.link_name(f"b{i}"), None, "uplink", b)
        lab.veth("eth1", a, "eth1", b)
        sides.append((a, b))
    topology = vethpeer.scan()
    keys = set()
    for a, b in sides:
        ref = only(topology, "eth1", ns_named(topology, a))
        link = topology.link(ref)
        keys.add((link.ifindex, link.link, link.link_netnsid))
        assert peer_name(topology, ref) == (b, "eth1")
        back = only(topology, "eth1", ns_named(topology, b))
        assert peer_name(topology, back) == (a, "eth1")
    assert len(keys) == 1, f"the wiring should collide, got {keys}"
    ours = [u for u in topology.unresolved if topology.namespace(u.link.netns).label.startswith(lab.prefix)]
    assert not ours


def test_same_namespace_pair(lab: Lab) -> None:
    name = lab.netns("same")
    lab.veth("left", name, "right", name)
    topology = vethpeer.scan()
    ns = ns_named(topology, name)
    assert peer_name(topology, only(topology, "left", ns)) == (name, "right")
    assert peer_name(topology, only(topology, "right", ns)) == (name, "left")


def test_names_with_control_and_undecodable_bytes(lab: Lab) -> None:
    name = lab.netns("esc")
    evil = b"e\x1b[31mred"
    odd = b"o\xff\xfe"
    lab.veth(evil, name, odd, name)
    topology = vethpeer.scan()
    ns = ns_named(topology, name)
    evil_text = evil.decode()
    odd_text = odd.decode("utf-8", "surrogateescape")
    assert peer_name(topology, only(topology, evil_text, ns)) == (name, odd_text)

    table = run_cli("list")
    assert table.returncode == 0, table.stderr
    assert b"\x1b" not in table.stdout and b"\xff" not in table.stdout
    assert b"e\\x1b[31mred" in table.stdout and b"o\\xff\\xfe" in table.stdout

    result = run_cli("peer", "--json", "--netns", name, evil_text)
    assert result.returncode == 0, result.stderr
    assert b"\x1b" not in result.stdout
    [match] = json.loads(result.stdout)["matches"]
    assert match["link"]["ifname"] == evil_text
    assert match["peer"]["ifname"].encode("utf-8", "surrogateescape") == odd


def test_peer_in_a_namespace_nobody_can_reach(lab: Lab) -> None:
    """The peer's namespace is held only by a socket, and sockets are not looked into by default.
    An empty namespace on the host (read once, not watched: nothing in it needs watching) must not
    turn the unreachable end into a "changing" one (it did, when such namespaces were read again
    at every round)."""
    lab.netns("empty")
    name = lab.netns("hidden")
    host_end = lab.link_name("hid")
    lab.veth(host_end, None, "eth0", name)
    lab.holder("socket", f"/run/netns/{name}")
    lab.forget_name(name)
    # (not through other mount namespaces: one made by another test meanwhile has a copy of the name)
    topology = vethpeer.scan(mount_namespaces=False)
    root = topology.root
    assert root is not None
    ref = only(topology, host_end, root)
    assert topology.peer_of(ref) is None
    item = topology.unresolved_of(ref)
    assert item is not None and item.reason == "peer-netns-unreachable"
    assert item.peer_ifindex == topology.link(ref).link and item.link_netnsid is not None


def test_netns_option_forms(lab: Lab) -> None:
    holder = lab.holder("unshare")
    lab.veth(lab.link_name("f"), None, "eth0", f"pid:{holder.pid}")
    name = lab.netns("named")
    lab.veth(lab.link_name("g"), None, "eth0", name)
    forms = ((f"pid:{holder.pid}", lab.link_name("f")), (f"/proc/{holder.pid}/ns/net", lab.link_name("f")),
             (name, lab.link_name("g")), (f"/run/netns/{name}", lab.link_name("g")))
    for spec, expect in forms:
        result = run_cli("peer", "eth0", "--netns", spec, "--json")
        assert result.returncode == 0, (spec, result.stderr)
        [match] = json.loads(result.stdout)["matches"]
        assert match["peer"]["ifname"] == expect, spec
    missing = run_cli("peer", "eth0", "--netns", lab.name("nosuch"))
    assert missing.returncode == 2
    assert missing.stderr.count(b"\n") == 1 and b"Traceback" not in missing.stderr
    nowhere = run_cli("peer", lab.link_name("zz"))
    assert nowhere.returncode == 1 and b"Traceback" not in nowhere.stderr


def test_namespaces_command(lab: Lab) -> None:
    name = lab.netns("listed")
    lab.veth("a", name, "b", name)
    result = run_cli("namespaces", "--json")
    assert result.returncode == 0
    namespaces = json.loads(result.stdout)["namespaces"]
    assert sum(1 for ns in namespaces if ns["root"]) == 1
    [ours] = [ns for ns in namespaces if ns["name"] == name]
    assert ours["links"] == 3 and ours["paths"] == [f"/run/netns/{name}"]
    assert ours["inode"] == os.stat(f"/run/netns/{name}").st_ino


def test_without_privilege_answers_what_it_can(lab: Lab) -> None:
    """With every capability dropped it cannot enter other namespaces: it says so and goes on."""
    name = lab.netns("priv")
    host_end = lab.link_name("pv")
    lab.veth(host_end, None, "eth0", name)
    drop = ("setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--")
    result = run_cli("list", "--json", prefix=drop)
    assert result.returncode == 0, result.stderr
    assert b"could not be read" in result.stderr and b"Traceback" not in result.stderr
    document = json.loads(result.stdout)
    unresolved = {u["link"]["ifname"]: u for u in document["unresolved"]}
    assert host_end in unresolved
    assert unresolved[host_end]["reason"] == "peer-netns-unreachable"
    # It cannot read the namespace, but its own socket can still tell which one the peer is in.
    assert name in unresolved[host_end]["detail"]


def test_scan_results_are_immutable(lab: Lab) -> None:
    name = lab.netns("ro")
    lab.veth("a", name, "b", name)
    topology = vethpeer.scan()
    link = topology.find("a", ns_named(topology, name).id)[0]
    with pytest.raises(AttributeError):
        link.name = "x"  # type: ignore[misc]


def test_scan_is_read_only(lab: Lab) -> None:
    """Scanning allocates no namespace ids beyond what link dumps themselves assign."""
    a, b = lab.netns("ida"), lab.netns("idb")
    lab.veth("x", a, "y", b)
    lab.veth(lab.link_name("r"), None, "u", a)

    def ids(netns: str) -> List[str]:
        return lab.ip("-n", netns, "netns", "list-id").splitlines()

    # A first dump assigns ids for each namespace's peers; after that nothing may change.
    vethpeer.scan()
    before = {n: ids(n) for n in (a, b)}
    vethpeer.scan()
    assert {n: ids(n) for n in (a, b)} == before


def test_unreachable_peer_is_described_without_allocating_ids(lab: Lab) -> None:
    """The kernel still describes a peer in a namespace nobody can open, through a namespace both
    sides share (here the root one), and no namespace gains an nsid for asking."""
    seen = lab.netns("seen")
    hidden = lab.netns("gone")
    lab.veth(lab.link_name("s"), None, "up", seen)
    lab.veth(lab.link_name("h"), None, "up", hidden)
    lab.veth("toh", seen, "froms", hidden)
    lab.holder("socket", f"/run/netns/{hidden}")  # not looked into by default
    lab.forget_name(hidden)

    def ids() -> Set[str]:
        # (namespaces other tests removed may still be leaving the root table: only growth counts)
        return {f"root {line.split()[1]}" for line in lab.ip("netns", "list-id").splitlines()} | {
            f"seen {line.split()[1]}" for line in lab.ip("-n", seen, "netns", "list-id").splitlines()}

    vethpeer.scan()  # the first dumps may assign ids for peers, as any `ip link` would
    before = ids()
    topology = vethpeer.scan(mount_namespaces=False)
    assert ids() <= before, "scanning allocated an nsid"
    item = topology.unresolved_of(only(topology, "toh", ns_named(topology, seen)))
    assert item is not None and item.reason == "peer-netns-unreachable"
    assert item.peer_hint is not None and item.peer_hint.name == "froms"
    root = topology.root
    assert root is not None
    host_item = topology.unresolved_of(only(topology, lab.link_name("h"), root))
    assert host_item is not None and host_item.peer_hint is not None and host_item.peer_hint.name == "up"


def test_sockets_are_looked_into_only_with_sockets(lab: Lab) -> None:
    name = lab.netns("sk")
    inode = os.stat(f"/run/netns/{name}").st_ino
    lab.holder("socket", f"/run/netns/{name}")
    lab.forget_name(name)
    for flags, expected in ((("--sockets",), True), ((), False), (("--no-sockets",), False)):
        result = run_cli("namespaces", "--json", *flags)
        assert result.returncode == 0, result.stderr
        inodes = {ns["inode"] for ns in json.loads(result.stdout)["namespaces"]}
        assert (inode in inodes) is expected, flags


def test_a_low_fd_limit_only_slows_it_down(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for only a few sockets at once, every namespace is still read and every pair,
    root ones and namespace-to-namespace ones across windows, is paired and confirmed."""
    from vethpeer import discover, reader, resolve
    from vethpeer.host import channel
    names = [lab.netns(f"fd{i}") for i in range(40)]
    for i, name in enumerate(names):
        lab.veth(lab.link_name(f"f{i}"), None, "eth0", name)
    for i in range(10):
        lab.veth("x", names[i], "y", names[i + 25])
    baseline = len(os.listdir("/proc/self/fd"))
    most = [0]
    channel_init = channel.Channel.__init__

    def counting(self: channel.Channel, *args: object, **kwargs: object) -> None:
        most[0] = max(most[0], len(os.listdir("/proc/self/fd")) - baseline)
        channel_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(channel.Channel, "__init__", counting)
    found = discover.discover(keep_fds=0)
    try:
        reading = reader.read(found, room=12)
    finally:
        found.close()
    assert most[0] <= 12 + 2, f"{most[0]} fds open at once with room for 12"
    ours = {os.stat(f"/run/netns/{name}").st_ino for name in names} | {os.stat("/proc/2/ns/net").st_ino}
    # (other namespaces on a busy host may come and go while it reads: only ours must be answered)
    assert all(answer.nsid is not None for answer in reading.snapshot.nsid_answers
               if {answer.asker, answer.target} <= ours), "a question went unanswered"
    topology = resolve.resolve(reading.snapshot, reading.pairing)
    for i, name in enumerate(names):
        assert peer_name(topology, only(topology, "eth0", ns_named(topology, name))) == ("root", lab.link_name(f"f{i}"))
    for i in range(10):
        assert peer_name(topology, only(topology, "x", ns_named(topology, names[i]))) == (names[i + 25], "y")


def test_a_ring_read_with_few_fds_is_proven_on_a_quiet_host(lab: Lab) -> None:
    """Namespaces paired to each other in a ring (and one pair across), with room for two at a
    time: a reread for one pair's sake undid the pair shown before it, round after round, and a
    pair nothing touched was called ``changing`` (found by tests/test_reader_sim.py)."""
    from vethpeer import discover, reader, resolve
    names = [lab.netns(f"ring{i}") for i in range(6)]
    for i, name in enumerate(names):
        lab.veth(lab.link_name(f"g{i}"), None, "eth0", name)
    for i, name in enumerate(names):
        lab.veth("x", name, "y", names[(i + 1) % len(names)])
    lab.veth("xx", names[0], "yy", names[3])
    found = discover.discover(keep_fds=3)
    try:
        reading = reader.read(found, room=8, tuning=reader.Tuning(hub=False))
    finally:
        found.close()
    topology = resolve.resolve(reading.snapshot, reading.pairing)
    for i, name in enumerate(names):
        x = only(topology, "x", ns_named(topology, name))
        assert topology.unresolved_of(x) is None, topology.unresolved_of(x)
        assert peer_name(topology, x) == (names[(i + 1) % len(names)], "y")
    assert peer_name(topology, only(topology, "xx", ns_named(topology, names[0]))) == (names[3], "yy")


def test_stale_run_netns_entry_is_a_warning(lab: Lab) -> None:
    """An empty file left in /run/netns (the mount went away) is reported, not entered."""
    stale = lab.name("stale")
    os.makedirs("/run/netns", exist_ok=True)
    open(f"/run/netns/{stale}", "w").close()
    lab.namespaces.append(stale)  # `ip netns del` removes the file on cleanup
    topology = vethpeer.scan()
    assert not [ns for ns in topology.namespaces if stale in ns.names]
    assert any(stale in warning and "stale" in warning for warning in topology.warnings)
    result = run_cli("list")
    assert result.returncode == 0 and stale.encode() in result.stderr


def test_more_namespaces_than_the_fd_limit(lab: Lab) -> None:
    """With a soft RLIMIT_NOFILE of 256 (1024 is common) and 300 namespaces, nothing is missed:
    the soft limit is raised to the hard one before any namespace is opened. With a hard limit of
    64, nothing is missed either."""
    import resource

    count = 300
    names = [lab.name(f"lim{i}") for i in range(count)]
    ends = [lab.link_name(f"l{i}") for i in range(count)]
    script = os.path.join(lab.tmpdir, "batch")
    with open(script, "w") as handle:
        for name, end in zip(names, ends):
            handle.write(f"netns add {name}\nlink add name {end} type veth peer name eth0 netns {name}\n")
    lab.namespaces.extend(names)
    lab.root_links.extend(ends)
    lab.ip("-batch", script)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 2 * count + 100:
        pytest.skip(f"the hard fd limit here ({hard}) is too low for this test")

    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    env = dict(os.environ, PYTHONPATH=SRC)
    result = subprocess.run([sys.executable, "-m", "vethpeer", "list", "--json"], capture_output=True,
                            env=env, check=False, preexec_fn=low_soft_limit)
    assert result.returncode == 0, result.stderr
    pairs = {(p["a"]["netns"]["name"], p["b"]["ifname"]) for p in json.loads(result.stdout)["pairs"]}
    assert {(name, end) for name, end in zip(names, ends)} <= pairs

    # A hard limit far too low for a socket per namespace: every namespace is still read and paired,
    # in windows, and the caller's limits are what they were.
    def low_hard_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    result = subprocess.run([sys.executable, "-m", "vethpeer", "list", "--json"], capture_output=True,
                            env=env, check=False, preexec_fn=low_hard_limit)
    assert result.returncode == 0, result.stderr
    assert b"limit" not in result.stderr and b"Traceback" not in result.stderr
    document = json.loads(result.stdout)
    found = {(p["a"]["netns"]["name"], p["b"]["ifname"]) for p in document["pairs"]}
    missing = set(zip(names, ends)) - found
    assert not missing, [u for u in document["unresolved"] if u["link"]["ifname"] in {e for _, e in missing}]
    assert not [u for u in document["unresolved"] if u["link"]["ifname"] in ends]



def test_scan_leaves_the_callers_fd_limit_alone(lab: Lab) -> None:
    import resource

    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft = min(256, before[1]) if before[1] != resource.RLIM_INFINITY else 256
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, before[1]))
    try:
        vethpeer.scan()
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, before[1])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def test_scan_pauses_the_collector_and_leaves_it_as_found(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from vethpeer import reader

    seen = []
    real_read = reader.read

    def spying_read(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real_read(*args, **kwargs)

    monkeypatch.setattr(reader, "read", spying_read)
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            vethpeer.scan()
            assert gc.isenabled() is enabled
        assert seen == [False, False]
    finally:
        (gc.enable if was else gc.disable)()


def test_a_scan_leaves_no_cycle_holding_its_records(lab: Lab) -> None:
    """With the collector paused during a scan (and a watch scanning again and again), a reference
    cycle through the scan's records would keep all of them until the next full collection: a
    watch's RSS went from 41 to 92 MB under churn that way. Reference counting alone must free them."""
    import gc

    from vethpeer.host.netlink import LinkRecord

    lab.netns("a")
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        vethpeer.scan()
        gc.collect()
        kept = [item for item in gc.garbage if isinstance(item, LinkRecord)]
        assert not kept, f"{len(kept)} link records freed only by the cyclic collector"
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        (gc.enable if was else gc.disable)()
