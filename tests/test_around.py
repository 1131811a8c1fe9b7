"""``reader.around``: the plan of a targeted ``show``: which namespaces a device of a name is
plugged into (its peer's, lower's, underlay's, and those of the devices naming it as theirs),
from one link dump per namespace (against the simulated kernel: ``sim.SimKernel``)."""

from __future__ import annotations

from typing import List, Optional, Tuple

import pytest

from sim import SimKernel, World
from test_sweep import discovery_of, pods
from vethpeer.reader import around


def plan(world: World, names: List[bytes], netns: object = None, room: int = 1 << 20) -> object:
    kernel = SimKernel(world)
    return around.around(discovery_of(world, kernel), names, netns, room, kernel)  # type: ignore[arg-type]


@pytest.mark.parametrize("room", [4, 1 << 20], ids=["a namespace at a time", "all at once"])
def test_a_pods_eth0_is_read_with_root_in_part_at_its_peer(room: int) -> None:
    """Every pod has an eth0 at ifindex 2 naming a root veth: the pod asked about is read whole,
    root only at that veth (found by the id the pod gives root), no other pod."""
    world = pods(6)
    pod = list(world.links)[4]
    found = plan(world, [b"eth0"], pod, room)
    assert isinstance(found, around.Around)
    assert found.whole == {pod}
    assert found.parts == {world.root: frozenset({103})}
    assert found.related == frozenset()


def test_a_root_veth_is_read_in_part_and_its_peer_whole_among_colliding_ifindexes() -> None:
    world = pods(6)
    pod = list(world.links)[4]
    found = plan(world, [b"h3"])
    assert isinstance(found, around.Around)
    assert found.whole == {pod}  # every pod has a veth at ifindex 2; its id names one
    assert found.parts == {world.root: frozenset({103})}


def test_a_pair_between_namespaces_is_narrowed_to_the_one_the_id_names() -> None:
    """Both x ends at ifindex 3, and every pod's eth0 at 2: only the namespace the match's
    namespace gives the id it names is read."""
    world = pods(5)
    first, second = list(world.links)[1:3]
    third = list(world.links)[3]
    world.veth_at(third, 3, b"z", list(world.links)[4], 3, b"z")  # another pair at ifindex 3 naming 3 back
    found = plan(world, [b"x"], first)
    assert isinstance(found, around.Around)
    assert found.whole == {first, second}
    assert found.parts == {}


def test_uppers_in_other_namespaces_and_ports_and_uppers_in_root_are_read() -> None:
    """A macvlan in a pod whose lower is the root veth shown, another in root on it, and a bridge
    port: each is read, and those naming it from elsewhere must be proven."""
    world = pods(4)
    pods_ = list(world.links)[1:]
    host = 101
    upper = world.add(pods_[2], b"mv0", "macvlan", (world.root, host))
    here = world.add(world.root, b"mv1", "macvlan", (world.root, host))
    other = world.add(pods_[0], b"mv2", "macvlan", (world.root, 102))  # on another root device
    found = plan(world, [b"h1"])
    assert isinstance(found, around.Around)
    assert found.whole == {pods_[1], pods_[2]}
    assert found.parts == {world.root: frozenset({host, here})}
    assert found.related == {(pods_[2], upper)}
    assert (pods_[0], other) not in found.related


def test_what_cannot_be_asked_gives_the_plan_up() -> None:
    world = pods(4)
    kernel = SimKernel(world)
    unreadable = {list(world.links)[2]}
    assert around.around(discovery_of(world, kernel, unreadable), [b"h0"], None, 1 << 20, kernel) is None  # type: ignore[arg-type]
    world.stuck.add(list(world.links)[3])
    assert plan(world, [b"h0"]) is None
    world.stuck.clear()
    assert plan(world, [b"nothing"]) is None  # no match: the whole read says so


def test_many_matches_with_targets_away_from_root_give_up() -> None:
    """Each costs a question to every candidate namespace."""
    world = World()
    for _ in range(around.MAX_AWAY + 1):
        a, b = world.namespace(), world.namespace()
        world.veth_at(a, 2, b"p", b, 2, b"q")
    assert plan(world, [b"p"]) is None
    assert plan(world, [b"p"], list(world.links)[1]) is not None  # one of them is asked about


