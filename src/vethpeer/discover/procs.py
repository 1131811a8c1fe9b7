"""Small, bounded reads of /proc: a comm, a cmdline, a link's inode, an fdinfo line. Never raise."""

from __future__ import annotations

import os
import stat as stat_module
from typing import List, Optional, Sequence

from ..host.early import read_all
from ..host.procfs import COMM_CAP, parse_comm
from .mounts import parse_netns_link


def _is_socket(st: os.stat_result) -> bool:
    return stat_module.S_ISSOCK(st.st_mode)


def _read_small_file(path: str) -> Optional[bytes]:
    """A /proc text file, as bytes (``host.early.read_all``); None if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return read_all(fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def _readlink_text(path: str) -> Optional[str]:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _stat_inode(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _comm(proc: str, pid: int) -> Optional[str]:
    try:
        with open(f"{proc}/{pid}/comm", "rb") as handle:
            return parse_comm(handle.read(COMM_CAP + 1))
    except OSError:
        return None


def _fdinfo_iff(path: str) -> bytes:
    """The device name on the ``iff:`` line of a tun file's fdinfo (empty: none attached)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(4096)
    except OSError:
        return b""
    for line in text.split(b"\n"):
        if line.startswith(b"iff:"):
            return line[4:].strip(b"\t ")
    return b""


def _cmdline(proc: str, pid: int) -> List[str]:
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as handle:
            raw = handle.read(1 << 16)
    except OSError:
        return []
    return [arg.decode("utf-8", "surrogateescape") for arg in raw.split(b"\0")[:-1]]


def qemu_vm_name(argv: Sequence[str]) -> Optional[str]:
    """The guest name qemu was started with: ``-name guest=NAME,debug-threads=on`` (libvirt) or
    ``-name NAME[,...]``; None for anything that is not qemu or has no name. A ``,,`` in qemu's
    option syntax is a literal comma."""
    if not argv or "qemu" not in os.path.basename(argv[0]):
        return None
    for index, arg in enumerate(argv[:-1]):
        if arg in ("-name", "--name"):
            value = argv[index + 1]
            parts = [part.replace("\0", ",") for part in value.replace(",,", "\0").split(",")]
            for part in parts:
                if part.startswith("guest="):
                    return part[6:] or None
            return parts[0] if parts[0] and "=" not in parts[0] else None
    return None


def _readlink_inode(path: str) -> Optional[int]:
    try:
        return parse_netns_link(os.readlink(path))
    except OSError:
        return None


def _is_kthreadd(proc: str) -> bool:
    """Whether pid 2 is the kernel's kthreadd, which lives in the initial namespaces."""
    try:
        with open(f"{proc}/2/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    close = stat.rfind(b")")
    fields = stat[close + 2 :].split()
    return stat[stat.find(b"(") + 1 : close] == b"kthreadd" and len(fields) > 1 and fields[1] == b"0"
