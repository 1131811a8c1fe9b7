"""Writes the recorded host trees under tests/data/hosts/<case>/ (run once; the output is committed).

Each tree is a small host filesystem: the state files a runtime writes, laid out as in
../../../../shared/notes/runtimes.md and the runtimes' sources, and a /proc with the cgroup,
cmdline and stat files of the processes involved. ``namespaces.json`` is what discovery would
have found (inodes, /run/netns names, bind-mount paths, pids, holder pids).

    python tests/data/hosts/build.py [CASE...]     # rewrites the cases named, or every one
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT_NS = 4026531840
TASKS = "/run/containerd/io.containerd.runtime.v2.task"


def write(case: str, path: str, content: Any) -> None:
    full = os.path.join(HERE, case, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    if isinstance(content, (dict, list)):
        # Go's encoder: compact, no spaces; runtimes write it this way.
        content = json.dumps(content, separators=(",", ":"))
    data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
    with open(full, "wb") as handle:
        handle.write(data)


def proc(
    case: str, pid: int, comm: str, cgroups: List[str], ppid: int = 1, cmdline: Optional[List[str]] = None,
    uid: int = 0,
) -> None:
    write(case, f"proc/{pid}/comm", comm + "\n")
    # Who runs it: a supervisor's word counts by its credentials, not by its title.
    write(case, f"proc/{pid}/status", f"Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")
    write(case, f"proc/{pid}/cgroup", "".join(line + "\n" for line in cgroups))
    write(case, f"proc/{pid}/stat", f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 0 0 0 0\n")
    argv = cmdline if cmdline is not None else [comm]
    write(case, f"proc/{pid}/cmdline", "\0".join(argv) + "\0")


def v1(path: str, v2: bool = True) -> List[str]:
    """A process's cgroup file on a hybrid host: v1 hierarchies, and the v2 one beside them."""
    lines = [f"9:name=systemd:{path}", f"8:pids:{path}", f"4:memory:{path}", f"1:cpu,cpuacct:{path}"]
    return [*lines, f"0::{path}"] if v2 else lines


def namespaces(case: str, entries: List[Dict[str, Any]]) -> None:
    full = []
    for entry in entries:
        full.append({"inode": entry["inode"], "names": entry.get("names", []), "paths": entry.get("paths", []),
                     "pids": entry.get("pids", []), "holder_pids": entry.get("holder_pids", []),
                     "root": entry.get("root", False),
                     **({"userns_uid": entry["userns_uid"]} if "userns_uid" in entry else {})})
    write(case, "namespaces.json", json.dumps(full, indent=1) + "\n")


