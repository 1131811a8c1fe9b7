"""Owner selectors for --netns, on a resolved Topology (no root needed)."""

from __future__ import annotations

import pytest

from topo import found
from vethpeer import query
from vethpeer.model import Holders, Namespace, NamespaceId, Topology
from vethpeer.owners import Owner


def namespace(inode: int, *owners: Owner, root: bool = False) -> Namespace:
    return Namespace(NamespaceId(4, inode), None, Holders(), root=root, link_count=1, owners=owners)


WEB = found("docker", "web-1", "abcd1234" + "0" * 56, (("project", "shop"),), "state")
WEB2 = found("docker", "web-2", "abce5678" + "0" * 56, (), "state")
SIDE = found("docker", "web-1-sidecar", "ffff0000" + "0" * 56, (), "state")
POD = found("pod", "default/nginx-7d9", "uid-1", (("namespace", "default"),), "spec")
LXC = found("lxc", "c1", None, (), "cgroup")
HOSTNET = found("docker", "metrics", "1111aaaa" + "0" * 56, (), "state")

TOPOLOGY = Topology((namespace(1, HOSTNET, root=True), namespace(2, WEB, SIDE), namespace(3, WEB2),
                     namespace(4, POD), namespace(5, LXC)), {}, (), (), (), "pid 1")


@pytest.mark.parametrize(("spec", "inode"), [
    ("docker:web-1", 2), ("docker:web-1-sidecar", 2), ("docker:web-2", 3), ("docker:abcd", 2),
    ("docker:" + WEB.id, 2), ("pod:default/nginx-7d9", 4), ("lxc:c1", 5), ("docker:metrics", 1),
])
def test_selectors_find_the_namespace_by_owner(spec: str, inode: int) -> None:
    assert query.select(TOPOLOGY, spec).inode == inode


def test_an_ambiguous_selector_lists_the_candidates() -> None:
    with pytest.raises(query.SelectorError) as caught:
        query.select(TOPOLOGY, "docker:abc")
    assert "ambiguous" in str(caught.value)
    assert len(caught.value.candidates) == 2
    assert any("docker: web-1" in c for c in caught.value.candidates)


def test_no_match_names_what_is_known() -> None:
    with pytest.raises(query.SelectorError) as caught:
        query.select(TOPOLOGY, "docker:nope")
    assert "docker: web-2" in str(caught.value) and not caught.value.candidates
    with pytest.raises(query.SelectorError):
        query.select(TOPOLOGY, "docker:ab")  # too short a prefix to mean an id


def test_what_counts_as_a_selector() -> None:
    assert query.is_selector("docker:web") and query.is_selector("pod:a/b") and query.is_selector("machine:m")
    assert not query.is_selector("pid:12") and not query.is_selector("/run/netns/x") and not query.is_selector("web")
    assert not query.is_selector("./docker:x")


def test_owner_summary() -> None:
    assert query.owner_summary(TOPOLOGY.namespaces[1]) == "docker: web-1, docker: web-1-sidecar"
    assert query.owner_summary(TOPOLOGY.namespaces[0]) == "host (docker: metrics)"
    assert query.owner_summary(None) == "-"
