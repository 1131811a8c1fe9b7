"""The watch's diff, on hand-made Topologies: what counts as a move, and what is said only once."""

from __future__ import annotations

import json
from typing import Dict, Optional, Sequence, Tuple

from topo import found
from vethpeer.events import State, diff
from vethpeer.model import Holders, Link, LinkRef, Namespace, NamespaceId, Pair, Topology
from vethpeer.render.watch import JsonLines, render_text

ROOT = NamespaceId(4, 1)
A = NamespaceId(4, 2)
B = NamespaceId(4, 3)


def ns(netns: NamespaceId, cookie: int, error: Optional[str] = None) -> Namespace:
    return Namespace(netns, cookie, Holders(names=(f"n{cookie}",) if netns != ROOT else ()), root=netns == ROOT,
                     own=netns == ROOT, error=error, link_count=None if error else 1)


def veth(netns: NamespaceId, ifindex: int, name: str, mac: str, master: Optional[int] = None) -> Link:
    return Link(LinkRef(netns, ifindex), name, "veth", None, mac, 1500, "UP", True, master, None, None, (), ())


def topology(links: Sequence[Link], pairs: Sequence[Tuple[Link, Link]], namespaces: Sequence[Namespace] = (),
             warnings: Tuple[str, ...] = ()) -> State:
    spaces = list(namespaces) or [ns(ROOT, 1), ns(A, 2), ns(B, 3)]
    by_ref: Dict[LinkRef, Link] = {link.ref: link for link in links}
    return State(Topology(tuple(spaces), by_ref, tuple(Pair(x.ref, y.ref) for x, y in pairs), (), warnings,
                           "pid 1"))


def kinds(old: State, new: State) -> list:
    return [event.kind for event in diff(old, new, 0.0)]


def test_same_peer_and_mac_in_another_namespace_is_a_move() -> None:
    root_end = veth(ROOT, 10, "r", "02:00:00:00:00:01")
    old_end = veth(A, 2, "n", "02:00:00:00:00:02")
    before = topology([root_end, old_end], [(root_end, old_end)])
    moved = veth(B, 5, "n", "02:00:00:00:00:02")
    after = topology([root_end, moved], [(root_end, moved)])
    events = diff(before, after, 0.0)
    assert [e.kind for e in events] == ["end-moved"]
    assert events[0].link == moved.ref and events[0].from_ifindex == 2
    assert events[0].from_netns is not None and events[0].from_netns.id == A


def test_another_mac_is_not_the_same_device() -> None:
    root_end = veth(ROOT, 10, "r", "02:00:00:00:00:01")
    old_end = veth(A, 2, "n", "02:00:00:00:00:02")
    new_end = veth(B, 5, "n", "02:00:00:00:00:03")
    before = topology([root_end, old_end], [(root_end, old_end)])
    after = topology([root_end, new_end], [(root_end, new_end)])
    assert kinds(before, after) == ["pair-vanished", "pair-appeared"]


def test_old_end_still_there_is_not_a_move() -> None:
    # A new pair shares root_end's key only by ifindex reuse; the old end is still in A: no move.
    root_end = veth(ROOT, 10, "r", "02:00:00:00:00:01")
    old_end = veth(A, 2, "n", "02:00:00:00:00:02")
    new_end = veth(B, 5, "n", "02:00:00:00:00:02")
    before = topology([root_end, old_end], [(root_end, old_end)])
    after = topology([root_end, old_end, new_end], [(root_end, new_end)])
    assert "end-moved" not in kinds(before, after)


def test_rename_and_master_change_of_one_end() -> None:
    bridge = Link(LinkRef(ROOT, 3), "br0", "bridge", None, "02:00:00:00:00:09", 1500, "UP", True, None, None,
                  None, (), ())
    end = veth(ROOT, 10, "r", "02:00:00:00:00:01")
    peer = veth(A, 2, "n", "02:00:00:00:00:02")
    before = topology([bridge, end, peer], [(end, peer)])
    after_end = veth(ROOT, 10, "r2", "02:00:00:00:00:01", master=3)
    after = topology([bridge, after_end, peer], [(after_end, peer)])
    events = diff(before, after, 0.0)
    assert [(e.kind, e.old_name, e.old_master, e.new_master) for e in events] == [
        ("end-renamed", "r", None, None), ("master-changed", None, None, "br0")]


