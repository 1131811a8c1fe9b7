"""``reader.sweep``: where the devices of a name are and where their peers may be, asked of every
namespace one by one (against the simulated kernel: ``sim.SimKernel``)."""

from __future__ import annotations

from typing import Optional, Set

import pytest

from sim import SimKernel, World
from vethpeer.discover import Discovery, FoundNamespace
from vethpeer.model import Holders, Namespace, NamespaceId
from vethpeer.reader import sweep


def discovery_of(world: World, kernel: SimKernel, unreadable: Optional[Set[int]] = None) -> Discovery:
    found = []
    for inode in world.links:
        error = "cannot enter it" if unreadable and inode in unreadable else None
        found.append(FoundNamespace(Namespace(NamespaceId(4, inode), None, Holders(names=(f"ns{inode}",)),
                                              error=error), fd=kernel.fd_for(inode)))
    return Discovery(tuple(found), world.root, world.root, "pid 1", ())


def pods(count: int) -> World:
    """``count`` namespaces whose eth0 (ifindex 2 in each) pairs with a root veth h<i>, and a
    pair between two of them (both ends x, ifindex 3)."""
    world = World()
    for i in range(count):
        ns = world.namespace()
        world.veth_at(ns, 2, b"eth0", world.root, 100 + i, b"h%d" % i)
    first, second = list(world.links)[1:3]
    world.veth_at(first, 3, b"x", second, 3, b"x")
    return world


@pytest.mark.parametrize("room", [4, 1 << 20], ids=["a namespace at a time", "all at once"])
def test_a_root_veth_is_found_in_root_and_its_peer_among_namespaces_with_the_same_ifindexes(room: int) -> None:
    world = pods(6)
    kernel = SimKernel(world)
    pod = list(world.links)[4]
    found = sweep.sweep(discovery_of(world, kernel), [b"h3"], room, kernel)  # type: ignore[arg-type]
    assert found is not None
    assert {inode: [link.name for link in links] for inode, links in found.matches.items()} == {world.root: [b"h3"]}
    assert found.peers == {pod}  # every pod has a veth at ifindex 2; only one names 103 back


@pytest.mark.parametrize("room", [4, 1 << 20], ids=["a namespace at a time", "all at once"])
def test_a_match_found_after_its_peers_namespace_was_asked_is_asked_about_again(room: int) -> None:
    """The x pair's ends are in the first two pods: the second pod's x is found after the first
    pod was asked (in another window): the first is asked again, for that ifindex only."""
    world = pods(4)
    kernel = SimKernel(world)
    first, second = list(world.links)[1:3]
    world.rename(first, 3, b"y")
    found = sweep.sweep(discovery_of(world, kernel), [b"x"], room, kernel)  # type: ignore[arg-type]
    assert found is not None
    assert set(found.matches) == {second}
    assert found.peers == {first}


def test_every_match_of_a_name_is_found_and_a_namespace_not_asked_gives_up() -> None:
    world = pods(3)
    kernel = SimKernel(world)
    found = sweep.sweep(discovery_of(world, kernel), [b"eth0", b"lo"], 1 << 20, kernel)  # type: ignore[arg-type]
    assert found is not None
    assert set(found.matches) == set(world.links)  # lo everywhere, eth0 in every pod
    assert found.peers == {world.root}
    unreadable = {list(world.links)[2]}
    assert sweep.sweep(discovery_of(world, kernel, unreadable), [b"eth0"], 1 << 20, kernel) is None  # type: ignore[arg-type]


def test_a_name_many_namespaces_hold_with_peers_elsewhere_gives_up_early() -> None:
    """eth0 in every pod: each match would cost a question to every namespace."""
    world = pods(sweep.MAX_CROSS + 4)
    kernel = SimKernel(world)
    asked = []
    world.hooks.append(lambda operation, ns: asked.append(ns) if operation == "link" else None)
    assert sweep.sweep(discovery_of(world, kernel), [b"eth0"], 1 << 20, kernel) is None  # type: ignore[arg-type]
    assert len(set(asked)) <= sweep.MAX_CROSS + 2  # (root, then the pods up to the one too many)


def test_a_namespace_that_does_not_answer_gives_the_sweep_up() -> None:
    """Its socket was made but the question failed (a stuck rtnl lock, a timeout): the whole read
    then says what it could not read, never a sweep that took it for empty."""
    world = pods(3)
    kernel = SimKernel(world)
    world.stuck.add(list(world.links)[2])
    assert sweep.sweep(discovery_of(world, kernel), [b"h1"], 1 << 20, kernel) is None  # type: ignore[arg-type]
