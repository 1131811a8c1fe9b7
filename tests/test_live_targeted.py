"""``peer IFNAME --netns NS`` reads NS and the root namespace alone, and ``peer IFNAME`` the
namespaces holding an IFNAME and their peers', and each answers exactly what a whole read
answers (live, root).

A random world per seed, with colliding ifindexes and names: namespaces whose ``eth0`` pairs
with a root veth on a bridge, namespace-to-namespace pairs (all named ``eth1``), a pair inside
one namespace, a bridge and a macvlan in a namespace. For every interface of every namespace of
ours, the targeted answer (stdout, stderr, exit code) is compared with the whole read's, made by
the same command with ``--save`` (which always reads everything).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from typing import List, Tuple

import pytest

from lab import Lab, run_cli
from vethpeer import scanner
from vethpeer.select import netns_choice

pytestmark = pytest.mark.live


def build_world(lab: Lab, seed: int) -> List[str]:
    rng = random.Random(seed)
    count = rng.randint(4, 7)
    names = [lab.netns(f"t{i}") for i in range(count)]
    bridge = lab.link_name("br")
    lab.ip("link", "add", bridge, "type", "bridge")
    lab.root_links.append(bridge)
    for i, ns in enumerate(names):
        if rng.random() < 0.8:
            host = lab.link_name(f"h{i}")
            lab.veth(host, None, "eth0", ns)
            lab.ip("link", "set", host, "master", bridge)
    shuffled = names[:]
    rng.shuffle(shuffled)
    for a, b in zip(shuffled[::2], shuffled[1::2]):
        lab.veth("eth1", a, "eth1", b)  # the same name at both ends, the ifindexes colliding
    inside = rng.choice(names)
    lab.veth("left", inside, "right", inside)
    other = rng.choice(names)
    lab.ip("-n", other, "link", "add", "eth2", "type", "bridge")
    lab.ip("-n", other, "link", "add", "link", "right" if other == inside else "lo", "name", "mv0",
           "type", "macvlan", check=False)
    return names


def answer(args: List[str]) -> Tuple[str, str, int]:
    result = run_cli(*args)
    return result.stdout, result.stderr, result.returncode


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_targeted_and_whole_answers_agree_for_every_interface(lab: Lab, seed: int, tmp_path: object) -> None:
    names = build_world(lab, seed)
    saved = os.path.join(str(tmp_path), "whole.json")
    asked = 0
    everywhere = set()
    for ns in names:
        for link in lab.links(ns):
            args = ["peer", link["ifname"], "--netns", ns]
            targeted, whole = answer(args), answer([*args, "--save", saved])
            assert targeted == whole, (args, targeted, whole)
            asked += 1
            everywhere.add(link["ifname"])
    assert asked >= len(names) * 2
    # Without --netns, every namespace is searched: ours in every namespace of ours, the root
    # ones of ours (host veths, the bridge) in root, and as `ip link` prints one (name@ifN).
    root_links = [link for link in lab.links(None) if link["ifname"].startswith(lab.prefix)]
    everywhere.update(link["ifname"] for link in root_links)
    everywhere.update(f"{link['ifname']}@if{link['link_index']}" for link in root_links if "link_index" in link)
    everywhere.update((lab.link_name("none"), "eth0@if1"))  # no such device; no device ip prints so
    for name in sorted(everywhere):
        args = ["peer", name]
        targeted, whole = answer(args), answer([*args, "--save", saved])
        assert targeted == whole, (args, targeted, whole)


def test_a_targeted_read_reads_the_namespace_asked_for_and_root_alone(lab: Lab) -> None:
    """Before: every namespace of the host was read for one question."""
    names = build_world(lab, 4)
    wanted, _by_owner, extra = netns_choice(names[0], "/", "/proc")
    assert wanted is not None
    reading = scanner.read_host(netns_paths=extra, only=(wanted,))
    read = {record.namespace.id for record in reading.snapshot.namespaces}
    root = [record.namespace.id for record in reading.snapshot.namespaces if record.namespace.root]
    assert read == {wanted, *root}
    whole = scanner.read_host(netns_paths=extra).snapshot
    assert len(whole.namespaces) > len(read) + len(names) - 2


def test_root_is_read_only_where_the_namespace_asked_about_points(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: root was dumped whole (at 10,000 namespaces, most of a targeted read's second).
    Now its links are asked for one by one: the peers there and their masters, with addresses."""
    from vethpeer.host import channel, ops

    pod, other = lab.netns("p"), lab.netns("q")
    host, bridge = lab.link_name("h"), lab.link_name("br")
    lab.ip("link", "add", bridge, "type", "bridge")
    lab.root_links.append(bridge)
    lab.veth(host, None, "eth0", pod)
    lab.ip("link", "set", host, "master", bridge)
    lab.ip("address", "add", "192.0.2.77/32", "dev", host)  # (TEST-NET-1; gone with the device)
    lab.veth(lab.link_name("o"), None, "eth0", other)
    dumped: List[int] = []
    real = channel.Channel.dump_links

    def spy(self: channel.Channel) -> object:
        fd = ops.socket_netns(self.sock.fileno())
        try:
            dumped.append(os.fstat(fd).st_ino)
        finally:
            os.close(fd)
        return real(self)

    monkeypatch.setattr(channel.Channel, "dump_links", spy)
    wanted, _by_owner, extra = netns_choice(pod, "/", "/proc")
    assert wanted is not None
    snap = scanner.read_host(netns_paths=extra, only=(wanted,)).snapshot
    assert dumped == [wanted.inode]
    (root,) = [record for record in snap.namespaces if record.namespace.root]
    assert sorted(link.name.decode() for link in root.links) == sorted([host, bridge])
    index = {link.name.decode(): link.ifindex for link in root.links}[host]
    assert [address.address for address in root.addresses if address.ifindex == index] == [bytes([192, 0, 2, 77])]


