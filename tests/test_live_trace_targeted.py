"""``trace IFNAME`` (with ``--netns NS`` or searching every namespace) reads only the namespaces its
walk enters, found round by round (``reader.reach``), and answers exactly what a whole read
answers (live, root).

The world is ``test_live_show_targeted``'s (colliding ifindexes and names, pairs into root and
between namespaces, a bridge, macvlans and a vxlan naming devices across namespaces) with a routed
pod (its host end on no bridge) whose namespace holds a bridge of its own, a port of which leads
into a further namespace. For every interface, the targeted answer (stdout, stderr, exit code) is
compared with the whole read's, made by the same command with ``--save`` (which always reads
everything).
"""

from __future__ import annotations

import os
from typing import List, Optional, Set

import pytest

from lab import Lab
from test_live_show_targeted import agree_everywhere, answer
from test_live_show_targeted import build_world as build_plugged
from vethpeer import discover, scanner

pytestmark = pytest.mark.live


def build_world(lab: Lab, seed: int) -> List[str]:
    names = build_plugged(lab, seed)
    routed, further = lab.netns("r"), lab.netns("f")
    lab.veth(lab.link_name("rt"), None, "eth0", routed)
    lab.ip("-n", routed, "link", "add", "br1", "type", "bridge")
    lab.veth("p1", routed, "eth0", further)
    lab.ip("-n", routed, "link", "set", "p1", "master", "br1")
    lab.ip("-n", routed, "link", "set", "eth0", "master", "br1")
    return [*names, routed, further]


@pytest.mark.parametrize("seed", [1, 2])
def test_targeted_and_whole_traces_agree_for_every_interface(lab: Lab, seed: int, tmp_path: object) -> None:
    agree_everywhere(lab, build_world(lab, seed), "trace", os.path.join(str(tmp_path), "whole.json"))


class Spy:
    """What ``cli.main`` read: each targeted read's namespaces (None: gave up), whole reads, and
    discoveries made."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read: List[Optional[Set[int]]] = []
        self.whole = 0
        self.discovered = 0
        real_host, real_chosen, real_discover = scanner.read_host, scanner.read_chosen, discover.discover

        def spy_host(**kwargs: object) -> object:
            self.whole += 1
            return real_host(**kwargs)  # type: ignore[arg-type]

        def spy_chosen(choose: object, **kwargs: object) -> object:
            reading = real_chosen(choose, **kwargs)  # type: ignore[arg-type]
            self.read.append(None if reading is None else
                             {record.namespace.id.inode for record in reading.snapshot.namespaces})
            return reading

        def spy_discover(*args: object, **kwargs: object) -> object:
            self.discovered += 1
            return real_discover(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(scanner, "read_host", spy_host)
        monkeypatch.setattr(scanner, "read_chosen", spy_chosen)
        monkeypatch.setattr(discover, "discover", spy_discover)

    def clear(self) -> None:
        self.read, self.whole, self.discovered = [], 0, 0


def inode(ns: str) -> int:
    return os.stat(f"/run/netns/{ns}").st_ino


def test_trace_reads_the_namespaces_its_walk_enters_and_not_the_whole_host(
        lab: Lab, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: ``trace`` read every namespace of the host. Now only those its walk enters are
    read: a routed pod's own (its host end on no bridge), a root bridge's ports' (the fork), a
    namespace-to-namespace pair's two (the other found by the id its namespace gives it)."""
    from vethpeer import cli

    routed, pod_a, pod_b, left, right, other = (lab.netns(tag) for tag in ("r", "a", "b", "x", "y", "o"))
    bridge = lab.link_name("br")
    lab.ip("link", "add", bridge, "type", "bridge")
    lab.root_links.append(bridge)
    lab.veth(lab.link_name("rt"), None, "eth0", routed)
    for tag, pod in (("ha", pod_a), ("hb", pod_b)):
        lab.veth(lab.link_name(tag), None, "eth0", pod)
        lab.ip("link", "set", lab.link_name(tag), "master", bridge)
    lab.veth("x0", left, "y0", right)
    lab.veth(lab.link_name("o"), None, "eth0", other)
    spy = Spy(monkeypatch)
    mine = {inode(ns) for ns in (routed, pod_a, pod_b, left, right, other)}

    def traced(*args: str) -> Set[int]:
        spy.clear()
        assert cli.main(["trace", *args]) == 0
        assert spy.whole == 0 and spy.discovered == 1 and len(spy.read) == 1 and spy.read[0] is not None
        return mine & spy.read[0]

    assert traced("eth0", "--netns", routed) == {inode(routed)}
    assert lab.link_name("rt") in capsys.readouterr().out
    assert traced(lab.link_name("ha")) == {inode(pod_a), inode(pod_b)}
    assert "5 interfaces reached" in capsys.readouterr().out  # ha, the bridge, hb, and both eth0s
    assert traced("x0", "--netns", left) == {inode(left), inode(right)}
    assert "y0" in capsys.readouterr().out
    assert traced("y0") == {inode(left), inode(right)}
    capsys.readouterr()
    spy.clear()
    assert cli.main(["trace", "eth0", "--netns", routed, "--json"]) == 0
    assert spy.read == [] and spy.whole == 1  # the JSON reads the whole host


@pytest.mark.parametrize("limit", ["MAX_NAMESPACES", "MAX_PORTS"])
def test_a_walk_that_enters_too_many_namespaces_reads_the_whole_host_from_one_discovery(
        lab: Lab, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object,
        limit: str) -> None:
    """Past ``MAX_NAMESPACES``, or at a root bridge of more than ``MAX_PORTS`` ports (the rest
    left unread), the plan gives up, and the host is read whole from the discovery already made
    (before: discovered again, 0.3 s at 10,000 namespaces); the answer is the whole read's."""
    from vethpeer import cli
    from vethpeer.reader import reach

    bridge = lab.link_name("br")
    lab.ip("link", "add", bridge, "type", "bridge")
    lab.root_links.append(bridge)
    pods = [lab.netns(f"p{i}") for i in range(3)]
    for i, pod in enumerate(pods):
        lab.veth(lab.link_name(f"h{i}"), None, "eth0", pod)
        lab.ip("link", "set", lab.link_name(f"h{i}"), "master", bridge)
    saved = os.path.join(str(tmp_path), "whole.json")
    whole = answer(["trace", "eth0", "--netns", pods[0], "--save", saved])
    monkeypatch.setattr(reach, limit, 2)
    spy = Spy(monkeypatch)
    code = cli.main(["trace", "eth0", "--netns", pods[0]])
    out, err = capsys.readouterr()
    assert (out, err, code) == whole
    assert spy.discovered == 1 and spy.whole == 0 and len(spy.read) == 1 and spy.read[0] is not None
    assert {inode(pod) for pod in pods} <= spy.read[0]


def test_a_mount_table_changed_since_it_was_read_early_is_discovered_again(lab: Lab) -> None:
    """The whole read a plan gave up for answers from a discovery made with the mount table read
    early (``host.early``); when the table is no longer that one (a name made since), the read
    gives up instead, and the caller reads the host again from the start."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
        text = handle.read()
    assert scanner.read_chosen(lambda found, room: scanner.EVERYTHING, mountinfo=lambda: text) is not None
    assert scanner.read_chosen(lambda found, room: scanner.EVERYTHING, mountinfo=lambda: text + "\n") is None