def test_a_master_change_names_the_old_and_the_new_master() -> None:
    """Before: only the old one ('master was br0')."""
    one = Link(LinkRef(ROOT, 3), "br0", "bridge", None, "02:00:00:00:00:09", 1500, "UP", True, None, None,
               None, (), ())
    two = one._replace(ref=LinkRef(ROOT, 4), name="br1", mac="02:00:00:00:00:0a")
    peer = veth(A, 2, "n", "02:00:00:00:00:02")
    before = topology([one, two, veth(ROOT, 10, "r", "02:00:00:00:00:01", master=3), peer],
                      [(veth(ROOT, 10, "r", "02:00:00:00:00:01", master=3), peer)])
    after = topology([one, two, veth(ROOT, 10, "r", "02:00:00:00:00:01", master=4), peer],
                     [(veth(ROOT, 10, "r", "02:00:00:00:00:01", master=4), peer)])
    (event,) = diff(before, after, 0.0)
    assert (event.kind, event.old_master, event.new_master) == ("master-changed", "br0", "br1")
    assert "master was br0, now br1" in render_text(event)
    assert json.loads(JsonLines().render(event))["new_master"] == "br1"


def test_a_renamed_bridge_is_one_event_not_one_per_port() -> None:
    """Before: renaming a bridge was a master-changed for every port on it."""
    bridge = Link(LinkRef(ROOT, 3), "br0", "bridge", None, "02:00:00:00:00:09", 1500, "UP", True, None, None,
                  None, (), ())
    ports = [veth(ROOT, 10 + i, f"r{i}", f"02:00:00:00:01:0{i}", master=3) for i in range(3)]
    peers = [veth(A, 2 + i, f"n{i}", f"02:00:00:00:02:0{i}") for i in range(3)]
    before = topology([bridge, *ports, *peers], list(zip(ports, peers)))
    after = topology([bridge._replace(name="br-renamed"), *ports, *peers], list(zip(ports, peers)))
    events = diff(before, after, 0.0)
    assert [(e.kind, e.old_name) for e in events] == [("master-renamed", "br0")]
    assert events[0].link == bridge.ref


def test_an_unreadable_namespace_is_reported_once() -> None:
    spaces = [ns(ROOT, 1), ns(A, 2, error="cannot enter it: operation not permitted")]
    first = topology([], [], spaces)
    again = topology([], [], spaces)
    changed = topology([], [], [ns(ROOT, 1), ns(A, 2, error="cannot enter it: stale")])
    empty = topology([], [], [ns(ROOT, 1)])
    assert kinds(empty, first) == ["warning", "netns-appeared"]
    assert kinds(first, again) == []
    assert kinds(again, changed) == ["warning"]


def test_an_inode_reused_by_another_namespace_is_a_new_namespace() -> None:
    before = topology([], [], [ns(ROOT, 1), ns(A, 2)])
    after = topology([], [], [ns(ROOT, 1), ns(A, 7)])
    assert kinds(before, after) == ["netns-appeared", "netns-vanished"]


def test_a_deleted_unresolved_end_is_an_event() -> None:
    """Before: nothing was said, and a consumer kept the end for ever."""
    from vethpeer.model import Unresolved

    end = veth(ROOT, 10, "r", "02:00:00:00:00:01")
    spaces = (ns(ROOT, 1), ns(A, 2), ns(B, 3))
    lost = Unresolved(end.ref, "peer-netns-unreachable", "the peer's namespace could not be found", 2, 0, None)
    before = State(Topology(spaces, {end.ref: end}, (), (lost,), (), "pid 1"))
    after = State(Topology(spaces, {}, (), (), (), "pid 1"))
    (event,) = diff(before, after, 0.0)
    assert (event.kind, event.link, event.reason) == ("end-vanished", end.ref, "peer-netns-unreachable")
    assert event.topology is before.topology  # its last known facts
    line = json.loads(JsonLines().render(event))
    assert line["link"]["ifname"] == "r" and line["reason"] == "peer-netns-unreachable"


def test_an_ends_change_touches_its_peers_namespace() -> None:
    """Before: `watch -n NS` left out a master change on NS's own veth's host end."""
    bridge = Link(LinkRef(ROOT, 3), "br0", "bridge", None, "02:00:00:00:00:09", 1500, "UP", True, None, None,
                  None, (), ())
    host = veth(ROOT, 10, "r", "02:00:00:00:00:01", master=3)
    inside = veth(A, 2, "eth0", "02:00:00:00:00:02")
    before = topology([bridge, host, inside], [(host, inside)])
    unplugged = host._replace(master=None)
    after = topology([bridge, unplugged, inside], [(unplugged, inside)])
    (event,) = diff(before, after, 0.0)
    assert event.kind == "master-changed"
    assert {n.id for n in event.namespaces()} == {ROOT, A}


def test_a_move_and_a_rename_in_one_scan_are_both_said() -> None:
    """Before: a rename made right after a move, both seen by one scan, was folded into the move:
    no end-renamed ever came."""
    root_end = veth(ROOT, 10, "r", "02:00:00:00:00:01")
    old_end = veth(A, 2, "y1", "02:00:00:00:00:02")
    new_end = veth(B, 5, "y2", "02:00:00:00:00:02")
    before = topology([root_end, old_end], [(root_end, old_end)])
    after = topology([root_end, new_end], [(root_end, new_end)])
    events = diff(before, after, 0.0)
    assert [(e.kind, e.old_name) for e in events] == [("end-moved", None), ("end-renamed", "y1")]
    assert events[1].link == new_end.ref