def test_the_cli_reads_the_whole_host_only_when_the_targeted_read_cannot_answer(
        lab: Lab, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from vethpeer import cli

    pod, other = lab.netns("p"), lab.netns("q")
    lab.veth(lab.link_name("h"), None, "eth0", pod)
    lab.veth("eth1", pod, "eth1", other)
    calls: List[object] = []
    real = scanner.read_host

    def spy(**kwargs: object) -> object:
        calls.append(kwargs.get("only"))
        return real(**kwargs)  # type: ignore[arg-type]

    chosen: List[object] = []
    real_chosen = scanner.read_chosen

    def spy_chosen(choose: object, **kwargs: object) -> object:
        reading = real_chosen(choose, **kwargs)  # type: ignore[arg-type]
        chosen.append(reading)
        return reading

    monkeypatch.setattr(scanner, "read_host", spy)
    monkeypatch.setattr(scanner, "read_chosen", spy_chosen)
    assert cli.main(["peer", "eth0", "--netns", pod]) == 0
    assert len(calls) == 1 and calls[0] is not None and chosen == []  # root holds the peer: NS and root were enough
    assert lab.link_name("h") in capsys.readouterr().out
    del calls[:]
    assert cli.main(["peer", "eth1", "--netns", pod]) == 0
    # The peer is elsewhere: the id NS gives it names the namespace to read with NS (before this,
    # the whole host was read).
    assert len(calls) == 1 and calls[0] is not None and len(chosen) == 1 and chosen[0] is not None
    read = {record.namespace.id.inode for record in chosen[0].snapshot.namespaces}  # type: ignore[attr-defined]
    assert {os.stat(f"/run/netns/{ns}").st_ino for ns in (pod, other)} <= read
    assert other in capsys.readouterr().out
    del calls[:], chosen[:]
    assert cli.main(["peer", "eth0", "--netns", pod, "--json"]) == 0
    assert calls == [None] and chosen == []  # the JSON shows relations of the whole host
    del calls[:]
    assert cli.main(["peer", lab.link_name("h")]) == 0  # searched everywhere, read where it is
    assert calls == [] and len(chosen) == 1 and chosen[0] is not None
    assert pod in capsys.readouterr().out
    del chosen[:]
    assert cli.main(["peer", lab.link_name("nothing")]) == 1
    # Every namespace answered it has none: that is the answer (a whole read was made before).
    assert chosen == [None] and calls == []
    assert "no interface named" in capsys.readouterr().err


def test_a_targeted_discovery_opens_only_the_names_of_the_namespaces_wanted(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: every /run/netns name was opened and checked, whichever namespace was asked about."""
    from vethpeer import discover
    from vethpeer.discover import named

    names = [lab.netns(f"d{i}") for i in range(5)]
    alias = lab.bind_mount(f"/run/netns/{names[1]}", "alias")
    opened: List[str] = []
    real = named._read_name

    def spy(c: object, name: str, path: str, *rest: object) -> None:
        opened.append(name)
        real(c, name, path, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(named, "_read_name", spy)
    wanted = os.stat(f"/run/netns/{names[1]}").st_ino
    found = discover.discover(only={wanted}, extra_paths=[alias])
    try:
        ours = [name for name in opened if name.startswith(lab.prefix)]
        assert ours == [names[1]]
        inodes = {item.inode for item in found.namespaces}
        assert wanted in inodes and len(inodes) <= 3  # with the own and the root one
        (item,) = [item for item in found.namespaces if item.inode == wanted]
        assert item.namespace.holders["names"] == (names[1],) and alias in item.namespace.holders["paths"]
    finally:
        found.close()


def test_devices_are_asked_for_by_name_altname_and_ifindex_in_one_exchange(lab: Lab) -> None:
    """``Channel.links_by``: a name up to 15 bytes goes as IFLA_IFNAME, a longer one as
    IFLA_ALT_IFNAME (the kernel finds altnames either way); what is not there is None, in order."""
    ns = lab.netns("n")
    lab.veth("a1", ns, "b1", ns)
    long_alt = "a-long-altname-" + lab.prefix
    lab.ip("-n", ns, "link", "property", "add", "dev", "a1", "altname", long_alt)
    lab.ip("-n", ns, "link", "property", "add", "dev", "a1", "altname", "short1")
    index = {link["ifname"]: link["ifindex"] for link in lab.links(ns)}
    with lab.channel(ns) as channel:
        got = channel.links_by([b"a1", long_alt.encode(), b"short1", b"none0"], [index["b1"], 999])
    assert [link and link.name for link in got] == [b"a1", b"a1", b"a1", None, b"b1", None]
    assert got[0] is not None and got[0].peer_index == index["b1"]


def test_run_from_inside_a_namespace_the_targeted_answers_are_the_whole_ones(lab: Lab, tmp_path: object) -> None:
    """Our own namespace not the root one (run under `ip netns exec`, as from a container): it
    and root are both read in part (for ``show``: asked by name and by filtered dumps, never
    dumped whole), and the answers are still the whole read's."""
    from lab import SRC

    home, pod, other = lab.netns("home"), lab.netns("p"), lab.netns("q")
    host = lab.link_name("h")
    lab.veth(host, None, "eth0", pod)  # the pod's peer in root
    lab.veth("up0", home, "eth1", pod)  # the pod wired to our own namespace
    lab.veth("x0", home, "x1", other)
    # What sits on our own namespace's devices: a macvlan moved away, and one left beside it.
    lab.ip("-n", home, "link", "add", "link", "up0", "name", "mvh", "type", "macvlan")
    lab.ip("-n", home, "link", "set", "mvh", "netns", other)
    lab.ip("-n", home, "link", "add", "link", "x0", "name", "mvx", "type", "macvlan")
    saved = os.path.join(str(tmp_path), "whole.json")

    def inside(*args: str) -> Tuple[str, str, int]:
        result = subprocess.run(["ip", "netns", "exec", home, sys.executable, "-m", "vethpeer", *args],
                                capture_output=True, text=True, timeout=300, check=False,
                                env=dict(os.environ, PYTHONPATH=SRC))
        return result.stdout, result.stderr, result.returncode

    questions = [["peer", "eth0", "--netns", pod], ["peer", "eth1", "--netns", pod], ["peer", "up0"],
                 ["peer", host], ["peer", "x1"], ["peer", "eth1"],
                 ["show", "up0"], ["show", "x0"], ["show", "mvh"], ["show", "mvx"], ["show", host],
                 ["show", "eth1", "--netns", pod], ["show", "eth0", "--netns", pod]]
    for args in questions:
        targeted, whole = inside(*args), inside(*args, "--save", saved)
        assert targeted == whole, (args, targeted, whole)
        assert targeted[2] == 0, targeted
