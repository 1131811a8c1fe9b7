"""Docker: container name, id and compose labels from the daemon's own state files.

- ``<data-root>/containers/<id>/config.v2.json`` (data-root from /etc/docker/daemon.json, default
  /var/lib/docker): ``Name`` ("/web-1"), ``State.Running``/``State.Pid``,
  ``NetworkSettings.SandboxKey`` ("/var/run/docker/netns/<sandbox id[:12]>", a new one on every
  start; ".../netns/default" for ``--network host``), ``Config.Labels`` (compose project/service).
- ``hostconfig.json`` ``NetworkMode``: "container:<id>" for a container living in another one's
  namespace (it has no SandboxKey; its State.Pid sits in the other's namespace).
- which containers run: containerd keeps a task directory for each, ``/run/containerd/
  io.containerd.runtime.v2.task/moby/<id>`` (``/run/docker/containerd/daemon/...`` when dockerd
  runs its own containerd). Listing it spares reading the config of every stopped container;
  without it every config is read.
- cgroup paths, when the state cannot be read: ``/docker/<id>`` (cgroupfs driver, v1 and v2) and
  ``/system.slice/docker-<id>.scope`` (systemd driver).
"""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional, Set, Tuple

from ..host.procfs import CAP_JSON, Host, normpath, parse_json, pattern
from .base import Owner, Scan, pairs
from .kubernetes import Pod, pod_owner

#: Its rows of ``owners.SOURCES``: the owner kinds it names and the prefix a label shows each
#: with (``model.owner_label``); the ``--netns WORD:NAME`` words and the owner kinds each selects;
#: directories whose entries coming and going mean a namespace may have come or gone (``watch``).
LABELS: Dict[str, str] = {"docker": "docker: "}
SELECTORS: Dict[str, Tuple[str, ...]] = {"docker": ("docker",)}
WATCHED: Tuple[str, ...] = ("/run/docker/netns", "/var/run/docker/netns", "/var/lib/docker/containers",
           "/run/containerd/io.containerd.runtime.v2.task/moby")

DEFAULT_ROOT = "/var/lib/docker"
TASK_DIRS = (
    "/run/containerd/io.containerd.runtime.v2.task/moby",
    "/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby",
)
_ID = pattern(r"[0-9a-f]{64}")
# Stopped containers own no namespace and are most of a busy host's state: skip them before paying
# for a JSON parse. dockerd writes this file with Go's encoder (no spaces), the \s* is for others.
_RUNNING = pattern(rb'"Running"\s*:\s*true')
_CGROUP = pattern(r"(?:^|/)docker[-/]([0-9a-f]{64})(?:\.scope)?(?:/|$)")
_HOST_NETNS = "/run/docker/netns/default"
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
# cri-dockerd (and the kubelet's dockershim before it) label every container with its pod.
KUBE_POD_NAME = "io.kubernetes.pod.name"
KUBE_NAMESPACE = "io.kubernetes.pod.namespace"
KUBE_POD_UID = "io.kubernetes.pod.uid"
KUBE_CONTAINER = "io.kubernetes.container.name"


class Container(NamedTuple):
    id: str
    name: str
    pid: Optional[int]
    sandbox_key: Optional[str]
    compose_project: Optional[str]
    compose_service: Optional[str]
    #: For the kubelet's containers (cri-dockerd, dockershim): pod namespace, name, uid, container.
    pod: Optional[Tuple[str, str, str, str]]


def data_root(host: Host) -> str:
    config = host.read_json("/etc/docker/daemon.json")
    if isinstance(config, dict):
        for key in ("data-root", "graph"):  # "graph": the name before Docker 17.05
            value = config.get(key)
            if isinstance(value, str) and value.startswith("/"):
                return value.rstrip("/") or "/"
    return DEFAULT_ROOT


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def parse_config(container_id: str, data: Any) -> Optional[Container]:
    """The fields that matter from a parsed config.v2.json; None unless it says it is running."""
    if not isinstance(data, dict):
        return None
    state = data.get("State")
    if not isinstance(state, dict) or state.get("Running") is not True:
        return None
    pid = state.get("Pid")
    settings = data.get("NetworkSettings")
    config = data.get("Config")
    labels = config.get("Labels") if isinstance(config, dict) else None
    if not isinstance(labels, dict):
        labels = {}
    name = _str(data.get("Name"))
    return Container(
        container_id,
        name.lstrip("/") if name and name != "/" else container_id[:12],
        pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None,
        _str(settings.get("SandboxKey")) if isinstance(settings, dict) else None,
        _str(labels.get(COMPOSE_PROJECT)),
        _str(labels.get(COMPOSE_SERVICE)),
        _pod_labels(labels) if KUBE_POD_NAME in labels else None,
    )


