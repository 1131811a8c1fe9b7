"""Owners no one can forge (issue 24): a claim counts only from evidence whose writer could have
made the namespace, and a recorded pid only while it is still the runtime's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vethpeer
from lab import Lab

pytestmark = pytest.mark.live

STORED_ID = "01d0e5" + "0" * 58


def write_root_storage(root: Path, names: str, netns: str) -> None:
    """Root's Podman storage (under a --root tree) with one container whose spec joins ``netns``."""
    storage = root / "var/lib/containers/storage/overlay-containers"
    userdata = storage / STORED_ID / "userdata"
    userdata.mkdir(parents=True)
    (storage / "containers.json").write_text(json.dumps([{"id": STORED_ID, "names": [names]}]))
    (userdata / "config.json").write_text(json.dumps({
        "annotations": {"io.container.manager": "libpod"},
        "linux": {"namespaces": [{"type": "network", "path": netns}]}}))


def owners_of_pid(topology: vethpeer.Topology, pid: int) -> list:
    (ns,) = [ns for ns in topology.namespaces if pid in ns.pids]
    return [f"{o.kind}: {o.name}" for o in ns.owners if o.kind != "process"]


def test_a_stale_proc_path_names_nothing(tmp_path: Path, lab: Lab) -> None:
    """Before: a stopped pod member's spec naming /proc/<infra pid>/ns/net handed the container to
    whatever process had that pid now (an unrelated one, here)."""
    unrelated = lab.holder("unshare")
    root = tmp_path / "host"
    write_root_storage(root, "old-web", f"/proc/{unrelated.pid}/ns/net")
    topology = vethpeer.scan(root=str(root), proc="/proc")
    assert owners_of_pid(topology, unrelated.pid) == []
