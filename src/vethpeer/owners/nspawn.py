"""systemd-nspawn machines: the name from machined's state, the machine's cgroup, or the
``systemd-nspawn ... -M <name>`` supervisor.

- ``/run/systemd/machines/<name>``: machined's env-style state file (``NAME=``, ``LEADER=`` the
  machine's init pid, ``CLASS=``, ``SERVICE=``, ``ROOT=``, ``ID=``, ``NETIF=`` host ifindexes);
  it exists only for machines registered with machined.
- cgroup (registered): ``/machine.slice/machine-<name, systemd-escaped: - is \\x2d>.scope[/payload]``.
- unregistered (``--register=no``): the supervisor holds an fd to the namespace and is the
  machine init's parent; its command line names the machine (``-M``/``--machine``), else its
  directory or image (``-D``/``--directory``, ``-i``/``--image``), as nspawn itself derives it.
"""

from __future__ import annotations

import os
import re
from typing import Dict, Optional, Sequence, Tuple

from ..host.procfs import pattern, read_int
from .base import Owner, Scan, pairs, per_scan, systemd_unescape

#: Its rows of ``owners.SOURCES``: the owner kinds it names and the prefix a label shows each
#: with (``model.owner_label``); the ``--netns WORD:NAME`` words and the owner kinds each selects;
#: directories whose entries coming and going mean a namespace may have come or gone (``watch``).
LABELS: Dict[str, str] = {"machine": "machine: "}
SELECTORS: Dict[str, Tuple[str, ...]] = {"machine": ("machine",)}
WATCHED: Tuple[str, ...] = ("/run/systemd/machines",)

MACHINES = "/run/systemd/machines"
_SCOPE = pattern(r"(?:^|/)machine\.slice/machine-([^/]+)\.scope(?:/|$)")
_OTHER_DRIVERS = pattern(r"(?:lxc|qemu)-\d+-")  # libvirt's machines (libvirt_lxc reads those)


def _unquote(value: str) -> str:
    # machined writes most values bare (SCOPE=machine-my\x2dbox.scope keeps its backslash) and
    # quotes only those that need it (ROOT=, with shell-style escapes inside the quotes).
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


@per_scan
def read_machines(scan: Scan) -> Dict[str, Dict[str, str]]:
    found: Dict[str, Dict[str, str]] = {}
    for entry in scan.host.listdir(MACHINES):
        if entry.startswith(("unit:", ".")):  # unit: symlinks to the same files; .# temporaries
            continue
        text = scan.host.read_text(f"{MACHINES}/{entry}")
        if text is None:
            continue
        fields: Dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.isupper():
                fields[key] = _unquote(value.strip())
        found[fields.get("NAME") or entry] = fields
    return found


def machine_owner(name: str, fields: Optional[Dict[str, str]], how: str) -> Owner:
    fields = fields or {}
    return Owner(
        "machine",
        name,
        fields.get("ID") or None,
        pairs(
            ("class", fields.get("CLASS")),
            ("service", fields.get("SERVICE")),
            ("root", fields.get("ROOT")),
            ("netif", fields.get("NETIF")),
        ),
        how,
    )


def from_state(scan: Scan) -> None:
    for name, fields in read_machines(scan).items():
        if fields.get("CLASS") == "vm" or fields.get("SERVICE") == "libvirt-lxc" or _OTHER_DRIVERS.match(name):
            continue
        leader = read_int(fields.get("LEADER", "").encode())
        # The leader's cgroup is in the machine's unit (SCOPE=): a stale file after a machined
        # crash must not name whatever process has that pid now.
        inode = scan.inode_of_pid(leader, fields.get("SCOPE") or name)
        if inode is not None:
            weight = 1 if inode == scan.root_inode else 0  # no private network: it shares the host's
            scan.add(inode, machine_owner(name, fields, f"{MACHINES}/{name} LEADER={leader}"), weight)


def from_cgroup(path: str, scan: Scan) -> Optional[Owner]:
    match = _SCOPE.search(path)
    if match is None:
        return None
    name = systemd_unescape(match.group(1))
    if _OTHER_DRIVERS.match(name) or name.startswith("libpod"):
        return None
    return machine_owner(name, read_machines(scan).get(name), f"cgroup {path}")


def name_from_cmdline(argv: Sequence[str]) -> Optional[str]:
    """The machine name a systemd-nspawn command line gives, or None if it is not one."""
    if not argv or os.path.basename(argv[0]) != "systemd-nspawn":
        return None
    machine = directory = image = None
    args = list(argv[1:])
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        value: Optional[str] = None
        for short, long in (("-M", "--machine"), ("-D", "--directory"), ("-i", "--image")):
            if arg in (short, long):
                value = args[i + 1] if i + 1 < len(args) else None
                i += 1
            elif arg.startswith(long + "="):
                value = arg[len(long) + 1 :]
            elif arg.startswith(short) and not arg.startswith("--"):
                value = arg[len(short) :]
            else:
                continue
            if short == "-M":
                machine = machine or value
            elif short == "-D":
                directory = directory or value
            else:
                image = image or value
            break
        i += 1
    if machine:
        return machine
    for path, suffix in ((directory, ""), (image, ".raw")):
        if path:
            base = os.path.basename(path.rstrip("/"))
            if suffix and base.endswith(suffix):
                base = base[: -len(suffix)]
            if base:
                return base
    return None


def from_process(pid: int, scan: Scan) -> Optional[Owner]:
    """A ``systemd-nspawn`` supervisor: it holds its machine's namespace and parents its init."""
    name = name_from_cmdline(scan.cmdline(pid))
    if not name:
        return None
    return machine_owner(name, read_machines(scan).get(name), f"systemd-nspawn pid {pid} command line")
