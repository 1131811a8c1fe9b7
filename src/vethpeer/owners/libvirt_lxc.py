"""libvirt's LXC driver: the domain name from its status file, cgroup or controller.

- ``/run/libvirt/lxc/<name>.xml``: the live status, ``<domstatus ... pid='<controller>'>``,
  ``<init pid='<container init>'/>`` (the init pid ties it to the namespace), ``<name>``,
  ``<uuid>``; ``<name>.pid`` holds the controller's pid.
- cgroups: ``machine.slice/machine-lxc\\x2d<pid>\\x2d<name>.scope`` (systemd) or
  ``/machine/<name>.libvirt-lxc`` (cgroupfs).
- the ``libvirt_lxc --name <name> ...`` controller is the container init's parent.
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Sequence, Tuple

from ..host.procfs import pattern
from .base import Owner, Scan, per_scan, systemd_unescape

#: Its rows of ``owners.SOURCES``: the owner kinds it names and the prefix a label shows each
#: with (``model.owner_label``); the ``--netns WORD:NAME`` words and the owner kinds each selects;
#: directories whose entries coming and going mean a namespace may have come or gone (``watch``).
LABELS: Dict[str, str] = {"libvirt-lxc": "libvirt-lxc: "}
SELECTORS: Dict[str, Tuple[str, ...]] = {"libvirt-lxc": ("libvirt-lxc",)}
WATCHED: Tuple[str, ...] = ("/run/libvirt/lxc",)

STATE = "/run/libvirt/lxc"
_INIT = pattern(r"<init\s+pid=['\"](\d+)['\"]")
_NAME = pattern(r"<name>([^<]{1,1024})</name>")
_UUID = pattern(r"<uuid>([0-9a-fA-F-]{32,36})</uuid>")
_SCOPE = pattern(r"(?:^|/)machine-lxc-\d+-(.+?)\.scope(?:/|$)")
_CGROUPFS = pattern(r"(?:^|/)machine/([^/]+)\.libvirt-lxc(?:/|$)")


@per_scan
def read_domains(scan: Scan) -> Dict[str, Tuple[Optional[str], Optional[int]]]:
    """name -> (uuid, init pid) for every running domain."""
    found: Dict[str, Tuple[Optional[str], Optional[int]]] = {}
    for entry in scan.host.listdir(STATE):
        if not entry.endswith(".xml"):
            continue
        text = scan.host.read_text(f"{STATE}/{entry}", 4 * 1024 * 1024)
        if text is None:
            continue
        name = _NAME.search(text)
        uuid = _UUID.search(text)
        init = _INIT.search(text)
        import html  # only when a libvirt LXC domain exists: 1.3 ms of every start otherwise

        found[html.unescape(name.group(1)) if name else entry[: -len(".xml")]] = (
            uuid.group(1).lower() if uuid else None,
            int(init.group(1)) if init and len(init.group(1)) < 9 else None,
        )
    return found


def domain_owner(name: str, scan: Scan, how: str) -> Owner:
    uuid = read_domains(scan).get(name, (None, None))[0]
    return Owner("libvirt-lxc", name, uuid, (), how)


def from_state(scan: Scan) -> None:
    for name, (_uuid, init) in read_domains(scan).items():
        # Its cgroup: machine-lxc\x2d<controller pid>\x2d<name>.scope, or <name>.libvirt-lxc.
        inode = scan.inode_of_pid(init, name)
        if inode is not None:
            scan.add(inode, domain_owner(name, scan, f"{STATE}/{name}.xml init pid {init}"))


def from_cgroup(path: str, scan: Scan) -> Optional[Owner]:
    match = _SCOPE.search(systemd_unescape(path)) or _CGROUPFS.search(path)
    return domain_owner(match.group(1), scan, f"cgroup {path}") if match else None


def name_from_cmdline(argv: Sequence[str]) -> Optional[str]:
    if not argv or os.path.basename(argv[0]) != "libvirt_lxc":
        return None
    for i, arg in enumerate(argv):
        if arg in ("--name", "-n") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--name="):
            return arg[len("--name=") :]
    return None


def from_process(pid: int, scan: Scan) -> Optional[Owner]:
    """The ``libvirt_lxc`` controller: the parent of its container's init."""
    name = name_from_cmdline(scan.cmdline(pid))
    return domain_owner(name, scan, f"libvirt_lxc controller pid {pid}") if name else None
