"""Kubernetes pods, run by containerd or CRI-O: namespace/name, uid and the containers in each.

- containerd: a task directory per container, ``/run/containerd/io.containerd.runtime.v2.task/
  k8s.io/<id>/`` with the OCI spec ``config.json`` (annotations ``io.kubernetes.cri.container-type``
  "sandbox"/"container", ``...sandbox-id``, ``...sandbox-name``, ``...sandbox-namespace``,
  ``...sandbox-uid``, ``...container-name``) and ``init.pid``. The sandbox's spec joins the
  ``cni-<uuid>`` namespace by path: that ties the name to the pod. Tasks in other containerd
  namespaces (not ``moby``, which is Docker's) are named as plain containerd containers.
- CRI-O: containers/storage (see ``storage``), annotations ``io.kubernetes.pod.name``,
  ``...pod.namespace``, ``...pod.uid``, ``io.kubernetes.cri-o.ContainerType``,
  ``io.kubernetes.cri-o.SandboxID``, ``io.kubernetes.container.name``.
- cgroups, when the state cannot be read: ``/kubepods/<qos>/pod<uid>/<id>`` (cgroupfs driver) or
  ``/kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid, - as _>.slice/
  cri-containerd-<id>.scope`` (systemd driver; ``crio-<id>.scope`` for CRI-O); the pod's name then
  comes from the kubelet's log directory ``/var/log/pods/<namespace>_<pod>_<uid>/<container>/``.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Set, Tuple

from ..host.procfs import CAP_JSON, pattern, read_int
from . import storage
from .base import Owner, Scan, pairs, per_scan

#: Its rows of ``owners.SOURCES``: the owner kinds it names and the prefix a label shows each
#: with (``model.owner_label``); the ``--netns WORD:NAME`` words and the owner kinds each selects;
#: directories whose entries coming and going mean a namespace may have come or gone (``watch``).
LABELS: Dict[str, str] = {"pod": "pod ", "containerd": "containerd: "}
SELECTORS: Dict[str, Tuple[str, ...]] = {"pod": ("pod",), "containerd": ("containerd",)}
WATCHED: Tuple[str, ...] = ("/run/containerd/io.containerd.runtime.v2.task/k8s.io",)

TASK_DIRS = (
    "/run/containerd/io.containerd.runtime.v2.task",
    "/run/containerd/io.containerd.runtime.v1.linux",
    "/run/k3s/containerd/io.containerd.runtime.v2.task",
)
LOG_DIR = "/var/log/pods"
_UID = r"[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}"
_POD_CGROUP = pattern(r"kubepods.*?pod(" + _UID + r")(?:\.slice)?(?:/|$)")
_TASK_ID = pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,255}")

CRI = "io.kubernetes.cri."
CRIO = "io.kubernetes.cri-o."


class Member(NamedTuple):
    """One container of a pod, as its runtime's state tells it."""

    id: str
    sandbox: str
    is_sandbox: bool
    namespace: Optional[str]
    pod: Optional[str]
    uid: Optional[str]
    container: Optional[str]
    netns: Optional[str]
    pid: Optional[int]
    runtime: str


#: A containerd task: (containerd namespace, id, annotations, netns path, init pid).
Task = Tuple[str, str, Dict[str, str], Optional[str], Optional[int]]


class Pod(NamedTuple):
    namespace: str
    name: str
    uid: Optional[str]


def _tasks(scan: Scan) -> List[Task]:
    host = scan.host
    found: List[Task] = []
    for base in TASK_DIRS:
        for namespace in host.listdir(base):
            if namespace == "moby":  # Docker's own tasks, named from Docker's state
                continue
            tasks = [task for task in host.listdir(f"{base}/{namespace}") if _TASK_ID.fullmatch(task)]
            scan.register(tasks)
            for task in tasks:
                spec = storage.read_spec(host.read(f"{base}/{namespace}/{task}/config.json", CAP_JSON))
                if spec is None:
                    continue
                notes, netns = spec
                pid = None
                if scan.inode_of_path(netns) is None:  # the pid is only needed when the path says nothing
                    pid = read_int(host.read(f"{base}/{namespace}/{task}/init.pid"))
                found.append((namespace, task, notes, netns, pid))
    return found


