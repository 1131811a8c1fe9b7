"""``reader.reach``: the plan of a targeted ``trace``: the namespaces its walk enters, found round
by round from the devices' own relations (against the simulated kernel: ``sim.SimKernel``)."""

from __future__ import annotations

from typing import List

import pytest

from sim import SimKernel, World
from test_sweep import discovery_of, pods
from vethpeer.reader import around, reach


def plan(world: World, names: List[bytes], netns: object = None, room: int = 1 << 20) -> object:
    kernel = SimKernel(world)
    return reach.reach(discovery_of(world, kernel), names, netns, room, kernel)  # type: ignore[arg-type]


@pytest.mark.parametrize("room", [4, 1 << 20], ids=["a namespace at a time", "all at once"])
def test_a_pods_eth0_walks_to_its_root_peer_and_no_further(room: int) -> None:
    world = pods(6)
    pod = list(world.links)[4]
    found = plan(world, [b"eth0"], pod, room)
    assert isinstance(found, around.Around)
    assert found.whole == {pod}
    assert found.parts == {world.root: frozenset({103})}


def test_a_root_veth_walks_into_the_pod_its_id_names_among_colliding_ifindexes() -> None:
    world = pods(6)
    pod = list(world.links)[4]
    found = plan(world, [b"h3"])
    assert isinstance(found, around.Around)
    assert found.whole == {pod}  # every pod has a veth at ifindex 2; only its id names one
    assert found.parts == {world.root: frozenset({103})}


def test_a_pair_between_namespaces_is_found_by_the_id_that_names_neither_root_nor_ours() -> None:
    world = pods(5)
    first, second = list(world.links)[1:3]
    found = plan(world, [b"x"], first)
    assert isinstance(found, around.Around)
    assert found.whole == {first, second}
    assert found.parts == {}


def test_a_macvlan_walks_to_its_lower_in_root_and_on_through_that_veth() -> None:
    """Three namespaces in three rounds: the macvlan's, root (its lower), the pod the lower's
    peer is in; never inwards (to the other pods, or to devices naming the macvlan)."""
    world = pods(4)
    pods_ = list(world.links)[1:]
    world.add(pods_[2], b"mv0", "macvlan", (world.root, 101))
    world.add(pods_[0], b"mv1", "macvlan", (pods_[2], 2))  # names the pod's eth0: inwards of it
    found = plan(world, [b"mv0"], pods_[2])
    assert isinstance(found, around.Around)
    assert found.whole == {pods_[2], pods_[1]}
    assert found.parts == {world.root: frozenset({101})}


def test_what_cannot_be_asked_or_enters_too_many_namespaces_gives_the_plan_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    world = pods(4)
    kernel = SimKernel(world)
    pod = list(world.links)[2]
    assert reach.reach(discovery_of(world, kernel, {pod}), [b"h1"], None, 1 << 20, kernel) is None  # type: ignore[arg-type]
    world.stuck.add(pod)
    assert plan(world, [b"h1"]) is None
    world.stuck.clear()
    assert plan(world, [b"h1"]) is not None
    assert plan(world, [b"nothing"]) is None and plan(world, [b"nothing"], pod) is None
    monkeypatch.setattr(reach, "MAX_NAMESPACES", 1)
    assert plan(world, [b"h1"]) is None  # root and the pod


def test_the_plan_of_a_peer_is_the_first_step_and_only_to_peers() -> None:
    """``peers``: the devices and their peers' namespaces (read, not walked further); a macvlan's
    lower is not a peer."""
    world = pods(5)
    first, second = list(world.links)[1:3]
    kernel = SimKernel(world)
    found = reach.reach(discovery_of(world, kernel), [b"x"], first, 1 << 20, kernel, peers=True)  # type: ignore[arg-type]
    assert isinstance(found, around.Around)
    assert found.whole == {first, second} and found.parts == {}
    world.add(second, b"mv0", "macvlan", (world.root, 100))
    found = reach.reach(discovery_of(world, kernel), [b"mv0"], second, 1 << 20, kernel, peers=True)  # type: ignore[arg-type]
    assert isinstance(found, around.Around)
    assert found.whole == {second} and found.parts == {}
    found = reach.reach(discovery_of(world, kernel), [b"eth0"], second, 1 << 20, kernel, peers=True)  # type: ignore[arg-type]
    assert isinstance(found, around.Around)
    assert found.whole == {second} and found.parts == {world.root: frozenset({101})}
