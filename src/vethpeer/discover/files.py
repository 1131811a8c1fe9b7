"""Holder source: open tun/tap files (TUNGETDEVNETNS) and, opt-in, other processes' sockets."""

from __future__ import annotations

import errno
import os
from typing import Callable, Dict, List, Optional, Tuple

from ..host import kernel, ops
from ..host.kernel import TunFile
from ..model import Holder
from .collector import Collector, _TaskFiles
from .handle import _DENIED
from .procs import _cmdline, _comm, _fdinfo_iff, _is_socket, qemu_vm_name


def pids_are_ours(c: Collector) -> bool:
    """Whether tun files and sockets may be looked into: pidfd_open takes pids of our pid
    namespace, and through another one's /proc it would reach unrelated processes (said once)."""
    if c.pids_are_ours:
        return True
    warning = f"tun/tap files and sockets not looked into: {c.proc} is another pid namespace's"
    if warning not in c.warnings:
        c.warnings.append(warning)
    return False


def read_tuns(c: Collector) -> None:
    """The namespaces of each open tun/tap file: the one it holds, and its device's.

    A tun file holds the namespace it was opened in (its socket's: SIOCGSKNS names it,
    attached to a device or not), so a namespace can be held by nothing but a tun fd in some
    process: qemu's tap, a VPN daemon between open and TUNSETIFF, a tap whose device was
    deleted. TUNGETDEVNETNS names where the file's *device* is now, which differs once the
    device moved, and fails without one: it only places the device (``tun_devices``).
    pidfd_getfd of a tun file (not a socket) changes nothing: receive_fd() re-tags only files
    whose f_op is socket_file_ops (__receive_sock via sock_from_file). The fd number is
    checked again on the copy: if it was reused in between, the copy is closed unused.

    The device's name is read from the copy's own fdinfo (``iff:``), so name and namespace
    come from one and the same file even if the holder reuses the fd number meanwhile. Costs
    one small read per tun file, and only tun files get here.
    """
    denied = 0
    device: List[Tuple[bytes, Optional[int]]] = []

    def held_and_device(copy: int) -> int:
        held = ops.socket_netns(copy)  # SIOCGSKNS: the namespace the file was opened in
        name = _fdinfo_iff(f"{c.proc}/self/fdinfo/{copy}")
        where: Optional[int] = None
        if name:
            try:
                devfd = kernel.tun_netns(copy)
            except OSError:
                devfd = -1
            if devfd >= 0:
                try:
                    where = os.fstat(devfd).st_ino
                finally:
                    os.close(devfd)
        device.append((name, where))
        return held

    commands: Dict[int, Tuple[Optional[str], Optional[str]]] = {}
    for table, fd in c.tun_files:
        del device[:]
        nsfd = _fd_netns(c, table, fd, kernel.is_tun, held_and_device)
        if nsfd == -errno.EPERM:
            denied += 1
        if nsfd < 0:
            continue
        _add_fd_only(c, nsfd, table, Holder(table.holder, fd), "tuns")
        name, inode = device[0] if device else (b"", None)
        if inode is not None and name:
            named = commands.get(table.process)
            if named is None:
                named = commands[table.process] = (_comm(c.proc, table.process),
                                                   qemu_vm_name(_cmdline(c.proc, table.process)))
            c.tun_devices.append(TunFile(table.holder, fd, inode, name, named[0], named[1],
                                            c.process_netns.get(table.process)))
    if denied:
        c.warnings.append(f"could not inspect {denied} tun/tap file{'s' if denied != 1 else ''}: "
                             "no ptrace access to the process holding it, or no CAP_NET_ADMIN")


def _fd_netns(c: Collector, table: _TaskFiles, fd: int, check: Callable[[os.stat_result], bool],
              to_netns: Callable[[int], int]) -> int:
    """A namespace fd from another task's ``fd``, or a negative errno."""
    try:
        pidfd = kernel.pidfd_of_task(table.holder)
    except OSError as error:
        return -(error.errno or errno.ESRCH)
    try:
        try:
            copy = ops.pidfd_getfd(pidfd, fd)
        except OSError as error:
            return -errno.EPERM if error.errno in _DENIED else -(error.errno or errno.EBADF)
    finally:
        os.close(pidfd)
    try:
        if not check(os.fstat(copy)):
            return -errno.EBADF
        return to_netns(copy)
    except OSError as error:
        return -errno.EPERM if error.errno in _DENIED else -(error.errno or errno.EINVAL)
    finally:
        os.close(copy)


def _add_fd_only(c: Collector, nsfd: int, table: _TaskFiles, holder: Holder, field: str) -> Optional[int]:
    """Record a socket/tun holder of the namespace behind ``nsfd`` (consumed); its inode."""
    try:
        st = os.fstat(nsfd)
    except OSError:
        os.close(nsfd)
        return None
    if c.process_netns.get(table.process) == st.st_ino:
        os.close(nsfd)  # in its holder's own namespace: nothing new
        return st.st_ino
    refs = c.at(st.st_ino)
    refs.add(field, holder)
    if refs.fd is None and not refs.durable():
        c.keep(st.st_ino, refs, nsfd, st.st_dev)
    else:
        os.close(nsfd)
    return st.st_ino


def read_sockets(c: Collector) -> None:
    """Which namespace each socket is in: pidfd_getfd + SIOCGSKNS (Linux >= 5.6).

    Opt-in: pidfd_getfd of a socket re-tags it with the caller's cgroup-v1 net_cls classid
    and net_prio index (__receive_sock), which changes how the owner's traffic is classified.
    Only sockets outside their holder's own namespace are recorded, each socket file once.
    """
    denied = 0
    unsupported = False
    for holders in c.socket_files.values():
        table, fd = holders[0]
        nsfd = _fd_netns(c, table, fd, _is_socket, ops.socket_netns)
        if nsfd == -errno.ENOSYS:
            unsupported = True
            break
        if nsfd == -errno.EPERM:
            denied += 1
        if nsfd < 0:
            continue
        for other_table, other_fd in holders:
            dup = os.dup(nsfd)
            _add_fd_only(c, dup, other_table, Holder(other_table.holder, other_fd), "sockets")
        os.close(nsfd)
    if unsupported:
        c.warnings.append("socket-held namespaces not searched: pidfd_getfd needs Linux >= 5.6")
    if denied:
        c.warnings.append(f"could not inspect {denied} socket{'s' if denied != 1 else ''}: no ptrace "
                             "access to the process holding it")