def docker_config(cid: str, name: str, pid: int, sandbox_key: str, running: bool = True,
                  labels: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """config.v2.json as dockerd 20.10 writes it (fields in the Go struct's order)."""
    return {
        "StreamConfig": {},
        "State": {"Running": running, "Paused": False, "Restarting": False, "OOMKilled": False,
                  "RemovalInProgress": False, "Dead": False, "Pid": pid if running else 0, "ExitCode": 0,
                  "Error": "", "StartedAt": "2026-11-27T22:01:02.123456789Z",
                  "FinishedAt": "0001-01-01T00:00:00Z", "Health": None},
        "ID": cid,
        "Created": "2026-11-27T22:01:01.987654321Z",
        "Managed": False,
        "Path": "sleep",
        "Args": ["infinity"],
        "Config": {"Hostname": cid[:12], "Domainname": "", "User": "", "AttachStdin": False,
                   "AttachStdout": False, "AttachStderr": False, "Tty": False, "OpenStdin": False,
                   "StdinOnce": False, "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["sleep", "infinity"], "Image": "vethpeer-busybox", "Volumes": None, "WorkingDir": "",
                   "Entrypoint": None, "OnBuild": None, "Labels": labels or {}},
        "Image": "sha256:" + "5" * 64,
        "NetworkSettings": {"Bridge": "", "SandboxID": sandbox_key.rsplit("/", 1)[-1].ljust(64, "0")
                            if sandbox_key else "", "HairpinMode": False, "LinkLocalIPv6Address": "",
                            "LinkLocalIPv6PrefixLen": 0, "Networks": {}, "Service": None, "Ports": {},
                            "SandboxKey": sandbox_key, "SecondaryIPAddresses": None,
                            "SecondaryIPv6Addresses": None, "IsAnonymousEndpoint": False,
                            "HasSwarmEndpoint": False},
        "LogPath": f"/var/lib/docker/containers/{cid}/{cid}-json.log",
        "Name": "/" + name,
        "Driver": "overlay2",
        "OS": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "RestartCount": 0,
        "HasBeenStartedBefore": False,
        "HasBeenManuallyStopped": False,
        "MountPoints": {},
        "SecretReferences": None,
        "ConfigReferences": None,
        "AppArmorProfile": "docker-default",
        "HostnamePath": f"/var/lib/docker/containers/{cid}/hostname",
        "HostsPath": f"/var/lib/docker/containers/{cid}/hosts",
        "ShmPath": "",
        "ResolvConfPath": f"/var/lib/docker/containers/{cid}/resolv.conf",
        "SeccompProfile": "",
        "NoNewPrivileges": False,
    }


def docker_container(case: str, root: str, cid: str, name: str, pid: int, sandbox_key: str,
                     network_mode: str = "default", **kw: Any) -> None:
    write(case, f"{root}/containers/{cid}/config.v2.json", docker_config(cid, name, pid, sandbox_key, **kw))
    write(case, f"{root}/containers/{cid}/hostconfig.json",
          {"Binds": None, "ContainerIDFile": "", "NetworkMode": network_mode, "PortBindings": {},
           "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False})


def oci_spec(annotations: Dict[str, str], netns: Optional[str], cgroups_path: str = "") -> Dict[str, Any]:
    namespaces_: List[Dict[str, str]] = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
    if netns is not None:
        namespaces_.insert(1, {"type": "network", "path": netns} if netns else {"type": "network"})
    return {"ociVersion": "1.0.2-dev",
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["/pause"], "env": ["PATH=/usr/bin:/bin"],
                        "cwd": "/", "capabilities": {"bounding": ["CAP_CHOWN"]}, "noNewPrivileges": True},
            "root": {"path": "rootfs", "readonly": True},
            "hostname": "",
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc",
                        "options": ["nosuid", "noexec", "nodev"]}],
            "annotations": annotations,
            "linux": {"resources": {"devices": [{"allow": False, "access": "rwm"}]},
                      "cgroupsPath": cgroups_path, "namespaces": namespaces_,
                      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/bus"]}}


# ---------------------------------------------------------------------------------------------

WEB = "4c1e2b2a0cdd11f5b8e7e2b2f3d4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c"
SIDE = "9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081"
HOSTNET = "1111111111111111111111111111111111111111111111111111111111111111"
NONE = "2222222222222222222222222222222222222222222222222222222222222222"
OLD = "3333333333333333333333333333333333333333333333333333333333333333"
GONE = "4444444444444444444444444444444444444444444444444444444444444444"
LATE = "7777777777777777777777777777777777777777777777777777777777777777"


def docker_v1_cgroupfs() -> None:
    case = "docker-v1-cgroupfs"
    root = "/srv/docker"
    write(case, "etc/docker/daemon.json", '{\n  "data-root": "/srv/docker",\n  "log-driver": "json-file"\n}\n')
    compose = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
               "com.docker.compose.container-number": "1", "com.docker.compose.version": "2.20.2"}
    docker_container(case, root, WEB, "shop-web-1", 4063, "/var/run/docker/netns/237c0d292145", labels=compose)
    docker_container(case, root, SIDE, "sidecar", 4306, "", network_mode=f"container:{WEB}")
    docker_container(case, root, HOSTNET, "hostnet", 4400, "/var/run/docker/netns/default", network_mode="host")
    docker_container(case, root, NONE, "lonely", 4500, "/var/run/docker/netns/a1b2c3d4e5f6", network_mode="none")
    # Stopped, its old sandbox path now someone else's: must name nothing.
    docker_container(case, root, OLD, "old", 0, "/var/run/docker/netns/a1b2c3d4e5f6", running=False)
    write(case, f"{root}/containers/not-a-container-id/config.v2.json", "{}")
    # Running, but with no task directory in the usual place (dockerd's own containerd).
    docker_container(case, root, LATE, "late", 4800, "/var/run/docker/netns/0badc0ffee00")
    # containerd's task directories: what runs ("old" has none: its config is not even read).
    for cid in (WEB, SIDE, HOSTNET, NONE, GONE):
        write(case, f"{TASKS}/moby/{cid}/init.pid", "1")
    proc(case, 4063, "nginx", v1(f"/docker/{WEB}"), 4040)
    proc(case, 4306, "sidecar", v1(f"/docker/{SIDE}"), 4290)
    proc(case, 4400, "hostnet", v1(f"/docker/{HOSTNET}"), 4390)
    proc(case, 4500, "sleep", v1(f"/docker/{NONE}"), 4490)
    # A container whose state directory is gone (data root moved): named by its cgroup.
    proc(case, 4700, "redis-server", v1(f"/docker/{GONE}"), 4690)
    proc(case, 4800, "late", v1(f"/docker/{LATE}"), 4790)
    proc(case, 3828, "dockerd", v1("/"), 1, ["/usr/bin/dockerd"])
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "paths": ["/run/docker/netns/default"], "pids": [1, 3828, 4400]},
        {"inode": 4026532001, "paths": ["/run/docker/netns/237c0d292145"], "pids": [4063, 4306],
         "holder_pids": [3828]},
        {"inode": 4026532002, "paths": ["/run/docker/netns/a1b2c3d4e5f6"], "pids": [4500], "holder_pids": [3828]},
        {"inode": 4026532003, "pids": [4700]},
        {"inode": 4026532004, "paths": ["/run/docker/netns/0badc0ffee00"], "pids": [4800]},
    ])


