"""The resolver on simulated kernels: never a wrong pair, every provable pair, linear questions."""

from __future__ import annotations

import os
import random
from typing import Dict, Set, Tuple

import pytest

from sim import World
from vethpeer import snapshot as snapshot_io
from vethpeer.host.netlink import LinkRecord
from vethpeer.model import Holders, Namespace, NamespaceId, Topology
from vethpeer.resolve import FdQuestion, HintQuestion, ViaQuestion, resolve
from vethpeer.snapshot import NamespaceRecord, NsidAnswer, Snapshot


def found_pairs(topology: Topology) -> Set[frozenset]:
    return {frozenset(((p.a.netns.inode, p.a.ifindex), (p.b.netns.inode, p.b.ifindex))) for p in topology.pairs}


def reasons(topology: Topology) -> Dict[Tuple[int, int], str]:
    return {(u.link.netns.inode, u.link.ifindex): u.reason for u in topology.unresolved}


def run(world: World) -> Tuple[Topology, list]:
    snapshot, asked = world.ask_all(world.snapshot())
    return resolve(snapshot), asked


def random_world(seed: int) -> World:
    """Hosts of every shape: root uplinks, identically wired groups, same-namespace pairs,
    namespaces without a path to root, and ids assigned for unrelated reasons."""
    rng = random.Random(seed)
    world = World()
    namespaces = [world.namespace() for _ in range(rng.randint(1, 14))]
    world.noise(rng, rng.randint(0, 10))
    for ns in namespaces:
        if rng.random() < 0.6:
            world.veth(ns, world.root, b"eth0", b"vethX")
    # Groups wired identically: every member gets the same sequence of links.
    for _ in range(rng.randint(0, 3)):
        size = rng.randint(2, 5)
        left = [world.namespace() for _ in range(size)]
        right = [world.namespace() for _ in range(size)]
        uplink = rng.random() < 0.5
        for a, b in zip(left, right):
            if uplink:
                world.veth(a, world.root, b"up", b"vu")
                world.veth(b, world.root, b"up", b"vu")
            world.veth(a, b, b"eth1", b"eth1")
    everything = list(world.links)
    for _ in range(rng.randint(0, 12)):
        a, b = rng.choice(everything), rng.choice(everything)
        world.veth(a, b, b"x", b"y", kind=rng.choice(("veth", "veth", "netkit")))
    world.noise(rng, rng.randint(0, 10))
    return world


@pytest.mark.parametrize("seed", range(150))
def test_random_hosts_are_paired_exactly(seed: int) -> None:
    world = random_world(seed)
    topology, _asked = run(world)
    assert found_pairs(topology) == world.truth
    assert not topology.unresolved