def _pod_labels(labels: Dict[Any, Any]) -> Optional[Tuple[str, str, str, str]]:
    found = [_str(labels.get(key)) for key in (KUBE_NAMESPACE, KUBE_POD_NAME, KUBE_POD_UID)]
    namespace, name, uid = found
    if namespace is None or name is None or uid is None:
        return None
    return namespace, name, uid, _str(labels.get(KUBE_CONTAINER)) or "POD"


def running_ids(host: Host) -> Optional[Set[str]]:
    """Ids of the containers containerd runs for Docker, or None when its state is not there."""
    found: Optional[Set[str]] = None
    for base in TASK_DIRS:
        if host.isdir(base):
            found = (found or set()).union(host.listdir(base))
    return found


def read_config(host: Host, root: str, container_id: str) -> Optional[Container]:
    raw = host.read(f"{root}/containers/{container_id}/config.v2.json", CAP_JSON)
    if raw is None or not _RUNNING.search(raw):
        return None
    return parse_config(container_id, parse_json(raw))


def read_containers(host: Host, root: str) -> Dict[str, Container]:
    """Every running container in the state directory, by id."""
    found: Dict[str, Container] = {}
    running = running_ids(host)
    for entry in host.listdir(f"{root}/containers"):
        if not _ID.fullmatch(entry) or (running is not None and entry not in running):
            continue
        container = read_config(host, root, entry)
        if container is not None:
            found[entry] = container
    return found


def _network_mode(host: Host, root: str, container_id: str) -> Optional[str]:
    data = host.read_json(f"{root}/containers/{container_id}/hostconfig.json")
    return _str(data.get("NetworkMode")) if isinstance(data, dict) else None


def owner(container: Container, how: str, network: Optional[str] = None) -> Owner:
    return Owner(
        "docker",
        container.name,
        container.id,
        pairs(
            ("compose_project", container.compose_project),
            ("compose_service", container.compose_service),
            ("network", network),
        ),
        how,
    )


def _by_id(containers: Dict[str, Container], ref: str) -> Optional[Container]:
    if ref in containers:
        return containers[ref]
    for container in containers.values():
        if container.name == ref:
            return container
    return None


def from_state(scan: Scan) -> None:
    root = data_root(scan.host)
    containers = read_containers(scan.host, root)
    scan.register(containers)
    scan.memo["docker"] = containers
    scan.memo["docker-root"] = root
    pods: Dict[Tuple[int, Tuple[str, str, str]], List[str]] = {}
    for container in containers.values():
        inode = _place(scan, root, containers, container)
        if inode is not None and container.pod is not None:
            members = pods.setdefault((inode, container.pod[:3]), [])
            if container.pod[3] != "POD":  # the sandbox ("pause") container
                members.append(container.pod[3])
    for (inode, (namespace, name, uid)), members in pods.items():
        scan.add(inode, pod_owner(Pod(namespace, name, uid), members, "docker", "docker container labels"))


def _place(scan: Scan, root: str, containers: Dict[str, Container], container: Container) -> Optional[int]:
    """Add the container's owner to its namespace, and say which namespace that is."""
    key = normpath(container.sandbox_key) if container.sandbox_key else None
    if key == _HOST_NETNS:
        inode = scan.by_path.get(key, scan.root_inode)
        scan.add(inode, owner(container, "host network (SandboxKey .../netns/default)", "host"), 1)
        return inode
    inode = scan.inode_of_path(key)
    if inode is not None:
        scan.add(inode, owner(container, "config.v2.json SandboxKey"))
        return inode
    inode = scan.inode_of_pid(container.pid, container.id)
    if inode is None:
        return None
    network = None
    if not key:
        mode = _network_mode(scan.host, root, container.id)
        if mode and mode.startswith("container:"):
            other = _by_id(containers, mode[len("container:") :])
            network = f"container:{other.name}" if other else mode
        elif mode == "host":
            network = "host"
    scan.add(inode, owner(container, "config.v2.json State.Pid", network), 0 if network is None else 1)
    return inode


def from_cgroup(path: str, scan: Scan) -> Optional[Owner]:
    if "kubepods" in path:  # the kubelet's containers are named as pods
        return None
    match = _CGROUP.search(path)
    if match is None:
        return None
    container_id = match.group(1)
    known = scan.memo.get("docker", {}).get(container_id)
    if known is None and "docker-root" in scan.memo:
        # Running, yet not in containerd's task list (another containerd, or it just started).
        known = read_config(scan.host, scan.memo["docker-root"], container_id)
    if known is not None:
        return owner(known, f"cgroup {path}")
    return Owner("docker", container_id[:12], container_id, (), f"cgroup {path}")
