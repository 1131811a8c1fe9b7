"""``show IFNAME`` (with ``--netns NS`` or searching every namespace) reads the namespaces the
device is plugged into, and answers exactly what a whole read answers (live, root).

The world is ``test_live_targeted``'s (colliding ifindexes and names, pairs into root and between
namespaces, a bridge, a macvlan), with devices naming others across namespaces: a macvlan on a
root bridge moved into a namespace, a vxlan whose underlay is a root veth moved into another, a
macvlan made in a namespace and moved to root, one moved between namespaces. For every interface,
the targeted answer (stdout, stderr, exit code) is compared with the whole read's, made by the
same command with ``--save`` (which always reads everything).
"""

from __future__ import annotations

import os
import random
from typing import List, Tuple

import pytest

from lab import Lab, run_cli
from test_live_targeted import build_world as build_pairs
from vethpeer import scanner
from vethpeer.host.channel import DumpTooLong

pytestmark = pytest.mark.live


def build_world(lab: Lab, seed: int) -> List[str]:
    names = build_pairs(lab, seed)
    rng = random.Random(seed * 7919)
    hosts = [link for link in lab.root_links if link.startswith(lab.link_name("h"))]
    # A bridge port takes no macvlan (EBUSY): the macvlan goes on the bridge.
    underlay = rng.choice(hosts or [lab.link_name("br")])
    for name, kind in ((lab.link_name("mv"), ["link", lab.link_name("br"), "type", "macvlan"]),
                       (lab.link_name("vx"), ["type", "vxlan", "id", "42", "dev", underlay, "dstport", "4789"])):
        lab.root_links.append(name)  # removed if the move fails
        lab.ip("link", "add", "name", name, *kind)
        lab.ip("link", "set", name, "netns", rng.choice(names))
    paired = [ns for ns in names if any(link["ifname"] == "eth1" for link in lab.links(ns))]
    if len(paired) >= 2:
        a, b = rng.sample(paired, 2)
        up = lab.link_name("mr")
        lab.ip("-n", a, "link", "add", "link", "eth1", "name", up, "type", "macvlan")
        lab.root_links.append(up)
        lab.ip("-n", a, "link", "set", up, "netns", "1")  # into root, its lower left behind
        lab.ip("-n", a, "link", "add", "link", "eth1", "name", "mvb", "type", "macvlan")
        lab.ip("-n", a, "link", "set", "mvb", "netns", b)
    return names


def answer(args: List[str]) -> Tuple[str, str, int]:
    result = run_cli(*args)
    return result.stdout, result.stderr, result.returncode


@pytest.mark.parametrize("seed", [1, 2])
def test_targeted_and_whole_shows_agree_for_every_interface(lab: Lab, seed: int, tmp_path: object) -> None:
    agree_everywhere(lab, build_world(lab, seed), "show", os.path.join(str(tmp_path), "whole.json"))


def agree_everywhere(lab: Lab, names: List[str], command: str, saved: str) -> None:
    """``command IFNAME`` answers (stdout, stderr, exit) as a whole read (``--save saved``)
    does, for every interface of ``names`` with --netns, and by name alone for each of those
    names, the lab's root interfaces and two names only some namespaces hold or none."""
    everywhere = set()
    for ns in names:
        for link in lab.links(ns):
            args = [command, link["ifname"], "--netns", ns]
            targeted, whole = answer(args), answer([*args, "--save", saved])
            assert targeted == whole, (args, targeted, whole)
            everywhere.add(link["ifname"])
    root_links = [link for link in lab.links(None) if link["ifname"].startswith(lab.prefix)]
    everywhere.update(link["ifname"] for link in root_links)
    everywhere.update((lab.link_name("none"), "mvb"))
    for name in sorted(everywhere):
        args = [command, name]
        targeted, whole = answer(args), answer([*args, "--save", saved])
        assert targeted == whole, (args, targeted, whole)


