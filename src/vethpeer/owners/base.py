"""The records, and the per-scan index every source reads through.

A ``Scan`` is built once per ``identify`` call: it maps bind-mount paths and pids to namespace
inodes, caches each /proc file it reads (a pid's cgroup, cmdline, parent), and collects owners.
Sources look their own state up in it by path or pid; nothing here is read per namespace per source.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, TypeVar, cast

from ..host.procfs import Host, decode, normpath, pattern
from ..model import Namespace, Owner

# Owner and Namespace are public records of the model; the sources import them from here with the rest.
__all__ = ["KIND_RANK", "Namespace", "Owner", "Scan", "labelled", "pairs", "systemd_unescape"]


T = TypeVar("T")
_MISSING = object()

#: Best owner first: a pod before the containers it is made of, anything before a bare process.
KIND_RANK = {"pod": 0, "process": 9}

#: Pids looked at per namespace in the cgroup and process passes: a namespace with thousands of
#: processes is named by its first few as well as by all of them.
PIDS_PER_NAMESPACE = 8

_SYSTEMD_ESCAPE = pattern(r"\\x([0-9a-fA-F]{2})")


def systemd_unescape(text: str) -> str:
    """Undo systemd's unit name escaping (``\\x2d`` for ``-``), as `systemd-escape -u` does."""
    return _SYSTEMD_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def pairs(*items: Tuple[str, Optional[str]]) -> Tuple[Tuple[str, str], ...]:
    """The extra pairs that have a value."""
    return tuple((k, v) for k, v in items if v)


def labelled(owner: Owner, prefixes: Mapping[str, str]) -> Owner:
    """``owner`` with its label: the prefix its kind's source declares, then its name (a name
    that already starts with the prefix keeps it once). A kind with no prefix reads as its name."""
    prefix = prefixes.get(owner.kind, "")
    if not prefix:
        return owner
    label = owner.name if owner.name.startswith(prefix) else prefix + owner.name
    return owner if owner.label == label else owner._replace(label=label)