@pytest.mark.parametrize("seed", range(60))
def test_unreadable_namespaces_never_produce_a_guess(seed: int) -> None:
    world = random_world(seed)
    rng = random.Random(seed)
    candidates = [ns for ns in world.links if ns != world.root]
    world.unreadable = set(rng.sample(candidates, k=len(candidates) // 3))
    topology, _asked = run(world)
    found = found_pairs(topology)
    assert found <= world.truth, "a pair was reported that does not exist"
    provable = {pair for pair in world.truth if not any(ns in world.unreadable for ns, _ in pair)}
    assert found == provable
    why = reasons(topology)
    for pair in world.truth - provable:
        for end in pair:
            if end[0] not in world.unreadable:
                assert why[end] == "peer-netns-unreachable"


def benchmark_like(count: int) -> World:
    """The scale benchmark's shape: every namespace on root, a tenth also paired to another
    namespace, all those pairs with the same ifindexes and the same relative ids."""
    world = World()
    namespaces = [world.namespace() for _ in range(count)]
    for ns in namespaces:
        world.veth(ns, world.root, b"eth0", b"vethh")
    for i in range(count // 10):
        world.veth(namespaces[i], namespaces[i + count // 2], b"x", b"y")
    return world


def test_questions_grow_with_pairs_not_namespaces_squared() -> None:
    world = benchmark_like(400)
    topology, asked = run(world)
    assert found_pairs(topology) == world.truth
    assert len(world.truth) == 440
    # Every pair is checked from both of its sides (two questions), and the ends of identically
    # wired pairs each ask one hub on top.
    assert len([q for q in asked if isinstance(q, FdQuestion)]) <= 2 * 440
    assert len([q for q in asked if isinstance(q, ViaQuestion)]) <= 2 * 40
    assert len(asked) <= 2.2 * len(world.truth)


def test_every_pair_is_confirmed_from_both_sides() -> None:
    """Each end's IFLA_LINK_NETNSID is checked in its own namespace's table: for a root pair, one
    question on the namespace's socket and one on root's, each naming the other."""
    world = benchmark_like(50)
    _topology, asked = run(world)
    fd_questions = {(q.asker, q.target) for q in asked if isinstance(q, FdQuestion)}
    for ns in list(world.links)[1:]:
        assert (ns, world.root) in fd_questions and (world.root, ns) in fd_questions


def test_an_ifindex_reused_between_two_reads_is_not_a_pair() -> None:
    """The issue's churn: A:X pointed at B:Y when A was read; by the time B was read, Y was gone
    and a new Z at Y's ifindex pointed at C:V, V at X's ifindex. Z's own side names C, not A."""
    world = World()
    a, b, c = world.namespace(), world.namespace(), world.namespace()
    (_, ix), (_, iy) = world.veth(a, b, b"X", b"Y")
    old = world.snapshot()
    # Rewire: Y leaves B, Z takes its ifindex with its peer V in C at X's ifindex.
    del world.links[b][iy]
    world.truth.clear()
    world.links[b][iy] = {"name": b"Z", "kind": "veth", "peer": (c, ix)}
    world.links[c][ix] = {"name": b"V", "kind": "veth", "peer": (b, iy)}
    world.links[a][ix]["peer"] = None  # X's peer is elsewhere now: not read again here
    world.unreadable = {c}  # and C cannot be read, so nothing else claims Z
    new = world.snapshot()
    # A as first read, B and C as read later.
    mixed = old._replace(namespaces=tuple(
        next(ns for ns in (old if ns_old.inode == a else new).namespaces if ns.inode == ns_old.inode)
        for ns_old in old.namespaces))
    world.links[a][ix]["peer"] = (b, iy)  # the tables as the kernel holds them: A still names B
    snapshot, _asked = world.ask_all(mixed)
    topology = resolve(snapshot)
    assert not any({(p.a.netns.inode, p.b.netns.inode)} & {(a, b), (b, a)} for p in topology.pairs)
    assert reasons(topology)[(a, ix)] in ("unproven", "peer-missing")


def test_identical_pairs_without_any_hub_are_still_exact() -> None:
    world = World()
    for _ in range(8):
        world.veth(world.namespace(), world.namespace(), b"eth1", b"eth1")
    topology, asked = run(world)
    assert found_pairs(topology) == world.truth
    assert not topology.unresolved
    assert all(isinstance(q, FdQuestion) for q in asked)


def test_matching_indexes_alone_are_not_a_pair() -> None:
    """Two ends point at each other by ifindex, but the kernel's nsid says otherwise."""
    world = World()
    a, b, hidden = world.namespace(), world.namespace(), world.namespace()
    (_, ia), _ = world.veth(a, hidden, b"eth0", b"peer")
    # b's link has the index a's link points at, and points back at a's index, but its real peer
    # is elsewhere: an ifindex match that a tool grepping @ifN would take.
    world.links[b] = {1: world.links[b][1]}
    decoy = world.links[hidden]
    ib = max(decoy)
    world.add(b, b"decoy", "veth", index=ib)
    world.links[b][ib]["peer"] = (world.root, ia)
    world.add(world.root, b"r", "veth", index=ia)
    world.links[world.root][ia]["peer"] = (b, ib)
    world.truth.add(frozenset(((b, ib), (world.root, ia))))
    world.unreadable = {hidden}
    topology, _asked = run(world)
    found = found_pairs(topology)
    assert frozenset(((a, ia), (b, ib))) not in found
    assert reasons(topology)[(a, ia)] == "peer-netns-unreachable"


def link(index: int, name: bytes, kind: str = "veth", peer: int = 0, nsid: int = -2) -> LinkRecord:
    return LinkRecord(index, name, 0, kind, None, None, 1500, 6, None, peer if peer >= 0 else None,
                      None if nsid == -2 else nsid, ())


def namespace(inode: int, *links: LinkRecord, error: str = "") -> NamespaceRecord:
    return NamespaceRecord(Namespace(NamespaceId(4, inode), None, Holders(names=(f"n{inode}",)), root=inode == 1,
                                     error=error or None), links)


def test_reasons_for_ends_the_kernel_itself_cannot_pair() -> None:
    snapshot = Snapshot((namespace(1, link(2, b"gone", peer=0, nsid=0), link(3, b"dying", peer=5, nsid=-1),
                                   link(4, b"lonely", peer=9), link(5, b"mv", kind="macvlan", peer=2, nsid=0)),),
                        (), (), (), "pid 1", ())
    why = reasons(resolve(snapshot))
    assert why == {(1, 2): "peer-gone", (1, 3): "nsid-unassigned", (1, 4): "peer-missing"}


def test_known_namespace_without_the_peer_link_is_peer_missing() -> None:
    snapshot = Snapshot((namespace(1, link(2, b"v", peer=7, nsid=0)), namespace(2)),
                        (NsidAnswer(1, 2, 0),), (), (), "pid 1", ())
    topology = resolve(snapshot)
    assert reasons(topology) == {(1, 2): "peer-missing"}


def test_missing_ifla_link_means_same_index_across_namespaces() -> None:
    """Some kernels omit IFLA_LINK when the peer's ifindex equals the link's own."""
    snapshot = Snapshot((namespace(1, link(3, b"a", peer=-1, nsid=0)), namespace(2, link(3, b"b", peer=-1, nsid=0))),
                        (NsidAnswer(1, 2, 0), NsidAnswer(2, 1, 0)), (), (), "pid 1", ())
    assert {(p.a.ifindex, p.b.ifindex) for p in resolve(snapshot).pairs} == {(3, 3)}


def test_one_side_confirmed_is_not_a_pair() -> None:
    """A's table names B, but B's side was never confirmed: not a pair yet."""
    snapshot = Snapshot((namespace(1, link(3, b"a", peer=4, nsid=0)), namespace(2, link(4, b"b", peer=3, nsid=5))),
                        (NsidAnswer(1, 2, 0),), (), (), "pid 1", ())
    topology = resolve(snapshot)
    assert not topology.pairs
    assert set(reasons(topology).values()) == {"unproven"}
    # B's table gives A another id than B's end reports: the end in B points elsewhere.
    snapshot = snapshot._replace(nsid_answers=(NsidAnswer(1, 2, 0), NsidAnswer(2, 1, 0)))
    topology = resolve(snapshot)
    assert not topology.pairs and reasons(topology)[(1, 3)] == "unproven"


def test_ends_seen_changing_are_never_paired() -> None:
    snapshot = Snapshot((namespace(1, link(3, b"a", peer=4, nsid=0)), namespace(2, link(4, b"b", peer=3, nsid=0))),
                        (NsidAnswer(1, 2, 0), NsidAnswer(2, 1, 0)), (), (), "pid 1", (), ((1, 3), (2, 4)))
    topology = resolve(snapshot)
    assert not topology.pairs
    assert reasons(topology) == {(1, 3): "changing", (2, 4): "changing"}
    assert snapshot_io.loads(snapshot_io.dumps(snapshot)) == snapshot


def test_peer_namespace_that_could_not_be_read_is_named() -> None:
    snapshot = Snapshot((namespace(1, link(2, b"v", peer=2, nsid=0)), namespace(2, error="cannot enter it")),
                        (NsidAnswer(1, 2, 0),), (), (), "pid 1", ())
    [item] = resolve(snapshot).unresolved
    assert item.reason == "peer-netns-unreachable" and "n2" in item.detail
    assert item.peer_ifindex == 2 and item.link_netnsid == 0


def test_a_failed_query_leaves_the_end_unproven_not_paired() -> None:
    snapshot = Snapshot((namespace(1, link(2, b"v", peer=2, nsid=0)), namespace(2, link(2, b"w", peer=2, nsid=0))),
                        (NsidAnswer(1, 2, None), NsidAnswer(2, 1, None)), (), (), "pid 1", ())
    topology = resolve(snapshot)
    assert not topology.pairs
    assert set(reasons(topology).values()) == {"unproven"}


def test_snapshot_with_answers_survives_json() -> None:
    world = random_world(7)
    snapshot, _asked = world.ask_all(world.snapshot())
    assert snapshot_io.loads(snapshot_io.dumps(snapshot)) == snapshot


@pytest.mark.parametrize("text", ["", "[]", '{"snapshot_version": 99}', '{"snapshot_version": 1}', "{nope"])
def test_malformed_snapshots_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError):
        snapshot_io.loads(text)


def test_peer_in_an_unreadable_namespace_is_described_through_a_hub() -> None:
    """A namespace both sides are proven to share lets the kernel describe the unreachable peer,
    and only where that needs no new nsid."""
    world = World()
    container, hidden = world.namespace(), world.namespace()
    world.veth(container, world.root, b"eth0", b"vethc")
    world.veth(hidden, world.root, b"eth0", b"vethh")
    (_, inner), (_, far) = world.veth(container, hidden, b"toh", b"fromc")
    world.unreadable = {hidden}
    topology, asked = run(world)
    ref = next(ref for ref in topology.links if ref.netns.inode == container and ref.ifindex == inner)
    item = topology.unresolved_of(ref)
    assert item is not None and item.reason == "peer-netns-unreachable"
    assert item.peer_hint is not None and item.peer_hint.name == "fromc" and item.peer_hint.ifindex == far
    # (the simulated kernel fails any hint question that would make it allocate an nsid)
    assert any(isinstance(q, HintQuestion) for q in asked)


def test_hints_do_not_wander_through_every_hub() -> None:
    """With hundreds of namespaces sharing the root one, a hint is still found in a few questions."""
    world = World()
    for _ in range(300):
        world.veth(world.namespace(), world.root, b"eth0", b"vethx")
    seen, hidden = world.namespace(), world.namespace()
    world.veth(seen, world.root, b"up", b"vs")
    world.veth(hidden, world.root, b"up", b"vh")
    (_, toh), _ = world.veth(seen, hidden, b"toh", b"froms")
    world.unreadable = {hidden}
    topology, asked = run(world)
    hints = {(u.link.netns.inode, u.link.ifindex): u.peer_hint for u in topology.unresolved}
    assert hints[(seen, toh)] is not None and hints[(seen, toh)].name == "froms"
    root_end = next(key for key in hints if key[0] == world.root)
    assert hints[root_end] is not None and hints[root_end].name == "up"
    assert len(asked) <= 2 * 301 + 2 * 3 + 2 * 3  # both sides of each pair, then a few hub questions


def _calls_in_resolver(world: World) -> Tuple[Topology, int]:
    """The resolution of ``world``, and how many Python calls (generator steps included) it made
    in the resolve package: a measure of work that a loaded machine cannot blur, unlike a timing."""
    import sys

    import vethpeer.resolve as resolver

    room = os.path.dirname(resolver.__file__) + os.sep
    count = 0

    def profile(frame, event, _arg):  # type: ignore[no-untyped-def]
        nonlocal count
        if event == "call" and frame.f_code.co_filename.startswith(room):
            count += 1

    sys.setprofile(profile)
    try:
        topology, _asked = run(world)
    finally:
        sys.setprofile(None)
    return topology, count


@pytest.mark.parametrize("hidden", [100, 400])
def test_unreachable_peers_cost_ends_not_ends_times_namespaces(hidden: int) -> None:
    """Root ends whose peers' namespaces cannot be read (being torn down under churn, held only
    by a socket without --sockets, unreadable): each looks for a hub to describe its peer. Root
    has an id for every namespace, and looking through all of them for every such end made a scan
    under churn take seconds (ends x namespaces generator steps, each plan round)."""
    world = World()
    for _ in range(hidden):
        world.veth(world.namespace(), world.root, b"eth0", b"vethx")
    gone = [world.namespace() for _ in range(hidden)]
    for ns in gone:
        world.veth(ns, world.root, b"eth0", b"vethh")
    world.unreadable = set(gone)
    topology, calls = _calls_in_resolver(world)
    assert len(topology.pairs) == hidden
    root_ends = [u for u in topology.unresolved if u.link.netns.inode == world.root]
    assert len(root_ends) == hidden and {u.reason for u in root_ends} == {"peer-netns-unreachable"}
    ends = 4 * hidden  # every end, both sides
    assert calls < 60 * ends, f"{calls} calls for {ends} ends"
