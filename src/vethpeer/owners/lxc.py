"""LXC and LXD: the container's name from its cgroup or from its monitor process.

An LXC container's namespace has no path: it is held by the container's init and by an fd of
the ``[lxc monitor] <lxcpath> <name>`` process. cgroups: ``/lxc.payload.<name>`` for the
container (LXC 4+; ``/lxc/<name>`` before), ``/lxc.monitor.<name>`` for the monitor. LXD runs
LXC with its own lxcpath (``/var/snap/lxd/common/lxd/containers``, ``/var/lib/lxd/containers``;
Incus ``/var/lib/incus/containers``) and names a container of a project other than "default"
``<project>_<name>``: its owner is named ``PROJECT/NAME`` (``lxd: blog/db``), selectable as
``lxd:blog/db`` (or ``lxd:blog_db``, LXC's own name for it).
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from ..host.procfs import pattern
from .base import Owner, Scan, pairs, per_scan

#: Its rows of ``owners.SOURCES``: the owner kinds it names and the prefix a label shows each
#: with (``model.owner_label``); the ``--netns WORD:NAME`` words and the owner kinds each selects;
#: directories whose entries coming and going mean a namespace may have come or gone (``watch``).
LABELS: Dict[str, str] = {"lxc": "lxc: ", "lxd": "lxd: "}
SELECTORS: Dict[str, Tuple[str, ...]] = {"lxc": ("lxc", "lxd"), "lxd": ("lxd",)}
WATCHED: Tuple[str, ...] = ()

LXC_PATH = "/var/lib/lxc"
LXD_PATHS = ("/var/snap/lxd/common/lxd/containers", "/var/lib/lxd/containers", "/var/lib/incus/containers")
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
def _lxd_dirs(scan: Scan) -> List[Tuple[str, Tuple[str, ...]]]:
    return [(path, tuple(scan.host.listdir(path))) for path in LXD_PATHS]


def name_owner(name: str, scan: Scan, how: str, lxcpath: Optional[str] = None) -> Optional[Owner]:
    """The owner for an LXC name as the cgroup or monitor spells it."""
    if not name or name in (".", ".."):
        return None
    lxd = lxcpath is not None and lxcpath.rstrip("/") in LXD_PATHS
    if lxcpath is None or not lxd:
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
        lxd_path = next((path for path, entries in _lxd_dirs(scan) if name in entries), None) if own else None
        if lxd_path is None:
            return Owner("lxc", name, None, pairs(("lxcpath", lxcpath)), how)
        lxcpath, lxd = lxd_path, True
    project, _, instance = name.rpartition("_") if "_" in name else ("default", "", name)
    # Same-named instances of two projects must not share a label: outside the default project
    # the name is PROJECT/NAME, as `lxc list --all-projects` shows them apart.
    shown = instance if project == "default" else f"{project}/{instance}"
    return Owner("lxd", shown, None, pairs(("project", project), ("instance", instance), ("lxcpath", lxcpath)), how)


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