def test_show_reads_where_the_device_is_plugged_in_and_not_the_whole_host(
        lab: Lab, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: ``show`` read every namespace of the host. Now only the device's own, its peer's
    and its uppers' are read (the rest of the host is asked for one link dump each)."""
    from vethpeer import cli

    pod, upper, other = lab.netns("p"), lab.netns("u"), lab.netns("o")
    host, mv = lab.link_name("h"), lab.link_name("mv")
    lab.veth(host, None, "eth0", pod)
    lab.veth(lab.link_name("o"), None, "eth0", other)
    lab.root_links.append(mv)
    lab.ip("link", "add", "link", host, "name", mv, "type", "macvlan")
    lab.ip("link", "set", mv, "netns", upper)
    whole: List[object] = []
    read: List[object] = []
    real_host, real_chosen = scanner.read_host, scanner.read_chosen

    def spy_host(**kwargs: object) -> object:
        whole.append(kwargs)
        return real_host(**kwargs)  # type: ignore[arg-type]

    def spy_chosen(choose: object, **kwargs: object) -> object:
        reading = real_chosen(choose, **kwargs)  # type: ignore[arg-type]
        read.append(None if reading is None else {record.namespace.id.inode for record in reading.snapshot.namespaces})
        return reading

    monkeypatch.setattr(scanner, "read_host", spy_host)
    monkeypatch.setattr(scanner, "read_chosen", spy_chosen)
    assert cli.main(["show", host]) == 0
    out = capsys.readouterr().out
    assert f"upper      {mv} (ifindex" in out and pod in out
    inodes = {os.stat(f"/run/netns/{ns}").st_ino for ns in (pod, upper, other)}
    assert whole == [] and len(read) == 1 and read[0] is not None
    assert inodes & read[0] == inodes - {os.stat(f"/run/netns/{other}").st_ino}  # type: ignore[operator]
    del read[:]
    assert cli.main(["show", "eth0", "--netns", pod]) == 0
    assert host in capsys.readouterr().out
    assert whole == [] and len(read) == 1
    assert inodes & read[0] == {os.stat(f"/run/netns/{pod}").st_ino}  # type: ignore[operator]
    del read[:]
    assert cli.main(["show", "eth0", "--netns", pod, "--json"]) == 0
    assert read == [] and len(whole) == 1  # the JSON reads the whole host


def test_link_dumps_the_kernel_filters_by_kind_and_by_master(lab: Lab) -> None:
    """``Channel.links_filtered``: only the devices of a kind, or a master's ports; a kind no
    module registered is not filtered by the kernel (every device comes back, ``lo`` among them),
    which ``kind_filtered`` tells; asking for nothing asks nothing (an empty send fails)."""
    ns = lab.netns("f")
    lab.ip("-n", ns, "link", "add", "br0", "type", "bridge")
    lab.veth("a1", ns, "b1", ns)
    lab.veth("a2", ns, "b2", ns)
    for port in ("a1", "a2"):
        lab.ip("-n", ns, "link", "set", port, "master", "br0")
    lab.ip("-n", ns, "link", "add", "link", "br0", "name", "mv0", "type", "macvlan")
    index = {link["ifname"]: link["ifindex"] for link in lab.links(ns)}
    with lab.channel(ns) as channel:
        assert [link.name for link in channel.links_filtered("macvlan").records] == [b"mv0"]
        assert sorted(link.name for link in channel.links_filtered(master=index["br0"]).records) == [b"a1", b"a2"]
        assert channel.kind_filtered("macvlan") and channel.kind_filtered("veth")
        assert not channel.kind_filtered("vpnosuchkind")
        assert channel.links_filtered("vpnosuchkind").records == []  # (filtered here instead)
        assert channel.links_by([], []) == []
    with lab.channel(ns) as channel, pytest.raises(DumpTooLong):
        channel.links_filtered(master=index["br0"], limit=1)  # (the channel is closed after it)