def test_a_name_most_namespaces_hold_gives_up_early() -> None:
    """``lo`` everywhere: each match is a namespace read whole, so the host is read whole."""
    world = pods(around.MAX_MATCHES + 4)
    dumped = []
    world.hooks.append(lambda operation, ns: dumped.append(ns) if operation == "dump" else None)
    assert plan(world, [b"lo"]) is None
    assert len(dumped) == around.MAX_MATCHES + 1
    assert plan(world, [b"lo"], list(world.links)[3]) is not None


def test_a_device_naming_the_same_ifindex_in_another_namespace_is_no_upper() -> None:
    """Both x ends are at ifindex 3; a macvlan on the second one names ifindex 3 too, by the id
    its namespace gives the second: asked which id it gives the first, it is ruled out."""
    world = pods(4)
    first, second, third = list(world.links)[1:4]
    world.add(third, b"mv0", "macvlan", (second, 3))
    upper = world.add(third, b"mv1", "macvlan", (first, 3))
    found = plan(world, [b"x"], first)
    assert isinstance(found, around.Around)
    assert found.related == {(third, upper)}
    assert found.whole == {first, second, third}
    found = plan(world, [b"x"], second)
    assert isinstance(found, around.Around)
    assert found.related == {(third, upper - 1)}


def test_root_is_never_dumped_whole_and_asked_only_for_kinds_the_kernel_filters_by(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: root was dumped whole, 0.9 s at 10,000 namespaces (the kernel walks root's id table
    of every namespace for each veth it reports). Now its devices of a name are asked for by name,
    and of the kinds that can stack on a device only those a module registered (learnt once, from
    another namespace: a kind no module registered is not filtered at all)."""
    import sim

    world = pods(4)
    world.unregistered.update({"vlan", "ipvlan"})
    upper = world.add(world.root, b"mv0", "macvlan", (world.root, 101))
    calls: List[Tuple[str, int]] = []
    world.hooks.append(lambda operation, ns: calls.append((operation, ns)))
    asked: List[object] = []
    real = sim.SimChannel.links_filtered

    def spy(self: sim.SimChannel, kind: Optional[str] = None, master: int = 0) -> object:
        asked.append(kind)
        return real(self, kind, master)

    monkeypatch.setattr(sim.SimChannel, "links_filtered", spy)
    found = plan(world, [b"h1"])
    assert isinstance(found, around.Around)
    assert found.parts == {world.root: frozenset({101, upper})}  # h1 and the macvlan on it
    assert ("dump", world.root) not in calls
    assert len([call for call in calls if call[0] == "probe"]) == len(around.RELATED_KINDS) + 1  # (veth first)
    assert "vlan" not in asked and "ipvlan" not in asked and "macvlan" in asked


def test_a_kernel_that_filters_dumps_by_no_kind_gives_the_plan_up() -> None:
    """Before Linux 4.15 a kind-filtered dump is a whole one: every kind looked unregistered,
    and root's macvlans would never have been asked for. A namespace with a veth shows it."""
    world = pods(3)
    world.add(world.root, b"mv0", "macvlan", (world.root, 101))
    world.no_filters = True
    assert plan(world, [b"h1"]) is None
    world.no_filters = False
    assert plan(world, [b"h1"]) is not None


def test_kinds_are_learnt_from_a_namespace_holding_a_device_of_some_kind() -> None:
    """The first namespaces hold only lo (a kernel filtering nothing would look like one filtering
    everything there): the kinds are asked of the first one with a veth."""
    world = World()
    empty = [world.namespace() for _ in range(3)]
    pod = world.namespace()
    world.veth_at(pod, 2, b"eth0", world.root, 100, b"h0")
    probed: List[int] = []
    world.hooks.append(lambda operation, ns: probed.append(ns) if operation == "probe" else None)
    found = plan(world, [b"h0"])
    assert isinstance(found, around.Around) and found.whole == {pod}
    assert set(probed) == {pod} and not set(empty) & set(probed)
