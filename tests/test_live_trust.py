"""Trust on busy hosts (root, real kernel): pairs proven at one moment, churn survived, and a
default run that changes nothing another process can see."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence

import pytest

import vethpeer
from lab import Lab
from test_live import ns_named, only, peer_name, run_cli
from vethpeer.host import channel as nl_channel
from vethpeer.host import netlink
from vethpeer.model import Topology

pytestmark = pytest.mark.live


def cookie_of(netns: str) -> Optional[int]:
    from vethpeer.host import ops

    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        return ops.netns_fd_cookie(fd)
    finally:
        os.close(fd)


def hook_after_dump(monkeypatch: pytest.MonkeyPatch, netns: Sequence[str],
                    action: Callable[[], None], every: bool = False) -> List[int]:
    """Run ``action`` right after the links of one of ``netns`` are dumped (the first such dump
    only, unless ``every``): a change made exactly between the reads of two namespaces. (A busy
    host may hold other namespaces with the same link names: they are told apart by cookie.)"""
    original = nl_channel.Channel.dump_links
    cookies = {cookie_of(name) for name in netns}
    calls: List[int] = []

    def dump_links(self: nl_channel.Channel) -> Any:
        result = original(self)
        if (every or not calls) and self.cookie() in cookies:
            calls.append(1)
            action()
        return result

    monkeypatch.setattr(nl_channel.Channel, "dump_links", dump_links)
    return calls


def cut_first_dump(monkeypatch: pytest.MonkeyPatch, netns: str, skipped: bytes) -> List[int]:
    """The first link dump of ``netns`` comes back cut (NLM_F_DUMP_INTR) and without the device
    ``skipped``, as an older kernel's hash-chain walk can give it. Returns a list that is non-empty
    once that happened."""
    target = cookie_of(netns)
    original = nl_channel.Channel._exchange
    cut: List[int] = []

    def exchange(self: nl_channel.Channel, request: Any, expect: int, parse: Any, *args: Any) -> Any:
        records, interrupted = original(self, request, expect, parse, *args)
        if request is netlink.link_dump_request and not cut and self.cookie() == target:
            cut.append(1)
            return [link for link in records if link.name != skipped], True
        return records, interrupted

    monkeypatch.setattr(nl_channel.Channel, "_exchange", exchange)
    return cut


def _rewire_world(lab: Lab, rooted: bool = False) -> Dict[str, str]:
    """A:X(10) <-> B:Y(20), and the commands that turn it into A:X'(10) <-> D:W(20) and
    B:Z(20) <-> C:V(10): the freed ifindexes are reused at once, as in the issue. ``rooted``:
    each namespace also has a veth to the root namespace (then root has an id for each, and
    the root socket hears them all: the hub)."""
    names = {key: lab.netns(key.lower()) for key in "ABCD"}
    lab.ip("-n", names["A"], "link", "add", "X", "index", "10", "type", "veth", "peer", "name", "Y",
           "index", "20", "netns", names["B"])
    if rooted:
        for key in "ABCD":
            lab.veth(lab.link_name(f"r{key.lower()}"), None, "up0", names[key])
    return names


def count_proxies(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """A list that gains the number of namespaces watched through the root socket (the hub) at
    each confirmation (so a test can show the hub was used)."""
    from vethpeer import reader

    update = reader._Reader._update_proxies
    seen: List[int] = []

    def counting(self: Any, pairing: Any) -> None:
        update(self, pairing)
        seen.append(sum(1 for ns in self.nss.values() if ns.proxy))

    monkeypatch.setattr(reader._Reader, "_update_proxies", counting)
    return seen


def tuned_scan(hub: Optional[bool] = None, refresh_min_links: Optional[int] = None, **options: Any) -> Topology:
    """``vethpeer.scan`` with the reader's own choices made for it: watching through the root
    socket forced on or off, and how many links make a namespace read again link by link."""
    from vethpeer import reader, scanner

    tuning = reader.Tuning(hub=hub)
    if refresh_min_links is not None:
        tuning = tuning._replace(refresh_min_links=refresh_min_links)
    return scanner.scan(tuning=tuning, **options)


def _rewire(lab: Lab, names: Dict[str, str]) -> None:
    lab.ip("-n", names["A"], "link", "del", "X")
    lab.ip("-n", names["A"], "link", "add", "X", "index", "10", "type", "veth", "peer", "name", "W",
           "index", "20", "netns", names["D"])
    lab.ip("-n", names["B"], "link", "add", "Z", "index", "20", "type", "veth", "peer", "name", "V",
           "index", "10", "netns", names["C"])


@pytest.mark.parametrize("hub", [False, True], ids=["own-watches", "hub"])
def test_a_pair_rewired_between_two_reads_is_never_reported(lab: Lab, monkeypatch: pytest.MonkeyPatch,
                                                            hub: bool) -> None:
    """The issue's churn, made deterministic: the rewiring happens right after the first of A and
    B is read. The old code reported X <-> Z, a pair that never existed. Through the hub, the
    root socket hears the change in A and B."""
    names = _rewire_world(lab, rooted=hub)
    proxied = count_proxies(monkeypatch)
    calls = hook_after_dump(monkeypatch, [names["A"], names["B"]], lambda: _rewire(lab, names))
    topology = tuned_scan(hub=hub)
    assert calls, "the hook never ran"
    a, b, c, d = (ns_named(topology, names[key]) for key in "ABCD")
    x, z = only(topology, "X", a), only(topology, "Z", b)
    for ref in (x, z):
        peer = topology.peer_of(ref)
        assert peer is None or {ref.netns, peer.netns} in ({a.id, d.id}, {b.id, c.id}), "a pair that never existed"
    # Read again after the notifications, both are proven as they now are.
    assert peer_name(topology, x) == (names["D"], "W")
    assert peer_name(topology, z) == (names["C"], "V")
    if hub:
        assert proxied and proxied[0] >= 4, proxied


def test_root_ids_are_vouched_for_only_when_nothing_moved(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub answers root's id for a namespace without asking only when its watch shows it.
    Here root's end h first has its peer in C; right after root is read, the peer moves to M
    (silent in root, heard from C). Root's record then names C's id, and the watch must not
    vouch that this id is M's: the pair is found, and every id root is said to give is the
    kernel's own."""
    from vethpeer import reader, scanner
    from vethpeer.host import ops
    c, m = lab.netns("c"), lab.netns("m")
    h = lab.link_name("h")
    # p keeps its ifindex when it moves (10 is free in M): root's stale record then fits M's end.
    lab.ip("link", "add", h, "type", "veth", "peer", "name", "p", "index", "10", "netns", c)
    lab.root_links.append(h)
    steady = lab.netns("n")
    lab.veth(lab.link_name("hn"), None, "eth0", steady)  # a pair nothing touches: the hub vouches for it
    fd = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        root_cookie = ops.netns_fd_cookie(fd)
    finally:
        os.close(fd)
    moved: List[int] = []
    original = nl_channel.Channel.dump_links

    def dump_links(self: nl_channel.Channel) -> Any:
        result = original(self)
        if not moved and self.cookie() == root_cookie:
            moved.append(1)
            lab.ip("-n", c, "link", "set", "p", "netns", m)
        return result

    monkeypatch.setattr(nl_channel.Channel, "dump_links", dump_links)
    reading = scanner.read_host(tuning=reader.Tuning(hub=True))
    assert moved
    snapshot = reading.snapshot
    root = next(ns.namespace for ns in snapshot.namespaces if ns.namespace.root)
    by_cookie = {ns.namespace.cookie: ns.namespace for ns in snapshot.namespaces}
    m_record = by_cookie[cookie_of(m)]
    ids = {}
    probe = nl_channel.Channel(nl_channel.new_socket())
    try:
        for name in (c, m):
            fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
            try:
                ids[by_cookie[cookie_of(name)].inode] = probe.nsid_of_fd(fd)
            finally:
                os.close(fd)
    finally:
        probe.close()
    for answer in snapshot.nsid_answers:
        if answer.asker == root.inode and answer.target in ids and answer.nsid is not None:
            assert answer.nsid == ids[answer.target], answer
    assert any(a.watched for a in snapshot.nsid_answers), "the hub vouched for nothing"
    topology = vethpeer.resolve.resolve(snapshot, reading.pairing)
    p = only(topology, "p", ns_named(topology, m))
    assert peer_name(topology, p) == ("root", h)
    assert m_record.error is None
    del reader