API = "5555555555555555555555555555555555555555555555555555555555555555"
BROKEN = "6666666666666666666666666666666666666666666666666666666666666666"


KPAUSE = "8" * 64
KAPP = "9" * 64
KUID = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"


def docker_v2_systemd() -> None:
    case = "docker-v2-systemd"
    root = "/var/lib/docker"
    docker_container(case, root, API, "api", 7001, "/var/run/docker/netns/5f0e1d2c3b4a")
    # A kubelet pod through cri-dockerd: the pod's labels on a sandbox container and its app.
    pod = {"io.kubernetes.pod.name": "web", "io.kubernetes.pod.namespace": "default", "io.kubernetes.pod.uid": KUID}
    docker_container(case, root, KPAUSE, f"k8s_POD_web_default_{KUID}_0", 7201, "/var/run/docker/netns/c0ffee000001",
                     labels={**pod, "io.kubernetes.docker.type": "podsandbox"})
    docker_container(case, root, KAPP, f"k8s_nginx_web_default_{KUID}_0", 7211, "",
                     network_mode=f"container:{KPAUSE}",
                     labels={**pod, "io.kubernetes.container.name": "nginx", "io.kubernetes.docker.type": "container"})
    slice_ = f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{KUID.replace('-', '_')}.slice"
    proc(case, 7201, "pause", [f"0::{slice_}/docker-{KPAUSE}.scope"], 7190)
    proc(case, 7211, "nginx", [f"0::{slice_}/docker-{KAPP}.scope"], 7200)
    # Cut off mid-write: its owner comes from the cgroup only.
    text = json.dumps(docker_config(BROKEN, "worker", 7101, "/var/run/docker/netns/0a9b8c7d6e5f"),
                      separators=(",", ":"))
    write(case, f"{root}/containers/{BROKEN}/config.v2.json", text[: len(text) // 2])
    proc(case, 7001, "api", [f"0::/system.slice/docker-{API}.scope"], 6990)
    proc(case, 7101, "worker", [f"0::/system.slice/docker-{BROKEN}.scope"], 7090)
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1]},
        {"inode": 4026532101, "paths": ["/run/docker/netns/5f0e1d2c3b4a"], "pids": [7001]},
        {"inode": 4026532102, "paths": ["/run/docker/netns/0a9b8c7d6e5f"], "pids": [7101]},
        {"inode": 4026532103, "paths": ["/run/docker/netns/c0ffee000001"], "pids": [7201, 7211]},
    ])


POD_UID = "0f7c2a55-1f3e-4d8b-9c6a-2b4e8d1a7c93"
PAUSE = "a" * 63 + "1"
NGINX = "b" * 63 + "2"
SIDECAR = "c" * 63 + "3"
LOGGED_UID = "7d3e5b1a-8c2f-4a6e-b9d0-1e2f3a4b5c6d"
LOGGED_CTR = "d" * 63 + "4"
PLAIN = "vethpeer-task"


def containerd_task(case: str, ns: str, tid: str, annotations: Dict[str, str], netns: Optional[str], pid: int) -> None:
    write(case, f"{TASKS}/{ns}/{tid}/config.json", oci_spec(annotations, netns))
    write(case, f"{TASKS}/{ns}/{tid}/init.pid", str(pid))
    write(case, f"{TASKS}/{ns}/{tid}/address", "unix:///run/containerd/s/abc\n")


