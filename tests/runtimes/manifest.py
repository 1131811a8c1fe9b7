"""The manifest of what tests/runtimes/setup.sh started, as each runtime's own tool reports it.

    manifest.py --write PATH   ask docker/podman/lxc-info/ctr about everything setup.sh recorded
                               in $STATE/created and write the manifest (JSON)
    manifest.py --check PATH   exit 0 when every process the manifest names still runs in the
                               namespace it was in (setup.sh then has nothing to do), else 1

The manifest is the independent answer the live tests compare vethpeer with: one entry per
container (runtime, name, id, pid, namespace), and one per network namespace with its owners
(``kind``/``name``/``id`` plus what the runtime adds: compose project, pod, ...) and its veth ends
(ifindex, the host end's ifindex, name and bridge, read with ``ip`` inside the namespace).

Run by setup.sh as root with the system python3; standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional, Tuple

STATE = os.environ.get("VETHPEER_RUNTIMES_STATE", "/run/vethpeer-runtimes")
DOCKER = "/usr/bin/docker"
CTR_NS = "k8s.io"

Json = Dict[str, Any]


def run(*args: str) -> str:
    # A timeout, since `ip` blocks for ever opening a /run/netns entry that is a FIFO when it has to
    # name a link-netnsid (not in JSON mode, which prints the bare id: the only mode used here).
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def created() -> List[List[str]]:
    with open(os.path.join(STATE, "created")) as f:
        return [line.split() for line in f if line.strip()]


def ns_of(pid: int) -> Tuple[int, int]:
    st = os.stat(f"/proc/{pid}/ns/net")
    return st.st_dev, st.st_ino


def root_ns() -> Tuple[int, int]:
    """PID 1's namespace; kthreadd's where PID 1 may not be looked at (as on this machine)."""
    for pid in (1, 2):
        try:
            return ns_of(pid)
        except OSError:
            pass
    return ns_of(os.getpid())


def docker_containers(records: List[List[str]]) -> List[Json]:
    names = [r[1] for r in records if r[0] == "docker-container"]
    for r in records:
        if r[0] == "compose":
            names += run(DOCKER, "ps", "-aq", "--no-trunc", "--filter",
                         f"label=com.docker.compose.project={r[1]}").split()
    if not names:
        return []
    out = []
    for info in json.loads(run(DOCKER, "inspect", "--type", "container", *names)):
        labels = info["Config"].get("Labels") or {}
        owner: Json = {"kind": "docker", "name": info["Name"].lstrip("/"), "id": info["Id"]}
        if "com.docker.compose.project" in labels:
            owner["compose_project"] = labels["com.docker.compose.project"]
            owner["compose_service"] = labels.get("com.docker.compose.service")
        mode = info["HostConfig"]["NetworkMode"]
        out.append({
            "runtime": "docker", "name": owner["name"], "id": info["Id"], "pid": info["State"]["Pid"],
            "network_mode": mode, "netns_path": info["NetworkSettings"].get("SandboxKey") or None,
            "networks": sorted((info["NetworkSettings"].get("Networks") or {}).keys()),
            "owner": owner,
        })
    return out


def podman_containers(records: List[List[str]]) -> List[Json]:
    names = [r[1] for r in records if r[0] == "podman-container"]
    pods = [r[1] for r in records if r[0] == "podman-pod"]
    pod_names: Dict[str, str] = {}
    for pod in pods:
        try:
            info = json.loads(run("podman", "pod", "inspect", pod))
        except subprocess.CalledProcessError:
            continue  # setup could not create it
        if isinstance(info, list):
            info = info[0]
        pod_names[info["Id"]] = info["Name"]
        names += [c["Id"] for c in info.get("Containers") or [] if c["Id"] not in names]
    out: List[Json] = []
    for info in json.loads(run("podman", "inspect", "--type", "container", *names)) if names else []:
        if any(c["id"] == info["Id"] for c in out):
            continue  # named by setup.sh and listed again as one of its pod's containers
        owner: Json = {"kind": "podman", "name": info["Name"], "id": info["Id"]}
        if info.get("Pod"):
            owner["pod"] = pod_names.get(info["Pod"], info["Pod"])
            owner["pod_id"] = info["Pod"]
            owner["infra"] = bool(info.get("IsInfra"))
        out.append({
            "runtime": "podman", "name": info["Name"], "id": info["Id"], "pid": info["State"]["Pid"],
            "netns_path": info["NetworkSettings"].get("SandboxKey") or None, "owner": owner,
        })
    return out


def lxc_containers(records: List[List[str]]) -> List[Json]:
    out = []
    for r in records:
        if r[0] != "lxc":
            continue
        pid = int(run("lxc-info", "-n", r[1], "-p", "-H").strip())
        out.append({"runtime": "lxc", "name": r[1], "id": None, "pid": pid, "netns_path": None,
                    "owner": {"kind": "lxc", "name": r[1], "id": None}})
    return out


def children(pid: int) -> List[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def nspawn_machines(records: List[List[str]]) -> List[Json]:
    """machinectl knows nothing of an unregistered machine: the supervisor's pid and its payload."""
    out = []
    for r in records:
        if r[0] != "nspawn":
            continue
        name, supervisor = r[1], int(r[2])
        payload: Optional[int] = None
        todo = children(supervisor)
        while todo and payload is None:
            pid = todo.pop(0)
            if ns_of(pid) != ns_of(supervisor):
                payload = pid
            todo += children(pid)
        if payload is None:
            raise RuntimeError(f"no payload process under systemd-nspawn {supervisor}")
        out.append({"runtime": "nspawn", "name": name, "id": None, "pid": payload, "supervisor_pid": supervisor,
                    "netns_path": None, "owner": {"kind": "machine", "name": name, "id": None}})
    return out