def read_members(scan: Scan) -> Tuple[List[Member], List[Task]]:
    """Pod members from containerd and CRI-O, and the plain (non-Kubernetes) containerd tasks."""
    members: List[Member] = []
    plain: List[Task] = []
    for namespace, task, notes, netns, pid in _tasks(scan):
        kind = notes.get(CRI + "container-type")
        if kind in ("sandbox", "container"):
            sandbox = notes.get(CRI + "sandbox-id") or task
            members.append(
                Member(
                    task, sandbox, kind == "sandbox",
                    notes.get(CRI + "sandbox-namespace"), notes.get(CRI + "sandbox-name"),
                    notes.get(CRI + "sandbox-uid") or _uid_from_log_dir(notes.get(CRI + "sandbox-log-directory")),
                    notes.get(CRI + "container-name"), netns, pid, "containerd",
                )
            )
        else:
            plain.append((namespace, task, notes, netns, pid))
    for stored in storage.read_all(scan):
        notes = stored.annotations
        kind = notes.get(CRIO + "ContainerType")
        if stored.manager != "cri-o" or kind not in ("sandbox", "container"):
            continue
        members.append(
            Member(
                stored.id, notes.get(CRIO + "SandboxID") or stored.id, kind == "sandbox",
                notes.get("io.kubernetes.pod.namespace"), notes.get("io.kubernetes.pod.name"),
                notes.get("io.kubernetes.pod.uid"), notes.get("io.kubernetes.container.name"),
                stored.netns, stored.pid, "cri-o",
            )
        )
    return members, plain


def _uid_from_log_dir(path: Optional[str]) -> Optional[str]:
    parsed = _parse_log_entry(path.rstrip("/").rsplit("/", 1)[-1]) if path else None
    return parsed.uid if parsed else None


def _parse_log_entry(entry: str) -> Optional[Pod]:
    # Namespaces and pod names are DNS labels/subdomains: they never hold "_".
    parts = entry.split("_")
    if len(parts) != 3 or not all(parts):
        return None
    return Pod(parts[0], parts[1], parts[2])


@per_scan
def log_pods(scan: Scan) -> Dict[str, Tuple[Pod, str]]:
    """The kubelet's log directories by pod uid: (pod, directory entry)."""
    found: Dict[str, Tuple[Pod, str]] = {}
    for entry in scan.host.listdir(LOG_DIR):
        pod = _parse_log_entry(entry)
        if pod is not None and pod.uid:
            found[pod.uid] = (pod, entry)
    return found


def pod_owner(
    pod: Pod, containers: List[str], runtime: Optional[str], how: str, sandbox: Optional[str] = None
) -> Owner:
    return Owner(
        "pod",
        f"{pod.namespace}/{pod.name}",
        pod.uid,
        pairs(
            ("namespace", pod.namespace),
            ("pod", pod.name),
            ("containers", ",".join(sorted(set(containers)))),
            ("runtime", runtime),
            ("sandbox", sandbox),
        ),
        how,
    )


def from_state(scan: Scan) -> None:
    members, plain = read_members(scan)
    groups: Dict[str, List[Member]] = {}
    for member in members:
        groups.setdefault(member.sandbox, []).append(member)
    for sandbox, group in groups.items():
        group.sort(key=lambda m: not m.is_sandbox)
        first = group[0]
        namespace = next((m.namespace for m in group if m.namespace), None)
        name = next((m.pod for m in group if m.pod), None)
        uid = next((m.uid for m in group if m.uid), None)
        if not (namespace and name) and uid:
            logged = log_pods(scan).get(uid)
            if logged:
                namespace, name = logged[0].namespace, logged[0].name
        if not (namespace and name):
            continue
        containers = [m.container for m in group if m.container and not m.is_sandbox]
        inode, how = _locate(scan, group)
        if inode is None:
            continue
        owner = pod_owner(Pod(namespace, name, uid), containers, first.runtime, how, sandbox)
        scan.add(inode, owner, 0 if first.is_sandbox else 1)
    for namespace, task, notes, netns, pid in plain:
        inode = scan.inode_of_path(netns)
        how = "containerd task spec netns path"
        if inode is None and pid is not None:
            inode, how = scan.inode_of_pid(pid, task), "containerd task init.pid"
        name = notes.get("nerdctl/name") or task
        scan.add(inode, Owner("containerd", name, task, (("namespace", namespace),), how))


def _locate(scan: Scan, group: List[Member]) -> Tuple[Optional[int], str]:
    for member in group:
        inode = scan.inode_of_path(member.netns)
        if inode is not None:
            what = "sandbox" if member.is_sandbox else "container"
            return inode, f"{member.runtime} {what} spec netns path {member.netns}"
    for member in group:
        inode = scan.inode_of_pid(member.pid, member.id)
        if inode is not None:
            return inode, f"{member.runtime} {'sandbox' if member.is_sandbox else 'container'} pid"
    return None, ""


def from_cgroup(path: str, scan: Scan) -> Optional[Owner]:
    match = _POD_CGROUP.search(path)
    if match is None:
        return None
    uid = match.group(1).replace("_", "-")
    logged = log_pods(scan).get(uid)
    runtime = "cri-o" if "/crio-" in path else "containerd" if "cri-containerd-" in path else None
    if logged is None:
        return Owner("pod", f"pod {uid}", uid, pairs(("runtime", runtime)), f"cgroup {path}")
    pod, entry = logged
    containers: Set[str] = set(scan.host.listdir(f"{LOG_DIR}/{entry}"))
    return pod_owner(pod, sorted(containers), runtime, f"cgroup {path}, {LOG_DIR}/{entry}")