def kube_containerd(case: str, systemd: bool) -> None:
    cri = "io.kubernetes.cri."
    sandbox = {cri + "container-type": "sandbox", cri + "sandbox-id": PAUSE, cri + "sandbox-name": "web",
               cri + "sandbox-namespace": "default", cri + "sandbox-uid": POD_UID,
               cri + "sandbox-log-directory": f"/var/log/pods/default_web_{POD_UID}"}
    netns = "/var/run/netns/cni-8d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6"
    containerd_task(case, "k8s.io", PAUSE, sandbox, netns, 8001)

    def member(name: str) -> Dict[str, str]:
        return {cri + "container-type": "container", cri + "sandbox-id": PAUSE, cri + "container-name": name,
                cri + "sandbox-name": "web", cri + "sandbox-namespace": "default", cri + "sandbox-uid": POD_UID}

    containerd_task(case, "k8s.io", NGINX, member("nginx"), "/proc/8001/ns/net", 8011)
    containerd_task(case, "k8s.io", SIDECAR, member("log-shipper"), "/proc/8001/ns/net", 8021)
    # Docker's own tasks also live here: named from Docker's state, not as containerd tasks.
    containerd_task(case, "moby", "e" * 64, {}, "/var/run/docker/netns/ffffffffffff", 8101)
    # A plain containerd task (ctr run --with-ns network:...): no Kubernetes annotations.
    containerd_task(case, "default", PLAIN, {}, "/var/run/netns/cni-11111111-2222-3333-4444-555555555555", 8201)
    # `ctr run` without --with-ns: runc makes the namespace, only init.pid ties the task to it.
    containerd_task(case, "default", "adhoc", {"nerdctl/name": "adhoc-web"}, "", 8401)
    for name in ("nginx", "log-shipper"):
        write(case, f"var/log/pods/default_web_{POD_UID}/{name}/0.log", "")
    write(case, f"var/log/pods/monitoring_node-exporter-x7k2p_{LOGGED_UID}/node-exporter/0.log", "")

    def cgroup(uid: str, cid: str, qos: str) -> List[str]:
        if systemd:
            slice_ = f"kubepods-{qos}-pod{uid.replace('-', '_')}.slice"
            path = f"/kubepods.slice/kubepods-{qos}.slice/{slice_}/cri-containerd-{cid}.scope"
        else:
            path = f"/kubepods/{qos}/pod{uid}/{cid}"
        return v1(path)

    proc(case, 8001, "pause", cgroup(POD_UID, PAUSE, "besteffort"), 7990)
    proc(case, 8011, "nginx", cgroup(POD_UID, NGINX, "besteffort"), 8005)
    proc(case, 8021, "fluent-bit", cgroup(POD_UID, SIDECAR, "besteffort"), 8015)
    # A pod whose task directory is unreadable or gone: its cgroup and the kubelet's logs name it.
    proc(case, 8301, "node_exporter", cgroup(LOGGED_UID, LOGGED_CTR, "burstable"), 8290)
    proc(case, 8201, "sleep", v1("/"), 8190)
    proc(case, 8401, "httpd", v1("/default/adhoc"), 8390)
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1]},
        {"inode": 4026532201, "names": ["cni-8d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6"],
         "paths": ["/run/netns/cni-8d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6"], "pids": [8001, 8011, 8021]},
        {"inode": 4026532202, "pids": [8301]},
        {"inode": 4026532203, "names": ["cni-11111111-2222-3333-4444-555555555555"],
         "paths": ["/run/netns/cni-11111111-2222-3333-4444-555555555555"], "pids": [8201]},
        {"inode": 4026532204, "pids": [8401]},
    ])


CRIO_UID = "3c9f1e2d-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
CRIO_SANDBOX = "f" * 63 + "5"
CRIO_APP = "f" * 63 + "6"