def ctr_tasks(records: List[List[str]]) -> List[Json]:
    pids = {}
    for line in run("ctr", "-n", CTR_NS, "task", "ls").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "RUNNING":
            pids[fields[0]] = int(fields[1])
    out = []
    for r in records:
        if r[0] != "ctr-container":
            continue
        info = json.loads(run("ctr", "-n", CTR_NS, "containers", "info", r[1]))
        spec = info.get("Spec") or {}
        ann = spec.get("annotations") or {}
        netns_path = next((n.get("path") for n in spec.get("linux", {}).get("namespaces", [])
                           if n.get("type") == "network"), None)
        owner: Json = {
            "kind": "pod",
            "name": f"{ann['io.kubernetes.cri.sandbox-namespace']}/{ann['io.kubernetes.cri.sandbox-name']}",
            "id": ann["io.kubernetes.cri.sandbox-uid"],
            "pod_namespace": ann["io.kubernetes.cri.sandbox-namespace"],
            "pod_name": ann["io.kubernetes.cri.sandbox-name"],
            "sandbox_id": ann["io.kubernetes.cri.sandbox-id"],
        }
        out.append({
            "runtime": "containerd", "name": ann.get("io.kubernetes.cri.container-name", "(sandbox)"),
            "id": r[1], "pid": pids[r[1]], "netns_path": netns_path,
            "container_type": ann.get("io.kubernetes.cri.container-type"), "owner": owner,
        })
    return out


def links_in(pid: Optional[int]) -> List[Json]:
    prefix = ["nsenter", "-t", str(pid), "-n"] if pid is not None else []
    return json.loads(run(*prefix, "ip", "-j", "-d", "link", "show"))  # type: ignore[no-any-return]


def netns_names() -> Dict[Tuple[int, int], List[str]]:
    names: Dict[Tuple[int, int], List[str]] = {}
    try:
        entries = sorted(os.listdir("/run/netns"))
    except OSError:
        return names
    for entry in entries:
        try:
            st = os.stat(os.path.join("/run/netns", entry))
        except OSError:
            continue
        names.setdefault((st.st_dev, st.st_ino), []).append(entry)
    return names


def write(out_path: str) -> None:
    records = created()
    containers = (docker_containers(records) + podman_containers(records) + lxc_containers(records)
                  + nspawn_machines(records) + ctr_tasks(records))
    root = root_ns()
    host_links = {link["ifindex"]: link for link in links_in(None)}
    named = netns_names()
    namespaces: Dict[Tuple[int, int], Json] = {}
    for c in containers:
        key = ns_of(c["pid"])
        c["netns_dev"], c["netns_inode"] = key
        ns = namespaces.get(key)
        if ns is None:
            ns = namespaces[key] = {"dev": key[0], "inode": key[1], "root": key == root,
                                    "names": named.get(key, []), "paths": [], "pids": [], "owners": [],
                                    "veths": []}
            if key != root:
                for link in links_in(c["pid"]):
                    if (link.get("linkinfo") or {}).get("info_kind") != "veth":
                        continue
                    host = host_links.get(link.get("link_index"))
                    ns["veths"].append({
                        "ifname": link["ifname"], "ifindex": link["ifindex"],
                        "peer_ifindex": link.get("link_index"),
                        "peer_ifname": host["ifname"] if host else None,
                        "peer_master": host.get("master") if host else None,
                    })
        path = c.get("netns_path")
        if path and not path.startswith("/proc/"):
            path = "/run/" + path[len("/var/run/"):] if path.startswith("/var/run/") else path
            if path not in ns["paths"]:
                ns["paths"].append(path)
        ns["pids"].append(c["pid"])
        owner = dict(c["owner"])
        key3 = (owner["kind"], owner["name"], owner["id"])
        same = [o for o in ns["owners"] if (o["kind"], o["name"], o["id"]) == key3]
        if owner["kind"] == "pod":
            # One owner per pod, listing its containers (the sandbox's name is "(sandbox)").
            if same:
                same[0]["containers"].append(c["name"])
                continue
            owner["containers"] = [c["name"]]
        if not same:
            ns["owners"].append(owner)
    manifest = {
        "version": 1,
        "state": STATE,
        "root_netns": {"dev": root[0], "inode": root[1]},
        "containers": containers,
        "namespaces": list(namespaces.values()),
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    os.replace(tmp, out_path)


def check(path: str) -> bool:
    try:
        with open(path) as f:
            manifest = json.load(f)
        return all(ns_of(c["pid"]) == (c["netns_dev"], c["netns_inode"]) for c in manifest["containers"])
    except (OSError, ValueError, KeyError):
        return False


def main(argv: List[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("--write", "--check"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "--check":
        return 0 if check(argv[2]) else 1
    write(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
