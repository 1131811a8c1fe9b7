"""What ``--netns`` names: a /run/netns name, a namespace file, ``pid:PID``, or an owner
(``docker:web-1``, a bare container name), for the command line, ``watch`` and its filter.

A name or path is pinned to the namespace file it names (its identity, checked to be an nsfs
inode) before the host is read; an owner is looked up in the scan's result.
"""

from __future__ import annotations

import errno
import os
import re
from typing import Any, Callable, List, Optional, Tuple

from . import query
from .errors import NetnsUnreadable, UsageError
from .model import NamespaceId, Topology

# str.isdigit() is true for '²' and other digits int() refuses: a pid is ASCII digits only.
_PID = re.compile(r"[0-9]{1,10}\Z")


def denied(error: OSError) -> bool:
    return error.errno in (errno.EACCES, errno.EPERM)


class OwnerSpec(Exception):
    """``--netns`` names an owner (docker:web-1, or a bare container name): it is looked up in the
    scan's result, not as a file."""


def resolve_netns_spec(spec: str, root: str = "/", proc: str = "/proc") -> str:
    """The namespace file that ``--netns`` names; UsageError when it names none, OwnerSpec when it
    names an owner rather than a file."""
    if not spec:
        raise UsageError("--netns needs a value")
    if query.is_selector(spec):
        raise OwnerSpec(spec)
    if spec.startswith("pid:"):
        pid = spec[4:]
        if not _PID.match(pid):
            raise UsageError(f"--netns {spec}: expected pid:NUMBER")
        path = f"{proc}/{pid}/ns/net"
        if not os.path.lexists(path):
            raise UsageError(f"--netns {spec}: no process {pid}")
        return path
    if "/" in spec:
        path = spec
    else:
        from .discover.mounts import netns_dirs

        for directory in netns_dirs(root):
            candidate = os.path.join(directory, spec)
            if os.path.lexists(candidate):
                path = candidate
                break
        else:
            # Not an `ip netns` name: perhaps a container's name or id (web-1, 237c0d292145).
            raise OwnerSpec(spec)
    if not os.path.lexists(path):
        raise UsageError(f"--netns {spec}: no such file")
    return path


def select_owner(topology: Topology, spec: str) -> NamespaceId:
    try:
        return query.select(topology, spec, any_kind=not query.is_selector(spec))
    except query.SelectorError as error:
        if error.candidates:
            raise UsageError(f"--netns {error}: " + "; ".join(error.candidates)) from None
        if not query.is_selector(spec):
            raise UsageError(f"--netns {spec}: no network namespace has that name or owner (try a path, "
                             "pid:PID, docker:NAME, pod:NAMESPACE/NAME, or 'vethpeer namespaces')") from None
        raise UsageError(f"--netns {error}") from None


def netns_identity(path: str, spec: str) -> NamespaceId:
    """(st_dev, st_ino) of the namespace file, checked to be one; errors say why it is not."""
    try:
        st = os.stat(path)
    except OSError as error:
        if denied(error):
            hint = " (needs CAP_SYS_PTRACE to look at another user's process)" if path.startswith("/proc/") else ""
            raise NetnsUnreadable(f"--netns {spec}: the namespace could not be read: "
                                  f"{error.strerror}{hint}") from None
        raise UsageError(f"--netns {spec}: {error.strerror}") from None
    try:
        nsfs_dev = os.stat("/proc/self/ns/net").st_dev
    except OSError:
        nsfs_dev = st.st_dev
    if st.st_dev != nsfs_dev:
        raise UsageError(f"--netns {spec}: not a network namespace")
    return NamespaceId(st.st_dev, st.st_ino)


def is_proc_path(path: str) -> bool:
    """/proc/PID/ns/net, /proc/PID/fd/N, /proc/self/...: a way to reach a namespace, not a name
    for it. Discovery finds those namespaces through the process; passing the path along would
    record it as a bind mount and relabel the namespace."""
    return os.path.abspath(path).startswith("/proc/")


def owner_named(topology: Topology, spec: str) -> bool:
    """In a loaded snapshot, whether a bare ``--netns`` word is no namespace name but an owner's."""
    return "/" not in spec and not spec.startswith("pid:") and not any(spec in ns.names for ns in topology.namespaces)