def kube_crio() -> None:
    case = "k8s-crio"
    crio = "io.kubernetes.cri-o."
    common = {"io.kubernetes.pod.name": "db-0", "io.kubernetes.pod.namespace": "data",
              "io.kubernetes.pod.uid": CRIO_UID, "io.container.manager": "cri-o",
              crio + "SandboxID": CRIO_SANDBOX}
    netns = "/var/run/netns/9b8a7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
    run = "/run/containers/storage/overlay-containers"
    write(case, f"{run}/{CRIO_SANDBOX}/userdata/config.json",
          oci_spec({**common, crio + "ContainerType": "sandbox", crio + "ContainerName": "k8s_POD_db-0_data_x_0"},
                   netns))
    write(case, f"{run}/{CRIO_SANDBOX}/userdata/pidfile", "9001")
    write(case, f"{run}/{CRIO_APP}/userdata/config.json",
          oci_spec({**common, crio + "ContainerType": "container", "io.kubernetes.container.name": "postgres"},
                   netns))
    write(case, f"{run}/{CRIO_APP}/userdata/pidfile", "9011")
    listing = [
        {"id": CRIO_SANDBOX, "names": ["k8s_POD_db-0_data_" + CRIO_UID + "_0"], "image": "1" * 64,
         "layer": "2" * 64, "metadata": json.dumps({"pod-name": "db-0", "pod-id": CRIO_SANDBOX, "name": "POD"}),
         "created": "2026-11-27T22:00:00Z", "flags": {"MountLabel": ""}},
        {"id": CRIO_APP, "names": ["k8s_postgres_db-0_data_" + CRIO_UID + "_0"], "image": "3" * 64,
         "layer": "4" * 64, "metadata": json.dumps({"pod-name": "db-0", "pod-id": CRIO_SANDBOX, "name": "postgres"}),
         "created": "2026-11-27T22:00:01Z"},
    ]
    write(case, "var/lib/containers/storage/overlay-containers/containers.json", listing)
    slice_ = f"kubepods-burstable-pod{CRIO_UID.replace('-', '_')}.slice"
    proc(case, 9001, "pause", [f"0::/kubepods.slice/kubepods-burstable.slice/{slice_}/crio-{CRIO_SANDBOX}.scope"])
    proc(case, 9011, "postgres", [f"0::/kubepods.slice/kubepods-burstable.slice/{slice_}/crio-{CRIO_APP}.scope"])
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1]},
        {"inode": 4026532301, "names": ["9b8a7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"],
         "paths": ["/run/netns/9b8a7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"], "pids": [9001, 9011]},
    ])


ALICE_CTR = "0123456789abcdef" * 4
ROOTLESS_NETNS = "/run/user/1000/netns/netns-5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"


def podman_rootless() -> None:
    case = "podman-rootless"
    write(case, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
                              "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    graph = "home/alice/.local/share/containers/storage"
    write(case, f"{graph}/overlay-containers/containers.json",
          [{"id": ALICE_CTR, "names": ["alice-web"], "image": "7" * 64, "layer": "8" * 64,
            "metadata": json.dumps({"image-name": "localhost/busybox:latest", "image-id": "7" * 64,
                                    "name": "alice-web", "created-at": 1764280800}),
            "created": "2026-11-27T22:00:00Z"}])
    write(case, f"{graph}/overlay-containers/{ALICE_CTR}/userdata/config.json",
          oci_spec({"io.container.manager": "libpod", "org.opencontainers.image.stopSignal": "15"},
                   ROOTLESS_NETNS, f"user.slice:libpod:{ALICE_CTR}"))
    write(case, f"run/user/1000/containers/overlay-containers/{ALICE_CTR}/userdata/pidfile", "10001")
    proc(case, 10001, "httpd", [
        f"0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ALICE_CTR}.scope/container"])
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1]},
        # The bind mount lives in rootless Podman's own mount namespace: the host's mount table
        # does not show it, so only the pid (conmon's pidfile) ties the container to it.
        # Made by alice's rootless Podman: owned by her user namespace, so her storage may name it.
        {"inode": 4026532401, "pids": [10001], "holder_pids": [9990], "userns_uid": 1000},
    ])


POD_ID = "e1d2c3b4a5968778695a4b3c2d1e0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8"
INFRA = "1a" * 32
APP = "2b" * 32
SOLO = "3c" * 32


