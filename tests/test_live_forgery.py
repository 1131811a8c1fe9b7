"""Owners no one can forge (issue 24): a claim counts only from evidence whose writer could have
made the namespace, and a recorded pid only while it is still the runtime's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import vethpeer
from lab import Lab, run_cli, user_tree

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


# --- an unprivileged user cannot relabel root's namespaces -------------------------------------------

NOBODY = 65534
USER_PYTHON = "/usr/bin/python3"  # a pyenv under /root is out of nobody's reach
HOLD = "import os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); print('ready', flush=True); time.sleep(120)"


def as_nobody(argv: list, title: str) -> subprocess.Popen:
    """A process of user nobody (no capabilities) whose argv[0] is ``title``."""
    process = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                                "--inh-caps=-all", "--bounding-set=-all", "bash", "-c", 'exec -a "$0" "$@"',
                                title, *argv], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def namespace_named(document: dict, name: str) -> dict:
    (ns,) = [ns for ns in document["namespaces"] if name in ns["names"]]
    return ns


@pytest.mark.parametrize("title, forged, selector", [
    ("systemd-nspawn", "machine: prod-db", "machine:prod-db"),
    ("[lxc monitor] /var/lib/lxc web-1", "lxc: web-1", "lxc:web-1"),
], ids=["nspawn", "lxc-monitor"])
def test_a_users_process_title_does_not_relabel_roots_namespace(lab: Lab, title: str, forged: str,
                                                                  selector: str) -> None:
    """Before: nobody kept an fd to root's `ip netns add X` under a supervisor's title, and X became
    'machine: prod-db' (or 'lxc: web-1'), which --netns then answered from."""
    name = lab.netns("fg")
    argv = [USER_PYTHON, "-c", HOLD, f"/run/netns/{name}"]
    if title == "systemd-nspawn":
        argv.append("--machine=prod-db")
    forger = as_nobody(argv, title)
    try:
        result = run_cli("-j", "namespaces")
        assert result.returncode == 0, result.stderr
        ns = namespace_named(json.loads(result.stdout), name)
        assert ns["label"] == name
        assert forged not in [f"{o['kind']}: {o['name']}" for o in ns["owners"]]
        asked = run_cli("peer", "lo", "--netns", selector)
        assert asked.returncode == 2 and "no namespace has that owner" in asked.stderr, asked.stderr
    finally:
        stop(forger)


def nobody_tree(base: Path) -> Path:
    """A --root tree where user nobody has a home and a /run/user directory, made by nobody."""
    return user_tree(base, NOBODY, "nb")


def write_user_storage(root: Path, name: str, netns: str) -> None:
    script = ("import json, os, sys\n"
              "storage, cid, name, netns = sys.argv[1:]\n"
              "userdata = os.path.join(storage, cid, 'userdata'); os.makedirs(userdata)\n"
              "json.dump([{'id': cid, 'names': [name]}], open(os.path.join(storage, 'containers.json'), 'w'))\n"
              "json.dump({'annotations': {'io.container.manager': 'libpod'}, 'linux': {'namespaces': "
              "[{'type': 'network', 'path': netns}]}}, open(os.path.join(userdata, 'config.json'), 'w'))\n")
    storage = root / "home/nb/.local/share/containers/storage/overlay-containers"
    subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", USER_PYTHON, "-c",
                    script, str(storage), STORED_ID, name, netns], check=True, timeout=60)


def test_a_users_storage_does_not_relabel_roots_namespace(open_tmp: Path, lab: Lab) -> None:
    """Before: nobody's own rootless containers.json and spec naming /run/netns/X made root's X
    'podman: prod-db'."""
    name = lab.netns("fs")
    root = nobody_tree(open_tmp)
    write_user_storage(root, "prod-db", f"/run/netns/{name}")
    topology = vethpeer.scan(root=str(root), proc="/proc")
    (ns,) = [ns for ns in topology.namespaces if f"/run/netns/{name}" in ns.paths]
    assert "podman" not in [o.kind for o in ns.owners]


def test_a_users_storage_names_the_namespace_they_made(open_tmp: Path, lab: Lab) -> None:
    """A real user namespace of nobody's (unshare -Urn as nobody): their rootless state names it."""
    root = nobody_tree(open_tmp)
    made = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "unshare",
                             "-Urn", USER_PYTHON, "-c", "print('ready', flush=True); import time; time.sleep(120)"],
                            stdout=subprocess.PIPE, text=True)
    mount_point = open_tmp / "netns-mine"
    mount_point.touch()
    mounted = False
    try:
        assert made.stdout is not None and made.stdout.readline().strip() == "ready"
        subprocess.run(["mount", "--bind", f"/proc/{made.pid}/ns/net", str(mount_point)], check=True, timeout=30)
        mounted = True
        write_user_storage(root, "mine", str(mount_point))
        topology = vethpeer.scan(root=str(root), proc="/proc")
        (ns,) = [ns for ns in topology.namespaces if made.pid in ns.pids]
        assert [(o.kind, o.name) for o in ns.owners if o.kind == "podman"] == [("podman", "mine")]
    finally:
        if mounted:
            subprocess.run(["umount", str(mount_point)], check=False, timeout=30)
        stop(made)