def netns_from_snapshot(topology: Topology, spec: str) -> NamespaceId:
    pid: Optional[int] = None
    if spec.startswith("pid:") and _PID.match(spec[4:]):
        pid = int(spec[4:])
    else:
        parts = spec.split("/")
        if len(parts) == 5 and parts[:2] == ["", "proc"] and parts[3:] == ["ns", "net"] and _PID.match(parts[2]):
            pid = int(parts[2])
    for ns in topology.namespaces:
        if spec in ns.names or spec in ns.paths or (pid is not None and pid in ns.pids):
            return ns.id
    raise UsageError(f"--netns {spec}: no such namespace in the snapshot")


def netns_live(topology: Topology, wanted: NamespaceId, spec: str) -> NamespaceId:
    for ns in topology.namespaces:
        if ns.id == wanted:
            return ns.id
    raise UsageError(f"--netns {spec}: not a network namespace (or it went away during the scan)")


def netns_choice(spec: Optional[str], root: str, proc: str) -> Tuple[Optional[NamespaceId], bool, List[str]]:
    """What ``--netns SPEC`` names: the namespace's identity (None for an owner selector, looked
    up once the host is read, or no ``--netns``), whether it is an owner selector, and the path to
    read besides what discovery finds (not for ``pid:N`` or a /proc path: a process is found anyway)."""
    if spec is None:
        return None, False, []
    try:
        netns_path = resolve_netns_spec(spec, root, proc)
    except OwnerSpec:
        return None, True, []
    extra = [] if spec.startswith("pid:") or is_proc_path(netns_path) else [netns_path]
    return netns_identity(netns_path, spec), False, extra


class NetnsFilter:
    """``watch --netns``: which events (and table rows) touch the chosen namespace.

    A path or name is pinned to the namespace it named when the watch began (by its watch
    identity, so a reused inode is not it); an owner (docker:web-1) is looked up again in every
    scan, so the watch follows a container that is recreated.
    """

    def __init__(self, spec: Optional[str], wanted: Optional[NamespaceId], by_owner: bool,
                 note: Callable[[str], None] = lambda _text: None) -> None:
        self.spec = spec
        #: Told what a selector means once the watch has synced (an owner not there yet).
        self.note = note
        self.wanted = wanted
        self.by_owner = by_owner
        self._key: Optional[Tuple[int, ...]] = None
        self._cache: Tuple[Optional[Topology], Optional[NamespaceId]] = (None, None)

    def chosen(self, topology: Topology) -> Optional[NamespaceId]:
        """The chosen namespace's id in this scan, None when it is not in it."""
        from .events import ns_key

        if self.spec is None:
            return None
        if self._cache[0] is topology:
            return self._cache[1]
        found: Optional[NamespaceId] = None
        if self.by_owner:
            try:
                found = query.select(topology, self.spec, any_kind=not query.is_selector(self.spec))
            except query.SelectorError:
                found = None
        else:
            if self._key is None:
                assert self.wanted is not None
                self._key = ns_key(topology.namespace(netns_live(topology, self.wanted, self.spec)))
            found = next((ns.id for ns in topology.namespaces if ns_key(ns) == self._key), None)
        self._cache = (topology, found)
        return found

    def check(self, topology: Topology) -> Optional[str]:
        """What the selector means once the watch has synced, the same for ``watch`` and
        ``--live``: a name or path is pinned to what it names now, and an ambiguous owner is a
        usage error (both exit 2); an owner that is not there yet is a note (it is watched for)."""
        if self.spec is None:
            return None
        if not self.by_owner:
            self.chosen(topology)  # raises UsageError when it names nothing
            return None
        if self.chosen(topology) is not None:
            return None
        try:
            select_owner(topology, str(self.spec))
        except UsageError as error:
            if "ambiguous" in str(error):
                raise
            return f"{error}; watching for it"
        return None

    def shows(self, event: Any) -> bool:
        if self.spec is None or event.topology is None:
            return True
        if event.kind == "synced":
            note = self.check(event.topology)
            if note is not None:
                # A pod or container that is not there yet: watch for it to appear.
                self.note(note)
            return True
        if event.kind == "warning" and event.netns is None:
            return True  # about the whole watch
        chosen = self.chosen(event.topology)
        if chosen is None:
            return False
        return any(ns.id == chosen for ns in event.namespaces())