def podman_pod() -> None:
    case = "podman-pod"
    graph = "var/lib/containers/storage"
    netns = "/run/netns/netns-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    solo_netns = "/run/netns/netns-9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    items = []
    for cid, name in ((INFRA, POD_ID[:12] + "-infra"), (APP, "shop-db"), (SOLO, "solo")):
        items.append({"id": cid, "names": [name], "image": "9" * 64, "layer": "a" * 64,
                      "metadata": json.dumps({"image-name": "localhost/busybox:latest", "name": name}),
                      "created": "2026-11-27T22:00:00Z"})
    write(case, f"{graph}/overlay-containers/containers.json", items)
    libpod = {"io.container.manager": "libpod"}
    write(case, f"{graph}/overlay-containers/{INFRA}/userdata/config.json", oci_spec(libpod, netns))
    write(case, f"run/containers/storage/overlay-containers/{INFRA}/userdata/pidfile", "11001")
    write(case, f"{graph}/overlay-containers/{APP}/userdata/config.json", oci_spec(libpod, "/proc/11001/ns/net"))
    write(case, f"run/containers/storage/overlay-containers/{APP}/userdata/pidfile", "11011")
    write(case, f"{graph}/overlay-containers/{SOLO}/userdata/config.json", oci_spec(libpod, solo_netns))
    # Podman 4.3's BoltDB: the pod's and containers' configs are JSON values inside B+tree pages.
    page = bytearray(4096 * 4)
    page[0:8] = b"\x00\x00\x00\x00\x00\x00\x00\x00"
    pod_config = json.dumps({"id": POD_ID, "name": "shop", "namespace": "", "labels": {},
                             "cgroupParent": "/libpod_parent", "sharesCgroup": True, "hasInfra": True,
                             "lockID": 3, "created": "2026-11-27T22:00:00Z"}, separators=(",", ":")).encode()
    ctr_config = json.dumps({"spec": {"ociVersion": "1.0.2-dev"}, "id": APP, "name": "shop-db", "pod": POD_ID},
                            separators=(",", ":")).encode()
    page[4200:4200 + len(pod_config)] = pod_config
    page[9000:9000 + len(ctr_config)] = ctr_config
    page[12000:12016] = b"\xff\xfe\x00binary\x00\x01\x02\x03\x04\x05"
    write(case, f"{graph}/libpod/bolt_state.db", bytes(page))
    proc(case, 11001, "catatonit", v1(f"/libpod_parent/{POD_ID}/libpod-{INFRA}"), 10990)
    proc(case, 11011, "sleep", v1(f"/libpod_parent/{POD_ID}/libpod-{APP}"), 11000)
    proc(case, 11101, "sleep", v1(f"/libpod_parent/libpod-{SOLO}"), 11090)
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1]},
        {"inode": 4026532501, "names": [netns.rsplit("/", 1)[1]], "paths": [netns], "pids": [11001, 11011]},
        {"inode": 4026532502, "names": [solo_netns.rsplit("/", 1)[1]], "paths": [solo_netns], "pids": [11101]},
    ])


def lxc() -> None:
    case = "lxc"
    write(case, "var/lib/lxc/c1/config", "# Template used to create this container: busybox\n"
                                         "lxc.rootfs.path = dir:/var/lib/lxc/c1/rootfs\n"
                                         "lxc.uts.name = c1-host\nlxc.net.0.type = veth\n"
                                         "lxc.net.0.link = lxcbr0\n")
    write(case, "var/lib/lxc/c2/config", 'lxc.uts.name = "c2"\n')
    proc(case, 5291, "init", v1("/lxc.payload.c1"), 5290)
    # LXC sets the monitor's title over its argv: one string, no NULs between the words.
    proc(case, 5290, "lxc-start", v1("/lxc.monitor.c1"), 1, ["[lxc monitor] /var/lib/lxc c1"])
    proc(case, 5390, "lxc-start", v1("/lxc.monitor.c2"), 1, ["[lxc monitor] /var/lib/lxc c2"])
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1, 5290, 5390]},
        {"inode": 4026532601, "pids": [5291], "holder_pids": [5290]},
        # c2's init has exited; only the monitor's fd holds the namespace.
        {"inode": 4026532602, "holder_pids": [5390]},
    ])


def lxd() -> None:
    case = "lxd"
    base = "var/snap/lxd/common/lxd/containers"
    write(case, f"{base}/web/backup.yaml", "container:\n  name: web\n")
    write(case, f"{base}/blog_db/backup.yaml", "container:\n  name: db\n")
    # The same name in two projects: LXD names the second one's LXC container <project>_<name>.
    write(case, f"{base}/c1/backup.yaml", "container:\n  name: c1\n")
    write(case, f"{base}/proj_c1/backup.yaml", "container:\n  name: c1\n")
    proc(case, 12001, "systemd", ["0::/lxc.payload.web/init.scope"], 12000)
    proc(case, 12101, "systemd", ["0::/lxc.payload.blog_db/init.scope"], 12100)
    proc(case, 12201, "systemd", ["0::/lxc.payload.c1/init.scope"], 12200)
    proc(case, 12301, "systemd", ["0::/lxc.payload.proj_c1/init.scope"], 12300)
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1]},
        {"inode": 4026532701, "pids": [12001]},
        {"inode": 4026532702, "pids": [12101]},
        {"inode": 4026532703, "pids": [12201]},
        {"inode": 4026532704, "pids": [12301]},
    ])


