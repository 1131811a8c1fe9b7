"""Owners: whose network namespace is this (a container, a pod, a machine, a router)?

Only local state is read: files under /proc, /run, /var/lib, /var/log and /etc, through a ``Host``
(so ``--root /host`` works from a debug container). No program is run, no runtime API is asked,
nothing enters a container. One module per source; each is tolerant of missing, partial,
unreadable or malformed files: a broken file just gives no owner.

``identify`` runs the sources in passes, cheapest evidence first:

1. state: each runtime's state directory is read once, indexed by id, and tied to namespaces
   by netns path (bind mounts, ``/proc/PID/ns/net``) or by a pid it records;
2. cgroups: for namespaces still unnamed, the cgroup paths of a few of their processes;
3. processes: for those still unnamed, their supervisors (LXC monitor, systemd-nspawn,
   libvirt_lxc), judged once per process however many namespaces it holds;
4. members: for those still unnamed, a process inside that says whose it is (Mininet's host
   shell, ``bash ... -is mininet:h1``);
5. fallback: the first process inside, ``pid 81234 (nginx)``. A process that only holds the
   namespace (an fd, a socket: dockerd, a monitoring agent) is not its owner; ``holder_names``
   names holders for display.

A pid a runtime recorded (State.Pid, init.pid, a pidfile, machined's LEADER) counts only while
that process's cgroup still names the container, so a stale or torn pid file names nothing.
Measured with bench/bench_owners.py (1000 namespaces, one fake container each): 27 ms for
Docker, 33 ms for a mix of Docker, two-task pods, Podman and LXC.
"""

from __future__ import annotations

from types import ModuleType
from typing import Callable, Dict, Optional, Sequence, Tuple

from ..host.procfs import Host
from . import docker, kubernetes, libvirt_lxc, lxc, mininet, neutron, nspawn, podman
from .base import KIND_RANK, Namespace, Owner, Scan, labelled
from .neutron import PortName, port_of
from .process import comm_of, fallback, holder_names, process_owner

__all__ = [
    "KIND_RANK",
    "LABEL_PREFIXES",
    "SELECTORS",
    "SOURCES",
    "WATCHED_DIRS",
    "Host",
    "Namespace",
    "Owner",
    "PortName",
    "Scan",
    "comm_of",
    "holder_names",
    "identify",
    "labelled",
    "port_of",
    "process_owner",
    "scan",
]

StateSource = Callable[[Scan], None]
CgroupSource = Callable[[str, Scan], Optional[Owner]]
#: Whether a process is a container's supervisor (LXC monitor, systemd-nspawn, libvirt_lxc): the
#: owner of the namespaces it holds or whose processes it parents.
ProcessSource = Callable[[int, Scan], Optional[Owner]]
#: Whether a process inside a namespace says whose the namespace is (Mininet's host shell).
MemberSource = Callable[[int, Scan], Optional[Owner]]


class Source:
    """One module's entry points (any of them may be None), and what it declares of itself
    (``LABELS``, ``SELECTORS``, ``WATCHED``: see ``owners/docker.py``)."""

    def __init__(
        self,
        name: str,
        module: ModuleType,
        state: Optional[StateSource] = None,
        cgroup: Optional[CgroupSource] = None,
        process: Optional[ProcessSource] = None,
        member: Optional[MemberSource] = None,
    ) -> None:
        self.name = name
        self.state = state
        self.cgroup = cgroup
        self.process = process
        self.member = member
        #: Owner kind -> the prefix of its label (``docker: web-1``).
        self.labels: Dict[str, str] = module.LABELS
        #: ``--netns WORD:NAME`` word -> the owner kinds it selects.
        self.selectors: Dict[str, Tuple[str, ...]] = module.SELECTORS
        #: Directories whose entries coming and going may mean a namespace came or went.
        self.watched: Tuple[str, ...] = module.WATCHED


#: In order of trust: state files before cgroup paths before supervisors before a process's own
#: word. A new runtime is a module here and its row.
SOURCES: Tuple[Source, ...] = (
    Source("docker", docker, docker.from_state, docker.from_cgroup),
    Source("kubernetes", kubernetes, kubernetes.from_state, kubernetes.from_cgroup),
    Source("podman", podman, podman.from_state, podman.from_cgroup),
    Source("lxc", lxc, None, lxc.from_cgroup, lxc.from_process),
    Source("nspawn", nspawn, nspawn.from_state, nspawn.from_cgroup, nspawn.from_process),
    Source("libvirt-lxc", libvirt_lxc, libvirt_lxc.from_state, libvirt_lxc.from_cgroup, libvirt_lxc.from_process),
    Source("neutron", neutron, neutron.from_state),
    Source("mininet", mininet, member=mininet.from_member),
)