class Scan:
    """One identification run: the namespaces by path and pid, /proc reads cached, owners found.
    ``labels``: owner kind -> the prefix of its label (``owners.LABEL_PREFIXES``)."""

    def __init__(self, namespaces: Sequence[Namespace], host: Host,
                 labels: Optional[Mapping[str, str]] = None) -> None:
        self.host = host
        self.labels: Mapping[str, str] = labels or {}
        self.namespaces = tuple(namespaces)
        self.by_path: Dict[str, int] = {}
        self.by_pid: Dict[int, int] = {}
        self.by_inode: Dict[int, Namespace] = {}
        self.root_inode: Optional[int] = None
        by_path, by_pid = self.by_path, self.by_pid
        for ns in self.namespaces:
            inode = ns.id.inode
            self.by_inode.setdefault(inode, ns)
            held = ns.holders
            for name in held["names"]:
                by_path.setdefault(f"/run/netns/{name}", inode)
            for path in held["paths"]:
                by_path.setdefault(host.unroot(path), inode)
            for pid in held["pids"]:
                by_pid.setdefault(pid, inode)
            if ns.root and self.root_inode is None:
                self.root_inode = inode
        self._found: Dict[int, List[Tuple[int, int, int, Owner]]] = {}
        self._keys: Dict[int, Set[Tuple[str, str]]] = {}
        self._seq = 0
        self._cgroups: Dict[int, Tuple[str, ...]] = {}
        self._uids: Dict[int, Optional[int]] = {}
        self._cgroup_owners: Dict[str, Optional[int]] = {}
        #: Claims refused because their writer could not have made the namespace (for the tests).
        self.refused: List[Tuple[int, Owner, int]] = []
        self._cmdlines: Dict[int, Tuple[str, ...]] = {}
        self._ppids: Dict[int, Optional[int]] = {}
        self._per_pid: Dict[Tuple[str, int], Any] = {}
        #: Reads shared between sources (Podman and CRI-O keep state in the same directories).
        self.memo: Dict[str, Any] = {}
        #: Every container and task id a runtime's state lists: a /proc/PID path in that state
        #: counts only while PID is in the cgroup of one of them.
        self.known_ids: Set[str] = set()
        #: Sources that failed with an unexpected exception: (source, repr). Empty unless a bug.
        self.failures: List[Tuple[str, str]] = []

    # -- owners ----------------------------------------------------------------------------

    def add(self, inode: Optional[int], owner: Owner, weight: int = 0, by: Optional[int] = None) -> None:
        """Record ``owner`` for the namespace; the same (kind, id or name) is kept once, the first
        time. Lower ``weight`` sorts first among owners of the same kind rank. ``by``: the uid
        whose word this is (None: root's, or the kernel's): see ``may_name``."""
        if inode is None:
            return
        if by is not None and not self.may_name(by, inode):
            self.refused.append((inode, owner, by))
            return
        key = (owner.kind, owner.id or owner.name)
        keys = self._keys.setdefault(inode, set())
        if key in keys:
            return
        keys.add(key)
        self._seq += 1
        self._found.setdefault(inode, []).append((KIND_RANK.get(owner.kind, 1), weight, self._seq, owner))

    def may_name(self, uid: int, inode: int) -> bool:
        """Whether user ``uid``'s word (their files, their processes, their cgroups) may name the
        namespace: root's may name any; anyone else's only a namespace owned by a user namespace
        that ``uid`` owns, one they could have made themselves."""
        if uid == 0:
            return True
        ns = self.by_inode.get(inode)
        return ns is not None and ns.userns_uid is not None and ns.userns_uid == uid

    def process_uid(self, pid: int) -> Optional[int]:
        """The uid a process runs as, from its status: real and effective both (a set-uid program
        started by a user is that user's); None when they differ or it cannot be read."""
        if pid in self._uids:
            return self._uids[pid]
        uid: Optional[int] = None
        raw = self.host.read_pid(pid, "status")
        if raw:
            for line in raw.split(b"\n"):
                if line.startswith(b"Uid:"):
                    fields = line.split()[1:3]
                    if len(fields) == 2 and fields[0] == fields[1] and fields[0].isdigit():
                        uid = int(fields[0])
                    break
        self._uids[pid] = uid
        return uid

    def cgroup_owner(self, path: str) -> Optional[int]:
        """Who made a cgroup: the owner of its directory (root, or the user a subtree is delegated
        to, who can make any cgroup below it). None when it cannot be found (a v1-only host)."""
        if path in self._cgroup_owners:
            return self._cgroup_owners[path]
        owner: Optional[int] = None
        for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"):
            info = self.host.files.stat(f"{mount}{path}")
            if info is not None:
                owner = info.st_uid
                break
        self._cgroup_owners[path] = owner
        return owner

    def cgroup_may_name(self, path: str, inode: int) -> bool:
        """A cgroup path's word counts for the namespace when its maker may name it."""
        owner = self.cgroup_owner(path)
        return owner is None or self.may_name(owner, inode)

    def owned(self, inode: int) -> bool:
        return inode in self._found

    def unowned(self) -> List[Namespace]:
        """Namespaces no source has named yet, the root one left out (its processes are the host's)."""
        return [ns for ns in self.namespaces if not ns.root and ns.inode not in self._found]

    def result(self) -> Dict[int, Tuple[Owner, ...]]:
        labels = self.labels
        return {inode: tuple(labelled(entry[3], labels) for entry in sorted(found))
                for inode, found in self._found.items()}

    # -- lookups ---------------------------------------------------------------------------

    def register(self, ids: Iterable[str]) -> None:
        """Container or task ids a runtime's state lists (see ``inode_of_path``)."""
        self.known_ids.update(i for i in ids if i)

    def inode_of_path(self, path: Optional[str]) -> Optional[int]:
        """The namespace a runtime's netns path names: a bind mount, or ``/proc/PID/ns/net`` while
        PID's cgroup still names a container the runtimes' state lists (Podman writes pod members'
        specs with the infra container's pid, and keeps them after it stopped: a pid reused by an
        unrelated process must not hand it the container)."""
        if not path or not isinstance(path, str):
            return None
        path = normpath(path)
        inode = self.by_path.get(path)
        if inode is not None:
            return inode
        parts = path.split("/")
        if len(parts) == 5 and parts[1] == "proc" and parts[3] == "ns" and parts[4] == "net" and parts[2].isdigit():
            pid = int(parts[2])
            inode = self.by_pid.get(pid)
            if inode is not None and self._runs_a_known_container(pid):
                return inode
        return None

    def _runs_a_known_container(self, pid: int) -> bool:
        inode = self.by_pid.get(pid)
        for raw in self.cgroups(pid):
            path = systemd_unescape(raw) if "\\x" in raw else raw
            if any(known in path for known in self.known_ids):
                return inode is not None and self.cgroup_may_name(raw, inode)
        return False

    def inode_of_pid(self, pid: Optional[int], container_id: str) -> Optional[int]:
        """The namespace of a pid a runtime recorded (a pid file, State.Pid, machined's LEADER), if
        that process's cgroup (systemd-unescaped too) still names the container: a stale or torn
        pid file must not hand the container to whatever process has the number now (pid 1 above
        all)."""
        if pid is None:
            return None
        inode = self.by_pid.get(pid)
        if inode is None or not container_id:
            return None
        for path in self.cgroups(pid):
            if container_id in path or ("\\x" in path and container_id in systemd_unescape(path)):
                # A user with a delegated cgroup subtree can name a cgroup after any container.
                return inode if self.cgroup_may_name(path, inode) else None
        return None

    # -- /proc, cached -----------------------------------------------------------------------

    def cgroups(self, pid: int) -> Tuple[str, ...]:
        """The distinct cgroup paths of a process, v2 (``0::``) first."""
        cached = self._cgroups.get(pid)
        if cached is not None:
            return cached
        raw = self.host.read_pid(pid, "cgroup")
        paths: List[str] = []
        if raw:
            for line in decode(raw).splitlines():
                fields = line.split(":", 2)
                if len(fields) != 3 or not fields[2].startswith("/"):
                    continue
                path = fields[2]
                if fields[0] == "0" and fields[1] == "":
                    paths.insert(0, path)
                elif path not in paths:
                    paths.append(path)
        result = tuple(dict.fromkeys(paths))
        self._cgroups[pid] = result
        return result

    def cmdline(self, pid: int) -> Tuple[str, ...]:
        cached = self._cmdlines.get(pid)
        if cached is None:
            raw = self.host.read_pid(pid, "cmdline")
            cached = tuple(decode(raw).rstrip("\0").split("\0")) if raw else ()
            self._cmdlines[pid] = cached
        return cached

    def ppid(self, pid: int) -> Optional[int]:
        if pid in self._ppids:
            return self._ppids[pid]
        raw = self.host.read_pid(pid, "stat")
        value: Optional[int] = None
        if raw:
            # The command name may hold spaces and parentheses: the fields start after the last ')'.
            fields = raw[raw.rfind(b")") + 2 :].split()
            if len(fields) > 1 and fields[1].isdigit():
                value = int(fields[1])
        self._ppids[pid] = value
        return value

    def per_pid(self, what: str, pid: int, compute: Callable[[int], T]) -> T:
        """``compute(pid)``, once per scan: the same holders (dockerd, a monitor) hold many namespaces."""
        key = (what, pid)
        value = self._per_pid.get(key, _MISSING)
        if value is not _MISSING:
            return cast(T, value)
        value = compute(pid)
        self._per_pid[key] = value
        return value

    def candidates(self, ns: Namespace) -> List[int]:
        """Processes that may be a namespace's supervisor: its holders and its processes' parents."""
        found = list(ns.holder_pids[:PIDS_PER_NAMESPACE])
        for pid in self.some_pids(ns):
            parent = self.ppid(pid)
            if parent is not None and parent not in found:
                found.append(parent)
        return found

    def some_pids(self, ns: Namespace) -> Iterable[int]:
        return ns.pids[:PIDS_PER_NAMESPACE]


_Read = TypeVar("_Read")


def per_scan(read: Callable[[Scan], _Read]) -> Callable[[Scan], _Read]:
    """``read(scan)`` done once per scan, its answer kept in ``Scan.memo``: sources share state
    files (Podman and CRI-O the same storage) and each asks for them more than once."""
    key = f"{read.__module__}.{read.__qualname__}"

    def once(scan: Scan) -> _Read:
        if key in scan.memo:
            return cast(_Read, scan.memo[key])
        value = scan.memo[key] = read(scan)
        return value

    once.__doc__ = read.__doc__
    once.__name__ = read.__name__
    return once