def incus() -> None:
    case = "incus"
    base = "var/lib/incus/containers"
    write(case, f"{base}/web/backup.yaml", "container:\n  name: web\n")
    write(case, f"{base}/dev_api/backup.yaml", "container:\n  name: api\n  project: dev\n")
    write(case, f"{base}/c3/backup.yaml", "container:\n  name: c3\n")
    # LXD beside it, one name in both: a payload cgroup does not say whose it is.
    write(case, f"{base}/shared/backup.yaml", "container:\n  name: shared\n")
    write(case, "var/lib/lxd/containers/shared/backup.yaml", "container:\n  name: shared\n")
    write(case, "var/lib/lxd/containers/old/backup.yaml", "container:\n  name: old\n")
    proc(case, 14001, "systemd", ["0::/lxc.payload.web/init.scope"], 14000)
    proc(case, 14101, "systemd", ["0::/lxc.payload.dev_api/init.scope"], 14100)
    # c3's init has exited; only its monitor's fd holds the namespace, and its title names the lxcpath.
    proc(case, 14200, "incusd", ["0::/lxc.monitor.c3"], 1, ["[lxc monitor] /var/lib/incus/containers c3"])
    proc(case, 14301, "systemd", ["0::/lxc.payload.shared/init.scope"], 14300)
    proc(case, 14401, "systemd", ["0::/lxc.payload.old/init.scope"], 14400)
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1, 14200]},
        {"inode": 4026532901, "pids": [14001]},
        {"inode": 4026532902, "pids": [14101]},
        {"inode": 4026532903, "holder_pids": [14200]},
        {"inode": 4026532904, "pids": [14301]},
        {"inode": 4026532905, "pids": [14401]},
    ])


def mininet() -> None:
    case = "mininet"
    shell = ["bash", "--norc", "--noediting", "-is"]
    proc(case, 15001, "bash", ["0::/user.slice/user-0.slice/session-3.scope"], 15000, [*shell, "mininet:h1"])
    proc(case, 15002, "ping", ["0::/user.slice/user-0.slice/session-3.scope"], 15001, ["ping", "10.0.0.2"])
    # Mininet 2.2 started its shells without --noediting.
    proc(case, 15101, "bash", ["0::/user.slice/user-0.slice/session-3.scope"], 15000,
         ["bash", "--norc", "-is", "mininet:s1-host"])
    # A user's shell with the same argv, in a namespace of their own: Mininet runs only as root.
    proc(case, 15201, "bash", ["0::/user.slice/user-1000.slice/session-4.scope"], 15200, [*shell, "mininet:h9"],
         uid=1000)
    # Root, but not Mininet's shell: a flag it never passes.
    proc(case, 15301, "bash", ["0::/user.slice/user-0.slice/session-3.scope"], 15300,
         ["bash", "--login", "-is", "mininet:h8"])
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1, 15000]},
        {"inode": 4026533101, "pids": [15001, 15002]},
        {"inode": 4026533102, "pids": [15101]},
        {"inode": 4026533103, "pids": [15201], "userns_uid": 1000},
        {"inode": 4026533104, "pids": [15301]},
    ])


def nspawn() -> None:
    case = "nspawn"
    write(case, "run/systemd/machines/my-box",
          "# This is private data. Do not parse.\nNAME=my-box\nSCOPE=machine-my\\x2dbox.scope\n"
          "SERVICE=nspawn\nROOT=/var/lib/machines/my-box\nID=5b1c0a2e9d8f47a6b3c4d5e6f7a8b9c0\n"
          "LEADER=6001\nCLASS=container\nREALTIME=1764280800000000\nMONOTONIC=123456789\nNETIF=12\n")
    os.makedirs(os.path.join(HERE, case, "run/systemd/machines"), exist_ok=True)
    link = os.path.join(HERE, case, "run/systemd/machines/unit:machine-my\\x2dbox.scope")
    if not os.path.lexists(link):
        os.symlink("my-box", link)
    proc(case, 6001, "systemd", ["0::/machine.slice/machine-my\\x2dbox.scope/payload"], 6000)
    # Registered once, state file since lost: the scope's name still says which machine.
    proc(case, 6201, "sh", ["0::/machine.slice/machine-build\\x2d7.scope/payload"], 6200)
    # Unregistered (--register=no --keep-unit): the supervisor's command line names it.
    proc(case, 6101, "sleep", ["0::/payload"], 6100)
    proc(case, 6100, "systemd-nspawn", ["0::/supervisor"], 1,
         ["systemd-nspawn", "--register=no", "--keep-unit", "-q", "-D", "/srv/m2", "-M", "second", "sleep", "1d"])
    proc(case, 6300, "systemd-nspawn", ["0::/supervisor"], 1,
         ["/usr/bin/systemd-nspawn", "--register=no", "--directory=/var/lib/machines/third/", "sh"])
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1, 6000, 6100, 6300]},
        {"inode": 4026532801, "pids": [6001], "holder_pids": [6000]},
        {"inode": 4026532802, "pids": [6101], "holder_pids": [6100]},
        {"inode": 4026532803, "pids": [6201]},
        {"inode": 4026532804, "holder_pids": [6300]},
    ])