#: Every ``--netns WORD:NAME`` word, in the order of the sources -> the owner kinds it selects.
SELECTORS: Dict[str, Tuple[str, ...]] = {word: kinds for source in SOURCES
                                         for word, kinds in source.selectors.items()}
#: Every runtime's directories whose entries coming and going may mean a namespace came or went.
WATCHED_DIRS: Tuple[str, ...] = tuple(directory for source in SOURCES for directory in source.watched)
#: Owner kind -> the prefix of its label, as the sources declare it: ``identify`` and the
#: snapshot loader put it in each owner's ``label``; kinds not listed read as their name alone.
LABEL_PREFIXES: Dict[str, str] = {kind: prefix for source in SOURCES for kind, prefix in source.labels.items()}


def _guarded(scan: Scan, name: str, call: Callable[[Scan], None]) -> None:
    try:
        call(scan)
    # A bug in one source must cost its owners, not the listing of every namespace; the failure
    # is kept on the scan, where the tests look for it.
    except Exception as error:  # noqa: BLE001
        scan.failures.append((name, repr(error)))


def scan(namespaces: Sequence[Namespace], host: Optional[Host] = None) -> Scan:
    """Run every source; the Scan holds the owners (``result()``) and any source failures."""
    run = Scan(namespaces, host or Host(), LABEL_PREFIXES)
    try:
        for source in SOURCES:
            if source.state is not None:
                _guarded(run, source.name, source.state)
        _guarded(run, "cgroup", _cgroup_pass)
        _guarded(run, "process", _process_pass)
        _guarded(run, "member", _member_pass)
        _guarded(run, "fallback", fallback)
    finally:
        if host is None:
            run.host.close()  # the directory fds it kept; the caller's own Host is the caller's
    return run


def identify(namespaces: Sequence[Namespace], host: Optional[Host] = None) -> Dict[int, Tuple[Owner, ...]]:
    """Owners of each namespace by inode, best first. Never raises; a namespace nothing names
    (no process, no known path) is absent."""
    return scan(namespaces, host).result()


def _cgroup_pass(run: Scan) -> None:
    matchers = [(s.name, s.cgroup) for s in SOURCES if s.cgroup is not None]
    for ns in run.unowned():
        for pid in run.some_pids(ns):
            for path in run.cgroups(pid):
                if not run.cgroup_may_name(path, ns.inode):
                    continue  # made by a user who could not have made this namespace
                for _name, matcher in matchers:
                    owner = matcher(path, run)
                    if owner is not None:
                        run.add(ns.inode, owner)
                        break


def _process_pass(run: Scan) -> None:
    judges = [s.process for s in SOURCES if s.process is not None]
    verdicts: Dict[int, Optional[Owner]] = {}
    for ns in run.unowned():
        for pid in run.candidates(ns):
            if pid not in verdicts:
                verdicts[pid] = next((o for o in (judge(pid, run) for judge in judges) if o is not None), None)
            owner = verdicts[pid]
            if owner is not None and _trusted(run, ns, pid, owner):
                run.add(ns.inode, owner)
                break


def _member_pass(run: Scan) -> None:
    judges = [s.member for s in SOURCES if s.member is not None]
    for ns in run.unowned():
        for pid in run.some_pids(ns):
            owner = next((o for o in (judge(pid, run) for judge in judges) if o is not None), None)
            if owner is not None and _trusted(run, ns, pid, owner):
                run.add(ns.inode, owner)
                break


def _trusted(run: Scan, ns: Namespace, pid: int, owner: Owner) -> bool:
    """A title is anyone's to set: a process's word counts by who runs it, root's for any
    namespace, a user's only for one they could have made (refused claims are kept)."""
    uid = run.process_uid(pid)
    if uid is None or not run.may_name(uid, ns.inode):
        run.refused.append((ns.inode, owner, -1 if uid is None else uid))
        return False
    return True
