"""Record small host trees from the runtimes setup.sh started, for the pure owner tests.

    sudo python3 tests/runtimes/capture.py [OUTDIR]      (default: tests/data/hosts)

A developer's tool, not run by CI: it writes OUTDIR/real-<runtime>/ with the files each runtime
left on this host at their paths relative to / (proc/<pid>/cgroup, comm, cmdline and an ns/net
symlink to "net:[inode]" for every container process and namespace holder; the runtime's state
files), and an expected.json naming each namespace's owners as the runtime's own tool reported
them (setup.sh's manifest) plus the facts a scan gives (inode, /run/netns names, bind-mount paths,
pids, holder pids). Only small files are copied; logs, rootfs, layers and images never.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any, Dict, List, Optional, Set

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "src"))

import vethpeer  # noqa: E402

STATE = os.environ.get("VETHPEER_RUNTIMES_STATE", "/run/vethpeer-runtimes")
MAX_BYTES = 256 * 1024
GROUPS = {"docker": "docker", "podman": "podman", "lxc": "lxc", "nspawn": "nspawn", "containerd": "containerd"}

Json = Dict[str, Any]


def version(*cmd: str) -> str:
    try:
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30)
        return done.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


class Tree:
    def __init__(self, root: str) -> None:
        self.root = root
        if os.path.exists(root):
            shutil.rmtree(root)
        os.makedirs(root)

    def copy(self, path: str) -> None:
        """Copy one host file to the same path under the tree (small files only)."""
        if not os.path.isfile(path):
            return
        if os.path.getsize(path) > MAX_BYTES:
            raise RuntimeError(f"{path} is too big to record")
        dest = self.root + path
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(path, dest)

    def touch(self, path: str) -> None:
        """An empty file where the host has a mount point (netns bind mounts) or an empty log."""
        dest = self.root + path
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        open(dest, "w").close()

    def process(self, pid: int) -> bool:
        """Record a process; False when it has gone since the scan."""
        base = f"/proc/{pid}"
        if os.path.lexists(f"{self.root}{base}/ns/net"):
            return True  # a holder of several namespaces (dockerd, with a socket in each)
        try:
            link = os.readlink(f"{base}/ns/net")
            for name in ("cgroup", "comm", "cmdline", "status"):
                self.copy(f"{base}/{name}")
        except OSError:
            shutil.rmtree(f"{self.root}{base}", ignore_errors=True)
            return False
        os.makedirs(f"{self.root}{base}/ns", exist_ok=True)
        os.symlink(link, f"{self.root}{base}/ns/net")
        return True


def main(argv: List[str]) -> int:
    out = argv[1] if len(argv) > 1 else os.path.join(HERE, "..", "data", "hosts")
    with open(os.path.join(STATE, "manifest.json")) as f:
        manifest = json.load(f)
    topology = vethpeer.scan(addresses=False)
    by_inode = {ns.id.inode: ns for ns in topology.namespaces}
    versions = {
        "docker": version("/usr/bin/docker", "version", "--format", "{{.Server.Version}}"),
        "podman": version("podman", "--version"),
        "lxc": version("lxc-start", "--version"),
        "nspawn": version("systemd-nspawn", "--version"),
        "containerd": version("containerd", "--version"),
    }
    for group in GROUPS:
        containers = [c for c in manifest["containers"] if c["runtime"] == group]
        if not containers:
            continue
        tree = Tree(os.path.join(out, f"real-{group}"))
        inodes: List[int] = []
        for c in containers:
            if c["netns_inode"] not in inodes:
                inodes.append(c["netns_inode"])
        namespaces = []
        for entry in manifest["namespaces"]:
            if entry["inode"] not in inodes:
                continue
            ns = by_inode.get(entry["inode"])
            holders: Set[int] = set()
            pids: List[int] = list(entry["pids"])
            if ns is not None and not entry["root"]:
                # The root namespace holds every host process: only the containers' ones there.
                pids = sorted(set(pids) | set(ns.pids))
                # Other people's scans (python) may hold every namespace for a moment: not evidence.
                holders = {h.pid for h in ns.threads + ns.fds + ns.sockets if h.pid != os.getpid()
                           and not comm(h.pid).startswith("python")}
            gone = {pid for pid in set(pids) | holders if not tree.process(pid)}
            pids = [pid for pid in pids if pid not in gone]
            holders -= gone
            owners = [o for o in entry["owners"] if any(
                c["owner"].get("name") == o["name"] or c["owner"].get("id") == o.get("id") for c in containers)]
            namespaces.append({
                "inode": entry["inode"], "root": entry["root"],
                "names": list(ns.names) if ns else entry["names"],
                "paths": [p for p in (ns.paths if ns else entry["paths"])
                          if entry["root"] is False or "docker" in p],
                "pids": pids, "holder_pids": sorted(holders),
                "holders": {str(pid): comm(pid) for pid in sorted(holders)},
                "owners": owners,
            })
            for path in namespaces[-1]["paths"]:
                tree.touch(path)
        state = capture_state(group, containers, tree)
        with open(os.path.join(tree.root, "expected.json"), "w") as f:
            json.dump({
                "recorded_by": "tests/runtimes/capture.py from the runtimes tests/runtimes/setup.sh starts",
                "host": "Debian 12, systemd not PID 1, cgroup v1 hierarchies + a v2 one beside them, root",
                "runtime_version": versions[group],
                "state_files": state,
                "namespaces": namespaces,
            }, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"{tree.root}: {len(namespaces)} namespaces, {len(state)} state files")
    return 0


def capture_state(group: str, containers: List[Json], tree: Tree) -> List[str]:
    files: List[str] = []

    def take(path: str) -> None:
        if os.path.isfile(path):
            tree.copy(path)
            files.append(path)

    if group == "docker":
        for c in containers:
            for name in ("config.v2.json", "hostconfig.json"):
                take(f"/var/lib/docker/containers/{c['id']}/{name}")
    elif group == "podman":
        base = "/var/lib/containers/storage"
        take(f"{base}/overlay-containers/containers.json")
        # The only place a pod's name is kept (BoltDB; mostly empty pages, so it compresses well).
        take(f"{base}/libpod/bolt_state.db")
        for c in containers:
            take(f"{base}/overlay-containers/{c['id']}/userdata/config.json")
    elif group == "lxc":
        for c in containers:
            take(f"/var/lib/lxc/{c['name']}/config")
            monitor = find_cmdline(f"[lxc monitor] /var/lib/lxc {c['name']}")
            if monitor is not None:
                tree.process(monitor)
    elif group == "nspawn":
        for c in containers:
            tree.process(c["supervisor_pid"])
    elif group == "containerd":
        for c in containers:
            take(f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{c['id']}/config.json")
        logs = {json_annotation(c["id"]) for c in containers} - {None}
        for path in logs:
            assert path is not None
            tree.touch(f"{path}/app/0.log")
            files.append(path + "/")
    return files


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def json_annotation(task_id: str) -> Optional[str]:
    path = f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{task_id}/config.json"
    with open(path) as f:
        value = (json.load(f).get("annotations") or {}).get("io.kubernetes.cri.sandbox-log-directory")
    return value if isinstance(value, str) else None


def find_cmdline(wanted: str) -> Optional[int]:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace") == wanted:
                    return int(entry)
        except OSError:
            continue
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv))