BRIDGE = Link(LinkRef(ROOT, 3), "br0", "bridge", None, "02:00:00:00:00:09", 1500, "UP", True, None, None,
              None, (), ())


def test_an_end_moved_carries_its_peer_and_every_namespace_its_cookie() -> None:
    """Before: a consumer of `watch -n B` had never seen the pair an end moved into B brings, and
    the move named only the moved end. And a namespace was keyed only by its inode, which a new
    namespace gets as soon as the old one is gone."""
    root_end = veth(ROOT, 10, "r", "02:00:00:00:00:01")
    old_end = veth(A, 2, "n", "02:00:00:00:00:02")
    before = topology([root_end, old_end], [(root_end, old_end)])
    moved = veth(B, 5, "n", "02:00:00:00:00:02")
    (event,) = diff(before, topology([root_end, moved], [(root_end, moved)]), 0.0)
    line = json.loads(JsonLines().render(event))
    assert (line["peer"]["ifname"], line["peer"]["ifindex"], line["peer"]["netns"]["root"]) == ("r", 10, True)
    cookies = (line["link"]["netns"]["cookie"], line["from"]["netns"]["cookie"], line["peer"]["netns"]["cookie"])
    assert cookies == (3, 2, 1)


def test_a_renamed_bridge_is_news_to_whoever_watches_its_ports_peers() -> None:
    """Before: `watch -n A` never heard that A's host veth's bridge was renamed (its master name
    went stale); and a port plugged in as the bridge was renamed changed the bridge's MAC, and
    the rename was not said at all."""
    port = veth(ROOT, 10, "r", "02:00:00:00:00:01", master=3)
    inside = veth(A, 2, "eth0", "02:00:00:00:00:02")
    other, other_peer = veth(ROOT, 11, "s", "02:00:00:00:00:03"), veth(B, 2, "eth0", "02:00:00:00:00:04")
    before = topology([BRIDGE, port, inside, other, other_peer], [(port, inside), (other, other_peer)])
    plugged = other._replace(master=3)
    after = topology([BRIDGE._replace(name="br1", mac="02:00:00:00:00:01"), port, inside, plugged, other_peer],
                     [(port, inside), (plugged, other_peer)])
    events = diff(before, after, 0.0)
    assert [(e.kind, e.old_name) for e in events] == [("master-renamed", "br0"), ("master-changed", None)]
    assert {n.id for n in events[0].namespaces()} == {ROOT, A, B}


def test_an_end_whose_pair_vanished_is_not_said_renamed() -> None:
    """Before: its peer's namespace deleted as it was renamed, the end came out as pair-vanished
    then end-renamed: a rename of an end the consumer had just let go."""
    from vethpeer.model import Unresolved

    end, peer = veth(ROOT, 10, "r", "02:00:00:00:00:01"), veth(A, 2, "n", "02:00:00:00:00:02")
    before = topology([end, peer], [(end, peer)])
    renamed = end._replace(name="r2")
    lost = Unresolved(renamed.ref, "peer-netns-unreachable", "gone", 2, 0, None)
    after = State(Topology((ns(ROOT, 1), ns(B, 3)), {renamed.ref: renamed}, (), (lost,), (), "pid 1"))
    events = diff(before, after, 0.0)
    assert [e.kind for e in events] == ["pair-vanished", "end-unresolved", "netns-vanished"]
    assert json.loads(JsonLines().render(events[1]))["link"]["ifname"] == "r2"


def test_a_namespace_named_after_it_appeared_is_a_netns_changed() -> None:
    """Before: seen half-made (`ip netns add` holds it as pid N (ip) before the bind mount), a
    namespace kept that label in the watch for ever."""

    half = ns(A, 2)._replace(holders=Holders(pids=(77,)), comm="ip")
    named = ns(A, 2)
    before, after = topology([], [], [ns(ROOT, 1), half]), topology([], [], [ns(ROOT, 1), named])
    (event,) = diff(before, after, 0.0)
    assert (event.kind, event.old_name, event.old_label, event.netns) == ("netns-changed", None, "pid 77 (ip)", A)
    line = json.loads(JsonLines().render(event))
    assert (line["netns"]["name"], line["old_label"], line["old_name"]) == ("n2", "pid 77 (ip)", None)
    assert "n2 was pid 77 (ip)" in render_text(event)
    # Someone running a shell in it (a process owner) is no news; a container named after it is.
    shell = named._replace(holders=named.holders.replace(pids=(99,)),
                           owners=(found("process", "pid 99 (bash)", "99", (), "pid"),))
    assert kinds(after, topology([], [], [ns(ROOT, 1), shell])) == []
    docker = named._replace(owners=(found("docker", "web-1", "c0ffee", (), "config.v2.json SandboxKey"),))
    assert kinds(after, topology([], [], [ns(ROOT, 1), docker])) == ["netns-changed"]