def libvirt_lxc() -> None:
    case = "libvirt-lxc"
    write(case, "run/libvirt/lxc/lxc1.xml",
          "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
          "OVERWRITTEN AND LOST.\n-->\n\n"
          "<domstatus state='running' reason='booted' pid='7000'>\n"
          "  <init pid='7002'/>\n"
          "  <domain type='lxc' id='7000'>\n    <name>lxc1</name>\n"
          "    <uuid>a1b2c3d4-e5f6-4718-9a0b-c1d2e3f4a5b6</uuid>\n"
          "    <memory unit='KiB'>524288</memory>\n    <os>\n      <type arch='x86_64'>exe</type>\n"
          "      <init>/bin/sh</init>\n    </os>\n"
          "    <devices>\n      <interface type='network'>\n        <source network='default'/>\n"
          "        <target dev='vnet0'/>\n      </interface>\n    </devices>\n  </domain>\n</domstatus>\n")
    write(case, "run/libvirt/lxc/lxc1.pid", "7000")
    proc(case, 7002, "sh", ["0::/machine.slice/machine-lxc\\x2d7000\\x2dlxc1.scope"], 7000)
    proc(case, 7000, "libvirt_lxc", ["0::/machine.slice/machine-lxc\\x2d7000\\x2dlxc1.scope"], 1,
         ["/usr/lib/libvirt/libvirt_lxc", "--name", "lxc1", "--console", "25", "--handshake", "28"])
    # No status file: the cgroupfs layout names it.
    proc(case, 7102, "init", v1("/machine/lxc2.libvirt-lxc"), 7100)
    # Neither: the controller's command line does.
    proc(case, 7202, "init", v1("/"), 7200)
    proc(case, 7200, "libvirt_lxc", v1("/"), 1, ["/usr/lib/libvirt/libvirt_lxc", "--name", "lxc3", "--veth", "vnet3"])
    namespaces(case, [
        {"inode": ROOT_NS, "root": True, "pids": [1, 7000, 7200]},
        {"inode": 4026532901, "pids": [7002]},
        {"inode": 4026532902, "pids": [7102]},
        {"inode": 4026532903, "pids": [7202]},
    ])


def neutron() -> None:
    case = "neutron"
    names = ["qdhcp-6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "qrouter-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
             "snat-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "fip-7e8f9a0b-1c2d-4e3f-a4b5-c6d7e8f9a0b1",
             "qlbaas-2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e", "ovnmeta-3c4d5e6f-7a8b-4c9d-0e1f-2a3b4c5d6e7f",
             "qrouter-not-a-uuid"]
    entries: List[Dict[str, Any]] = [{"inode": ROOT_NS, "root": True, "pids": [1]}]
    for i, name in enumerate(names):
        entries.append({"inode": 4026533001 + i, "names": [name], "paths": [f"/run/netns/{name}"],
                        "pids": [13001] if name.startswith("qdhcp") else []})
    proc(case, 13001, "dnsmasq", v1("/system.slice/neutron-dhcp-agent.service"), 1)
    namespaces(case, entries)


CASES = {
    "docker-v1-cgroupfs": docker_v1_cgroupfs, "docker-v2-systemd": docker_v2_systemd,
    "k8s-containerd-cgroupfs": lambda: kube_containerd("k8s-containerd-cgroupfs", False),
    "k8s-containerd-systemd": lambda: kube_containerd("k8s-containerd-systemd", True), "k8s-crio": kube_crio,
    "podman-rootless": podman_rootless, "podman-pod": podman_pod, "lxc": lxc, "lxd": lxd, "incus": incus,
    "mininet": mininet, "nspawn": nspawn, "libvirt-lxc": libvirt_lxc, "neutron": neutron,
}


def main(argv: List[str]) -> int:
    """Rewrite the cases named (all by default); the real-* trees, recorded from the runtimes
    themselves by tests/runtimes/capture.py, are never touched."""
    for name in argv or list(CASES):
        if os.path.isdir(os.path.join(HERE, name)):
            shutil.rmtree(os.path.join(HERE, name))
        CASES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
