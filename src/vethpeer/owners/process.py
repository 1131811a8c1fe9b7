"""The fallback owner: the process in the namespace, ``pid 81234 (nginx)``; and holder names."""

from __future__ import annotations

from typing import Dict, Iterable, Optional

from ..host.procfs import COMM_CAP, Host, parse_comm
from .base import Owner, Scan


def comm_of(pid: int, host: Host) -> Optional[str]:
    """The process's command name (at most 15 bytes, not escaped), or None if it is gone."""
    return parse_comm(host.read_pid(pid, "comm", COMM_CAP))


def describe(pid: int, comm: Optional[str]) -> str:
    return f"pid {pid} ({comm})" if comm is not None else f"pid {pid}"


def process_owner(pid: int, host: Host, how: str = "process in the namespace") -> Owner:
    comm = comm_of(pid, host)
    return Owner("process", describe(pid, comm), str(pid), (("comm", comm),) if comm is not None else (), how)


def holder_names(pids: Iterable[int], host: Host) -> Dict[int, str]:
    """Each holder pid as ``pid 3828 (dockerd)``, read once per pid."""
    names: Dict[int, str] = {}
    for pid in pids:
        if pid not in names:
            names[pid] = describe(pid, comm_of(pid, host))
    return names


def fallback(scan: Scan) -> None:
    """Name every namespace nothing else named by its first process. Not by a holder: dockerd,
    a monitoring agent or vethpeer's own tests hold sockets or fds in namespaces they do not own;
    holders are shown by ``holder_names`` instead."""
    for ns in scan.unowned():
        if ns.pids:
            pid = ns.pids[0]
            scan.add(ns.inode, scan.per_pid("process", pid, lambda p: process_owner(p, scan.host)))
