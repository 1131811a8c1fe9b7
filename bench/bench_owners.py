"""How long owner identification takes on a host with many containers (no root needed).

Builds a synthetic host tree in a temporary directory: N namespaces, each owned by a fake
container of one runtime in turn (Docker with realistic config.v2.json files, a two-task
containerd pod, a Podman container, an LXC container found by its cgroup), each with a /proc
entry for its process, plus as many stopped Docker containers as running ones. Then times
``identify`` over it (median of --repeat runs, after one warm-up) and checks every namespace got
the owner it was built with.

    python bench/bench_owners.py --n 1000
    python bench/bench_owners.py --n 1000 --only docker
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Dict, List, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "hosts"))

import build  # the recorded trees' builder: the same file layouts

from vethpeer.model import Holders, Namespace, NamespaceId
from vethpeer.owners import Host, scan

KINDS = ("docker", "pod", "podman", "lxc")
# Real specs are 3-20 KB (this machine's Podman ones: 10.6 KB): mounts, capabilities, seccomp.
_SYSCALLS = [f"syscall_{i:03d}" for i in range(260)]


def spec(annotations: Dict[str, str], netns: str) -> Dict[str, object]:
    base = build.oci_spec(annotations, netns)
    base["mounts"] = [{"destination": f"/mnt/volume-{i}", "type": "bind", "source": f"/var/lib/data/{i}",
                       "options": ["rbind", "rprivate", "nosuid", "nodev"]} for i in range(20)]
    base["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                                "syscalls": [{"names": _SYSCALLS, "action": "SCMP_ACT_ALLOW"}]}
    return base


def _write(root: str, path: str, content: object) -> None:
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    data = json.dumps(content, separators=(",", ":")) if isinstance(content, (dict, list)) else str(content)
    with open(full, "w") as handle:
        handle.write(data)


def make(root: str, n: int, kinds: Tuple[str, ...]) -> Tuple[List[Namespace], Dict[int, Tuple[str, str]]]:
    facts: List[Namespace] = [Namespace(NamespaceId(4, 4026531840), None, Holders(pids=(1,)), root=True, userns_uid=0)]
    expected: Dict[int, Tuple[str, str]] = {}
    podman_listing = []
    cri = "io.kubernetes.cri."
    for i in range(n):
        kind = kinds[i % len(kinds)]
        inode, pid = 4026540000 + i, 100000 + 10 * i
        cid = f"{i:064x}"
        name = f"{kind}-{i}"
        paths: Tuple[str, ...] = ()
        names: Tuple[str, ...] = ()
        pids: Tuple[int, ...] = (pid,)
        cgroup = "/"
        if kind == "docker":
            sandbox = f"/var/run/docker/netns/{i:012x}"
            paths = (sandbox[4:],)
            config = build.docker_config(cid, name, pid, sandbox, labels={
                "com.docker.compose.project": "bench", "com.docker.compose.service": name})
            _write(root, f"/var/lib/docker/containers/{cid}/config.v2.json", config)
            _write(root, f"/run/containerd/io.containerd.runtime.v2.task/moby/{cid}/init.pid", pid)
            stopped = f"{i + n:064x}"
            _write(root, f"/var/lib/docker/containers/{stopped}/config.v2.json",
                   build.docker_config(stopped, f"old-{i}", 0, "", running=False))
            cgroup = f"/docker/{cid}"
            expected[inode] = ("docker", name)
        elif kind == "pod":
            netns = f"/var/run/netns/cni-{i:08x}-0000-4000-8000-000000000000"
            names = (netns.rsplit("/", 1)[1],)
            paths = (netns[4:],)
            pids = (pid, pid + 1)
            uid = f"{i:08x}-0000-4000-8000-000000000000"
            common = {cri + "sandbox-id": cid, cri + "sandbox-name": name, cri + "sandbox-namespace": "bench",
                      cri + "sandbox-uid": uid}
            base = "/run/containerd/io.containerd.runtime.v2.task/k8s.io"
            _write(root, f"{base}/{cid}/config.json",
                   spec({**common, cri + "container-type": "sandbox"}, netns))
            _write(root, f"{base}/{cid}/init.pid", pid)
            app = f"{i + n:064x}"
            _write(root, f"{base}/{app}/config.json", spec(
                {**common, cri + "container-type": "container", cri + "container-name": "app"}, f"/proc/{pid}/ns/net"))
            _write(root, f"{base}/{app}/init.pid", pid + 1)
            cgroup = f"/kubepods/besteffort/pod{uid}/{cid}"
            expected[inode] = ("pod", f"bench/{name}")
        elif kind == "podman":
            netns = f"/run/netns/netns-{i:08x}-0000-4000-8000-000000000000"
            names, paths = (netns.rsplit("/", 1)[1],), (netns,)
            podman_listing.append({"id": cid, "names": [name], "image": "0" * 64, "layer": "1" * 64,
                                   "metadata": json.dumps({"name": name}), "created": "2026-11-27T22:00:00Z"})
            graph = "/var/lib/containers/storage/overlay-containers"
            _write(root, f"{graph}/{cid}/userdata/config.json", spec({"io.container.manager": "libpod"}, netns))
            _write(root, f"/run/containers/storage/overlay-containers/{cid}/userdata/pidfile", pid)
            cgroup = f"/libpod_parent/libpod-{cid}"
            expected[inode] = ("podman", name)
        else:
            _write(root, f"/var/lib/lxc/{name}/config", f"lxc.uts.name = {name}\n")
            cgroup = f"/lxc.payload.{name}"
            expected[inode] = ("lxc", name)
        for p in pids:
            _write(root, f"/proc/{p}/cgroup", "".join(line + "\n" for line in build.v1(cgroup)))
            _write(root, f"/proc/{p}/comm", "sleep\n")
        facts.append(Namespace(NamespaceId(4, inode), None, Holders(names=names, paths=paths, pids=pids), userns_uid=0))
    if podman_listing:
        _write(root, "/var/lib/containers/storage/overlay-containers/containers.json", podman_listing)
    return facts, expected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", choices=KINDS)
    args = parser.parse_args()
    kinds = (args.only,) if args.only else KINDS
    with tempfile.TemporaryDirectory(prefix="vethpeer-owners-bench-") as root:
        facts, expected = make(root, args.n, kinds)
        host = Host(root)
        first = scan(facts, host)
        wrong = [(i, e, [(o.kind, o.name) for o in first.result().get(i, ())][:1]) for i, e in expected.items()
                 if [(o.kind, o.name) for o in first.result().get(i, ())][:1] != [e]]
        times = []
        cpu = []
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            scan(facts, host)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
    print(f"{args.n} namespaces ({'/'.join(kinds)}): identify median {statistics.median(times):.1f} ms "
          f"(min {min(times):.1f}, max {max(times):.1f}, {args.repeat} runs), CPU median "
          f"{statistics.median(cpu):.1f} ms; failures {first.failures}; "
          f"wrong {len(wrong)}")
    for item in wrong[:5]:
        print("  wrong:", item)
    return 1 if wrong or first.failures else 0


if __name__ == "__main__":
    sys.exit(main())