def test_a_new_peer_in_a_namespace_read_earlier_is_found(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """D is read first, holds nothing cross-namespace then, and is not watched afterwards; right
    after A is read, A's X is remade with its peer W in D. Nothing in D's record shows W, and
    nothing said D changed: D must be read again with A, and X paired with W (it was reported
    unreachable, depending on which namespace the kernel happened to number first)."""
    from vethpeer import discover, scanner

    names = _rewire_world(lab)
    d_cookie = cookie_of(names["D"])
    original = discover.discover

    def d_first(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        from vethpeer.host import ops

        def is_d(item: Any) -> bool:
            return item.fd is not None and ops.netns_fd_cookie(item.fd) == d_cookie

        return found._replace(namespaces=tuple(sorted(found.namespaces, key=lambda item: not is_d(item))))

    monkeypatch.setattr(scanner.discover, "discover", d_first)
    hook_after_dump(monkeypatch, [names["A"]], lambda: _rewire(lab, names))
    topology = tuned_scan(hub=False)
    x = only(topology, "X", ns_named(topology, names["A"]))
    assert peer_name(topology, x) == (names["D"], "W")


@pytest.mark.parametrize("hub", [False, True], ids=["own-watches", "hub"])
def test_ends_that_never_stop_changing_are_reported_as_changing(lab: Lab, monkeypatch: pytest.MonkeyPatch,
                                                                hub: bool) -> None:
    """A namespace that changes after every read of it: its end is never paired, it is listed as
    ``changing`` after a bounded number of reads."""
    names = _rewire_world(lab, rooted=hub)
    proxied = count_proxies(monkeypatch)
    flips = [0]

    def flip() -> None:
        flips[0] += 1
        # X is deleted and made again (its ifindex reused) with the peer in B, over and over.
        lab.ip("-n", names["A"], "link", "del", "X")
        lab.ip("-n", names["A"], "link", "add", "X", "index", "10", "type", "veth", "peer", "name", "Y",
               "index", "20", "netns", names["B"])

    hook_after_dump(monkeypatch, [names["A"]], flip, every=True)
    topology = tuned_scan(hub=hub)
    a = ns_named(topology, names["A"])
    x = only(topology, "X", a)
    assert topology.peer_of(x) is None
    item = topology.unresolved_of(x)
    assert item is not None and item.reason == "changing", item
    assert 2 <= flips[0] <= 6, "rereads must be bounded"
    if hub:
        assert proxied and proxied[0] >= 4, proxied


def test_address_trouble_never_costs_the_links(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """An address dump that keeps being interrupted (or fails) leaves the namespace's links read
    and paired; a warning says the addresses are incomplete."""
    name = lab.netns("addr")
    lab.veth(lab.link_name("a"), None, "eth0", name)

    def always_cut(self: nl_channel.Channel) -> Any:
        return [], True

    monkeypatch.setattr(nl_channel.Channel, "dump_addresses", always_cut)
    topology = vethpeer.scan()
    ns = ns_named(topology, name)
    assert ns.error is None
    assert peer_name(topology, only(topology, "eth0", ns)) == ("root", lab.link_name("a"))
    assert any("addresses" in warning and "kept changing" in warning for warning in topology.warnings)


def test_churning_addresses_do_not_hide_a_namespace(lab: Lab) -> None:
    """kube-ipvs0's pattern: 1000 addresses on one device and one being added and removed in a
    loop while vethpeer runs. Every run reads the namespace and pairs its veth."""
    name = lab.netns("ipvs")
    lab.veth(lab.link_name("i"), None, "eth0", name)
    lab.ip("-n", name, "link", "add", "kube-ipvs0", "type", "bridge")
    script = os.path.join(lab.tmpdir, "addrs")
    with open(script, "w") as handle:
        for i in range(1000):
            handle.write(f"address add 10.{96 + i // 250}.{i % 250}.1/32 dev kube-ipvs0\n")
    lab.ip("-n", name, "-batch", script)
    stop = threading.Event()

    def churn() -> None:
        flip = ["add", "del"]
        k = 0
        while not stop.is_set():
            subprocess.run(["ip", "-n", name, "address", flip[k % 2], "10.200.0.1/32", "dev", "kube-ipvs0"],
                           capture_output=True, check=False)
            k += 1

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        for _run in range(6):
            topology = vethpeer.scan()
            ns = ns_named(topology, name)
            assert ns.error is None, ns.error
            assert peer_name(topology, only(topology, "eth0", ns)) == ("root", lab.link_name("i"))
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_namespace_that_does_not_answer_is_reported_and_skipped(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = lab.netns("mute")
    other = lab.netns("ok")
    lab.veth(lab.link_name("m"), None, "eth0", quiet)
    lab.veth(lab.link_name("o"), None, "eth0", other)
    original = nl_channel.Channel.dump_links

    def dump_links(self: nl_channel.Channel) -> Any:
        result = original(self)
        if self.cookie() == mute_cookie:
            raise nl_channel.NetlinkTimeout(110, "no answer within 2 s")
        return result

    mute_cookie = cookie_of(quiet)
    monkeypatch.setattr(nl_channel.Channel, "dump_links", dump_links)
    topology = vethpeer.scan()
    assert "no answer" in (ns_named(topology, quiet).error or "")
    assert peer_name(topology, only(topology, "eth0", ns_named(topology, other))) == ("root", lab.link_name("o"))
    root = topology.root
    assert root is not None
    item = topology.unresolved_of(only(topology, lab.link_name("m"), root))
    assert item is not None and item.reason == "peer-netns-unreachable"


def test_a_read_that_would_wait_forever_is_bounded() -> None:
    """The bound is applied where a read would wait (no per-socket timeout is set): a socket
    with nothing coming gives up after its timeout, and still answers normally otherwise."""
    import time

    channel = nl_channel.Channel(nl_channel.new_socket(), timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(nl_channel.NetlinkTimeout):
            channel._receive()
        assert 0.15 <= time.monotonic() - started < 2.0
        assert any(record.name == b"lo" for record in channel.dump_links().records)
    finally:
        channel.close()


# --- read-only: other processes' sockets -----------------------------------------------------------

_HOLDER = """
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
with open(sys.argv[2], "w") as procs:  # into the net_cls group before the socket is made
    procs.write(str(os.getpid()))
fd = os.open(sys.argv[1], os.O_RDONLY)
assert libc.setns(fd, 0x40000000) == 0
os.close(fd)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(s.fileno(), flush=True)
for line in sys.stdin:
    s.sendto(b"x", ("127.0.0.1", 9))
    print("sent", flush=True)
"""


class NetClsSocket:
    """A process in a cgroup-v1 net_cls group (classid 0x100001) with a UDP socket in a namespace
    of ours, whose iptables counts the packets that still carry that classid."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.netns = lab.netns("cls")
        lab.ip("-n", self.netns, "link", "set", "lo", "up")
        self.mount = os.path.join(lab.tmpdir, "net_cls")
        os.mkdir(self.mount)
        result = subprocess.run(["mount", "-t", "cgroup", "-o", "net_cls", lab.prefix, self.mount],
                                capture_output=True, check=False)
        if result.returncode != 0:
            os.rmdir(self.mount)
            pytest.skip(f"cannot mount a net_cls hierarchy here: {result.stderr.decode().strip()}")
        self.group = os.path.join(self.mount, lab.prefix)
        os.mkdir(self.group)
        with open(os.path.join(self.group, "net_cls.classid"), "w") as handle:
            handle.write("0x100001")
        self.process = None
        try:
            self.iptables("-A", "OUTPUT", "-m", "cgroup", "--cgroup", "0x100001", "-j", "ACCEPT")
        except BaseException:
            self.close()  # a skip here left the net_cls hierarchy mounted
            raise
        self.process: Optional[subprocess.Popen[str]] = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, f"/run/netns/{self.netns}", os.path.join(self.group, "cgroup.procs")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.fd = int(self.process.stdout.readline())

    def iptables(self, *args: str) -> str:
        result = subprocess.run(["ip", "netns", "exec", self.netns, "iptables", *args], capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            pytest.skip(f"iptables -m cgroup does not work here: {result.stderr.strip()}")
        return result.stdout

    def matched_after_send(self) -> int:
        assert self.process is not None and self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "sent"
        counters = self.iptables("-L", "OUTPUT", "-v", "-x", "-n").splitlines()
        return int(counters[2].split()[0])

    def close(self) -> None:
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
        if os.path.isdir(self.group):
            os.rmdir(self.group)
        subprocess.run(["umount", self.mount], check=False)
        if os.path.isdir(self.mount):
            os.rmdir(self.mount)


def test_a_default_run_leaves_other_processes_sockets_alone(lab: Lab) -> None:
    """pidfd_getfd on a socket re-tags it with the caller's net_cls classid (__receive_sock), and
    an `iptables -m cgroup` rule stops matching it. A default run must not do that; --sockets does
    (documented), which shows the test can tell."""
    tagged = NetClsSocket(lab)
    try:
        assert tagged.matched_after_send() == 1
        vethpeer.scan()
        result = run_cli("list", "--json")
        assert result.returncode == 0, result.stderr
        assert tagged.matched_after_send() == 2, "a default run re-tagged another process's socket"
        vethpeer.scan(sockets=True)  # opt-in: looks inside sockets, with the documented side effect
        assert tagged.matched_after_send() == 2, "the test cannot see a re-tag"
    finally:
        tagged.close()


def test_hubless_identical_wiring_is_exact(lab: Lab) -> None:
    """A lab of namespace-to-namespace links only, every pair with the same ifindexes and ids and
    no namespace shared: all pairs right (the question count is checked on the simulated kernel,
    the time by bench_scale.py --shape hubless)."""
    count = 60
    names = [lab.name(f"h{i}") for i in range(2 * count)]
    script = os.path.join(lab.tmpdir, "hubless")
    with open(script, "w") as handle:
        for name in names:
            handle.write(f"netns add {name}\n")
        for i in range(count):
            handle.write(f"link add eth1 netns {names[2 * i]} type veth peer name eth1 netns {names[2 * i + 1]}\n")
    lab.namespaces.extend(names)
    lab.ip("-batch", script)
    topology = vethpeer.scan()
    for i in range(count):
        ref = only(topology, "eth1", ns_named(topology, names[2 * i]))
        assert peer_name(topology, ref) == (names[2 * i + 1], "eth1")


def test_a_peer_that_may_be_held_by_a_socket_names_the_option(lab: Lab) -> None:
    """Sockets are looked inside only when asked: an end whose peer's namespace is held only by
    another process's socket says so, and names --sockets; with it, the pair is found."""
    name = lab.netns("sock")
    host_end = lab.link_name("sk")
    lab.veth(host_end, None, "eth0", name)
    lab.holder("socket", f"/run/netns/{name}")
    lab.forget_name(name)
    topology = vethpeer.scan()
    root = topology.root
    assert root is not None
    item = topology.unresolved_of(only(topology, host_end, root))
    assert item is not None and item.reason == "peer-netns-unreachable"
    assert "--sockets" in item.detail
    topology = vethpeer.scan(sockets=True)
    root = topology.root
    assert root is not None
    assert topology.peer_of(only(topology, host_end, root)) is not None


@pytest.mark.parametrize("hub", [False, True], ids=["own-watches", "hub"])
def test_lost_notifications_in_root_cost_one_more_read_of_root(lab: Lab, monkeypatch: pytest.MonkeyPatch,
                                                                hub: bool) -> None:
    """When the kernel had to drop the root namespace's notifications (a burst on a busy node),
    every root pair is suspect. With every namespace watched itself only the root namespace needs
    reading again; with the others watched through root's socket (the hub), what they did is
    lost too, so they are read again as well. All pairs are still proven either way."""
    from vethpeer import reader


    names = [lab.netns(f"ov{i}") for i in range(5)]
    for i, name in enumerate(names):
        lab.veth(lab.link_name(f"o{i}"), None, "eth0", name)
    cookies = {cookie_of(name): name for name in names}
    dumps: Dict[str, int] = {}
    dump = reader._Reader._dump
    confirm = reader._Reader.confirm

    def counting_dump(self: Any, ns: Any) -> None:
        dump(self, ns)
        key = "root" if ns.inode == self.discovery.root_inode else cookies.get(ns.cookie, "")
        dumps[key] = dumps.get(key, 0) + 1

    def overflow_once(self: Any, pairing: Any) -> Any:
        if not dumps.get("overflowed"):
            dumps["overflowed"] = 1
            # As the kernel reports it: ENOBUFS on the root socket's next read.
            self.nss[self.discovery.root_inode].channel.overflow = True
        return confirm(self, pairing)

    monkeypatch.setattr(reader._Reader, "_dump", counting_dump)
    monkeypatch.setattr(reader._Reader, "confirm", overflow_once)
    topology = tuned_scan(hub=hub)
    for i, name in enumerate(names):
        assert peer_name(topology, only(topology, "eth0", ns_named(topology, name))) == ("root", lab.link_name(f"o{i}"))
        assert dumps.get(name) == (2 if hub else 1), dumps
    assert dumps["root"] == 2



@pytest.mark.parametrize("named", [True, False], ids=["named", "held-by-a-process"])
def test_a_namespace_made_after_discovery_is_read_with_its_peer(lab: Lab, monkeypatch: pytest.MonkeyPatch,
                                                               named: bool) -> None:
    """A pod starting while the host is read: its namespace is made, and wired to root, after
    discovery looked. Root's end was reported unreachable ("may be held only by a socket") though
    the peer was there all along; now discovery looks once more when the mount table changed or
    root gave an id since, and the pair is proven in the same scan."""
    from vethpeer import discover, scanner

    original = discover.discover
    calls: List[int] = []
    host_end = lab.link_name("h")

    def late_namespace(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            if named:
                lab.veth(host_end, None, "eth0", lab.netns("late"))
            else:
                # Named by nothing: a process holds it, and only root's new id says it exists.
                holder = lab.holder("unshare")
                lab.veth(host_end, None, "eth0", f"pid:{holder.pid}")
        return found

    monkeypatch.setattr(scanner.discover, "discover", late_namespace)
    topology = vethpeer.scan()
    root = topology.root
    assert root is not None
    end = only(topology, host_end, root)
    assert topology.unresolved_of(end) is None, topology.unresolved_of(end)
    peer = topology.peer_of(end)
    assert peer is not None and topology.link(peer).name == "eth0"
    assert len(calls) == 2


def test_a_hidden_namespace_costs_no_second_discovery(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing changed since discovery: an end whose peer's namespace is hidden (held only by a
    socket, not searched without --sockets) is reported as before, without looking again."""
    from vethpeer import discover, scanner

    name = lab.netns("sock")
    host_end = lab.link_name("sk")
    lab.veth(host_end, None, "eth0", name)
    lab.holder("socket", f"/run/netns/{name}")
    lab.forget_name(name)
    original = discover.discover
    calls: List[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(scanner.discover, "discover", counting)
    topology = vethpeer.scan()
    root = topology.root
    assert root is not None
    item = topology.unresolved_of(only(topology, host_end, root))
    assert item is not None and item.reason == "peer-netns-unreachable"
    assert calls == [1]


@pytest.mark.parametrize("hub", [False, True], ids=["own-watches", "hub"])
def test_a_device_skipped_by_a_cut_dump_is_looked_for_again(lab: Lab, monkeypatch: pytest.MonkeyPatch,
                                                            hub: bool) -> None:
    """A watched namespace's dump cut by a change (NLM_F_DUMP_INTR) is kept rather than made again
    up to 8 times (a busy root under churn: a thousand links each time). Older kernels walk hash
    chains and a cut dump may skip a device that did not change, so nothing notifies about it:
    an end whose peer is missing from a cut dump has that namespace read again. Simulated here:
    A's first dump comes back cut and without X."""

    a, b = lab.netns("a"), lab.netns("b")
    lab.veth("X", a, "Y", b)
    if hub:
        lab.veth(lab.link_name("ra"), None, "up", a)
        lab.veth(lab.link_name("rb"), None, "up", b)
    cut = cut_first_dump(monkeypatch, a, b"X")
    topology = tuned_scan(hub=hub)
    assert cut
    x = only(topology, "X", ns_named(topology, a))
    assert peer_name(topology, x) == (b, "Y")
    if not hub:  # (through the hub, whether A was watched is known only later: it is warned about)
        assert not [w for w in topology.warnings if "kept changing" in w and a in w]


def test_a_netns_path_gone_before_rediscovery_still_finds_the_new_namespace(lab: Lab,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``--netns`` names a namespace that goes away (a container stopping) while a pod starts. The
    second discovery was given the same paths and raised on the vanished one, and the new pod's
    root end stayed "unreachable": the path's namespace was already read, so looking again without
    it is enough."""
    from vethpeer import discover, scanner

    leaving = lab.netns("leave")
    original = discover.discover
    calls: List[int] = []
    host_end = lab.link_name("g")

    def late_namespace(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            lab.forget_name(leaving)
            lab.veth(host_end, None, "eth0", lab.netns("late2"))
        return found

    monkeypatch.setattr(scanner.discover, "discover", late_namespace)
    topology = vethpeer.scan(netns_paths=[f"/run/netns/{leaving}"])
    root = topology.root
    assert root is not None
    end = only(topology, host_end, root)
    assert topology.unresolved_of(end) is None, topology.unresolved_of(end)
    peer = topology.peer_of(end)
    assert peer is not None and topology.link(peer).name == "eth0"


def test_a_same_namespace_peer_skipped_by_a_cut_dump_is_looked_for_again(lab: Lab,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """As above, with both ends in one namespace: P's peer Q is missing from A's cut dump (an
    older kernel's hash-chain walk skipped it). Only peers in other namespaces were looked for
    again, and P was reported "peer-missing" though Q was there all along."""
    a = lab.netns("a")
    lab.veth("P", a, "Q", a)
    cut = cut_first_dump(monkeypatch, a, b"Q")
    topology = vethpeer.scan()
    assert cut
    p = only(topology, "P", ns_named(topology, a))
    assert topology.unresolved_of(p) is None, topology.unresolved_of(p)
    assert peer_name(topology, p) == (a, "Q")


def test_a_master_skipped_by_a_cut_dump_is_looked_for_again(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A port's bridge missing from a kept cut dump (an older kernel skipped it): the port's master
    was reported "missing" though the bridge was there; its namespace is read again."""
    a, b = lab.netns("a"), lab.netns("b")
    lab.ip("-n", a, "link", "add", "br0", "type", "bridge")
    lab.veth("P", a, "Q", b)
    lab.ip("-n", a, "link", "set", "P", "master", "br0")
    cut = cut_first_dump(monkeypatch, a, b"br0")
    topology = vethpeer.scan()
    assert cut
    p = only(topology, "P", ns_named(topology, a))
    master = topology.master_of(p)
    assert master is not None and master.name == "br0", topology.relations_of(p)


def test_a_lower_device_skipped_by_a_cut_dump_is_looked_for_again(lab: Lab,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A macvlan's lower device in its own namespace missing from a kept cut dump: reported
    without its lower though it was there; its namespace is read again."""
    a = lab.netns("a")
    lab.ip("-n", a, "link", "add", "br0", "type", "bridge")
    lab.ip("-n", a, "link", "add", "mv0", "link", "br0", "type", "macvlan")
    cut = cut_first_dump(monkeypatch, a, b"br0")
    topology = vethpeer.scan()
    assert cut
    mv = only(topology, "mv0", ns_named(topology, a))
    lowers = [r for r in topology.relations_of(mv) if r.kind == "lower" and r.source == mv]
    assert len(lowers) == 1 and lowers[0].target is not None, lowers
    assert topology.link(lowers[0].target).name == "br0"


def test_a_lower_device_in_another_namespace_skipped_by_a_cut_dump_is_looked_for_again(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """As above with the macvlan moved to another namespace (a container's, its lower on the host):
    the lower missing from the lower's namespace's cut dump was reported "missing"."""
    a, b = lab.netns("a"), lab.netns("b")
    lab.ip("-n", a, "link", "add", "br0", "type", "bridge")
    lab.ip("-n", a, "link", "add", "mv0", "link", "br0", "type", "macvlan")
    lab.ip("-n", a, "link", "set", "mv0", "netns", b)
    cut = cut_first_dump(monkeypatch, a, b"br0")
    topology = vethpeer.scan()
    assert cut
    mv = only(topology, "mv0", ns_named(topology, b))
    lowers = [r for r in topology.relations_of(mv) if r.kind == "lower" and r.source == mv]
    assert len(lowers) == 1 and lowers[0].target is not None, lowers
    assert topology.link(lowers[0].target).name == "br0"


@pytest.mark.parametrize("hub", [False, True], ids=["own-watches", "hub"])
def test_a_skipped_device_whose_namespace_stays_watched_is_looked_for_again(
        lab: Lab, monkeypatch: pytest.MonkeyPatch, hub: bool) -> None:
    """X is skipped from A's cut dump, and A stays watched (another end of its crosses namespaces):
    Y, X's peer, has no candidate to ask about, so which namespace its id means stays unknown and
    ``skipped`` never applied; Y was reported unreachable ("no readable namespace has a veth...")."""

    a, b, c = lab.netns("a"), lab.netns("b"), lab.netns("c")
    lab.veth("X", a, "Y", b)
    lab.veth("U", a, "V", c)
    cut = cut_first_dump(monkeypatch, a, b"X")
    topology = tuned_scan(hub=hub)
    assert cut
    y = only(topology, "Y", ns_named(topology, b))
    assert peer_name(topology, y) == (a, "X"), topology.unresolved_of(y)


def test_a_busy_watched_namespace_is_read_again_link_by_link(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under churn a busy root changed after its dump in nearly every scan, and every reread round
    dumped it again (a thousand links). Watched, only the links its watch says changed are read
    again, one by one; the pair is proven with the fresh record. Here root's end is put on a
    bridge right after root's dump: the pair and the new master show, and root is dumped once."""
    import os as os_module

    from vethpeer.host import ops
    ns = lab.netns("a")
    host_end, bridge = lab.link_name("h"), lab.link_name("br")
    lab.veth(host_end, None, "eth0", ns)
    lab.ip("link", "add", bridge, "type", "bridge")
    lab.root_links.append(bridge)
    fd = os_module.open("/proc/self/ns/net", os_module.O_RDONLY)
    try:
        root_cookie = ops.netns_fd_cookie(fd)
    finally:
        os_module.close(fd)
    original_dump = nl_channel.Channel.dump_links
    original_link = getattr(nl_channel.Channel, "link", None)
    root_dumps: List[int] = []
    root_gets: List[int] = []

    def dump_links(self: nl_channel.Channel) -> Any:
        result = original_dump(self)
        if self.cookie() == root_cookie:
            root_dumps.append(1)
            if len(root_dumps) == 1:
                lab.ip("link", "set", host_end, "master", bridge)
        return result

    def link(self: nl_channel.Channel, ifindex: int) -> Any:
        if self.cookie() == root_cookie:
            root_gets.append(ifindex)
        assert original_link is not None
        return original_link(self, ifindex)

    monkeypatch.setattr(nl_channel.Channel, "dump_links", dump_links)
    monkeypatch.setattr(nl_channel.Channel, "link", link, raising=False)
    topology = tuned_scan(refresh_min_links=1)
    root = topology.root
    assert root is not None
    end = only(topology, host_end, root)
    assert peer_name(topology, end) == (ns, "eth0")
    master = topology.master_of(end)
    assert master is not None and master.name == bridge
    assert root_dumps == [1] and end.ifindex in root_gets


def test_a_namespace_that_could_not_be_read_keeps_its_cookie(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A watch knows a namespace by its cookie. One that failed a single scan (here: its socket
    could not be made) had none, so the watch announced it vanished and appeared again as a
    namespace known only by inode, and then the same once more when it was read again (seen under
    churn: a live namespace reported vanished 2 s before it was). Its cookie is read from an fd to it."""
    from vethpeer.host import ops

    name = lab.netns("a")
    target = cookie_of(name)
    original = ops.sockets_in

    def failing(fds: Any) -> Any:
        results = original(fds)
        out = []
        for fd, made in zip(fds, results):
            if fd is not None and not isinstance(made, OSError) and ops.netns_fd_cookie(fd) == target:
                made.close()
                out.append(PermissionError(1, "Operation not permitted"))
            else:
                out.append(made)
        return out

    monkeypatch.setattr(ops, "sockets_in", failing)
    topology = vethpeer.scan()
    found = [ns for ns in topology.namespaces if name in ns.names]
    assert len(found) == 1 and found[0].error is not None
    assert found[0].cookie == target


def test_a_link_read_again_on_its_own_shows_its_own_addresses(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A link read again one by one (RTM_GETLINK) after its namespace's dump is shown with the
    addresses it has then: X is deleted and a new X' made at the same ifindex, without X's
    address but with one of its own, right after A's dump (links and addresses). The addresses were
    left as dumped, so the new device was shown with its predecessor's address."""

    names = _rewire_world(lab)
    lab.ip("-n", names["A"], "address", "add", "10.77.0.1/24", "dev", "X")

    def rewire() -> None:
        _rewire(lab, names)
        lab.ip("-n", names["A"], "address", "add", "10.78.0.1/24", "dev", "X")

    cookie = cookie_of(names["A"])
    calls: List[int] = []
    original_addresses = nl_channel.Channel.dump_addresses

    def dump_addresses(self: nl_channel.Channel) -> Any:
        result = original_addresses(self)
        if not calls and self.cookie() == cookie:
            calls.append(1)
            rewire()  # after A's links and addresses were read
        return result

    monkeypatch.setattr(nl_channel.Channel, "dump_addresses", dump_addresses)
    gets: List[int] = []
    original_link = nl_channel.Channel.link

    def link(self: nl_channel.Channel, ifindex: int) -> Any:
        gets.append(ifindex)
        return original_link(self, ifindex)

    monkeypatch.setattr(nl_channel.Channel, "link", link)
    topology = tuned_scan(hub=False, refresh_min_links=1)
    assert calls and 10 in gets, (calls, gets)  # A was read again link by link
    a = ns_named(topology, names["A"])
    x = only(topology, "X", a)
    assert peer_name(topology, x) == (names["D"], "W")
    assert topology.link(x).addresses == ("10.78.0.1/24",)


def test_a_same_namespace_pair_read_again_apart_needs_both_ends_unchanged(lab: Lab,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ends of a pair in one namespace come from one dump, so either being untouched since
    proves the pair. Once they are read again one by one, at different moments, both must be
    untouched since: here Q is renamed right after it was read again, and the pair must show the
    new name, not the one read before the rename."""

    a, b = lab.netns("a"), lab.netns("b")
    lab.veth("P", a, "Q", a)
    lab.veth("X", a, "Y", b)  # (something across namespaces keeps A watched)
    lab.ip("-n", a, "link", "add", "name", "brq", "type", "bridge")
    target = cookie_of(a)
    q_index = next(item["ifindex"] for item in lab.links(a) if item["ifname"] == "Q")
    original_link = nl_channel.Channel.link
    renamed: List[int] = []

    def on_the_bridge() -> None:
        lab.ip("-n", a, "link", "set", "P", "master", "brq")
        lab.ip("-n", a, "link", "set", "Q", "master", "brq")

    def link(self: nl_channel.Channel, ifindex: int) -> Any:
        result = original_link(self, ifindex)
        if ifindex == q_index and not renamed and self.cookie() == target:
            renamed.append(1)
            lab.ip("-n", a, "link", "set", "Q", "name", "Q2")
        return result

    hook_after_dump(monkeypatch, [a], on_the_bridge)
    monkeypatch.setattr(nl_channel.Channel, "link", link)
    topology = tuned_scan(hub=False, refresh_min_links=1)
    assert renamed
    p = only(topology, "P", ns_named(topology, a))
    assert peer_name(topology, p) == (a, "Q2")
