"""LXC, and the managers built on it: the container's name from its cgroup or its monitor process.

An LXC container's namespace has no path: it is held by the container's init and by an fd of
the ``[lxc monitor] <lxcpath> <name>`` process. cgroups: ``/lxc.payload.<name>`` for the
container (LXC 4+; ``/lxc/<name>`` before), ``/lxc.monitor.<name>`` for the monitor. A manager
(``MANAGERS``: LXD, ...) runs LXC with lxcpaths of its own and names a container of a project
other than "default" ``<project>_<name>``: its owner is named ``PROJECT/NAME`` (``lxd: blog/db``),
selectable as ``lxd:blog/db`` (or ``lxd:blog_db``, LXC's own name for it).
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Dict, List, Optional, Tuple

from ..host.procfs import pattern
from . import incus, lxd
from .base import Owner, Scan, pairs, per_scan

#: The managers that run LXC under lxcpaths of their own, one module each (its ``KIND``,
#: ``LXCPATHS`` and its own ``LABELS``, ``SELECTORS``, ``WATCHED``). A new one is its module and
#: its row here.
MANAGERS: Tuple[ModuleType, ...] = (lxd, incus)

#: Its rows of ``owners.SOURCES``, with its managers': the owner kinds it names and the prefix a
#: label shows each with; the ``--netns WORD:NAME`` words and the owner kinds each selects (``lxc:``
#: selects every container LXC runs); directories whose entries coming and going mean a namespace
#: may have come or gone (``watch``).
LABELS: Dict[str, str] = {"lxc": "lxc: ", **{k: v for m in MANAGERS for k, v in m.LABELS.items()}}
SELECTORS: Dict[str, Tuple[str, ...]] = {"lxc": ("lxc", *(m.KIND for m in MANAGERS)),
                                         **{k: v for m in MANAGERS for k, v in m.SELECTORS.items()}}
WATCHED: Tuple[str, ...] = tuple(directory for m in MANAGERS for directory in m.WATCHED)

LXC_PATH = "/var/lib/lxc"
#: lxcpath -> the owner kind of the manager that runs containers under it.
MANAGED: Dict[str, str] = {path: m.KIND for m in MANAGERS for path in m.LXCPATHS}
_PAYLOAD = pattern(r"(?:^|/)lxc\.payload[./]([^/]+)")
_LEGACY = pattern(r"^/lxc/([^/]+)")
_MONITOR_CGROUP = pattern(r"(?:^|/)lxc\.monitor[./]([^/]+)")
_MONITOR = pattern(r"^\[lxc monitor\] (/\S*) (.+?)\s*$")
_UTSNAME = pattern(r"^\s*lxc\.(?:uts\.name|utsname)\s*=\s*(.*?)\s*$", re.MULTILINE)


def _unquote(value: str) -> str:
    # LXC's templates write `lxc.uts.name = "c1"`; its parser takes the quotes off.
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


@per_scan
def _managed_dirs(scan: Scan) -> List[Tuple[str, Tuple[str, ...]]]:
    return [(path, tuple(scan.host.listdir(path))) for path in MANAGED]


def name_owner(name: str, scan: Scan, how: str, lxcpath: Optional[str] = None) -> Optional[Owner]:
    """The owner for an LXC name as the cgroup or monitor spells it."""
    if not name or name in (".", ".."):
        return None
    kind = MANAGED.get(lxcpath.rstrip("/")) if lxcpath is not None else None
    if kind is None:
        # A monitor's title names its lxcpath, and anyone can give a process any title: only the
        # lxcpath root's LXC itself uses is ever read, never a path a title chose.
        own = lxcpath is None or lxcpath.rstrip("/") == LXC_PATH
        config = scan.host.read_text(f"{LXC_PATH}/{name}/config") if own else None
        if config is not None:
            uts = _UTSNAME.search(config)
            return Owner(
                "lxc", name, None,
                pairs(("lxcpath", lxcpath or LXC_PATH), ("utsname", _unquote(uts.group(1)) if uts else None)),
                how,
            )
        listed = [path for path, entries in _managed_dirs(scan) if name in entries] if own else []
        if len(listed) != 1:
            # Not a manager's, or listed by several (a cgroup does not say whose): LXC's alone.
            return Owner("lxc", name, None, pairs(("lxcpath", lxcpath)), how)
        lxcpath = listed[0]
        kind = MANAGED[lxcpath]
    project, _, instance = name.rpartition("_") if "_" in name else ("default", "", name)
    # Same-named instances of two projects must not share a label: outside the default project
    # the name is PROJECT/NAME, as `lxc list --all-projects` shows them apart.
    shown = instance if project == "default" else f"{project}/{instance}"
    return Owner(kind, shown, None, pairs(("project", project), ("instance", instance), ("lxcpath", lxcpath)), how)


def from_cgroup(path: str, scan: Scan) -> Optional[Owner]:
    match = _PAYLOAD.search(path) or _LEGACY.search(path)
    return name_owner(match.group(1), scan, f"cgroup {path}") if match else None


def _monitor(pid: int, scan: Scan) -> Optional[Owner]:
    match = _MONITOR.match(" ".join(scan.cmdline(pid)))
    if match:
        return name_owner(match.group(2), scan, f"monitor pid {pid}", match.group(1))
    for path in scan.cgroups(pid):
        found = _MONITOR_CGROUP.search(path)
        if found:
            return name_owner(found.group(1), scan, f"monitor pid {pid} cgroup {path}")
    return None


def from_process(pid: int, scan: Scan) -> Optional[Owner]:
    """An ``[lxc monitor]``: it holds its container's namespace and is the container init's parent."""
    # _monitor also knows one by its cgroup, lxc.monitor.<name>, when its title was not rewritten.
    return _monitor(pid, scan)
