"""The few syscalls discovery needs beyond plain file reading: kcmp, thread pidfds, TUNGETDEVNETNS.

Only what ``discover`` uses to find holders; nothing here changes kernel state. (pidfd_getfd on a
*socket* would: the kernel re-tags it with the caller's net_cls/net_prio cgroup, see ``discover``.)
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
from typing import Callable, NamedTuple, Optional

#: The initial network namespace's inode on kernels that give init namespaces fixed inodes
#: (PROC_NET_INIT_INO, 0xEFFFFFF9). Dynamically allocated nsfs inodes start at 0xF0000000, so no
#: other namespace can have this number on any kernel.
PROC_NET_INIT_INO = 0xEFFFFFF9

#: /dev/net/tun is character device 10:200 (misc, TUN_MINOR) whatever its path reads back as.
TUN_MAJOR, TUN_MINOR = 10, 200

#: _IO('T', 227): a new fd for the network namespace a tun/tap file belongs to (Linux >= 5.2).
#: Needs CAP_NET_ADMIN over that namespace, and a device attached to the file (TUNSETIFF).
TUNGETDEVNETNS = 0x54E3

#: pidfd_open flag for a pidfd of one thread rather than of the thread group (Linux >= 6.9).
PIDFD_THREAD = os.O_EXCL

_KCMP_FILES = 2
# kcmp has no generic number: it came late to several architectures.
_SYS_KCMP = {"x86_64": 312, "aarch64": 272, "riscv64": 272, "i686": 349, "i386": 349, "armv7l": 378,
             "ppc64le": 354, "ppc64": 354, "s390x": 343, "loongarch64": 272, "mips64": 5306}


def is_tun(st: os.stat_result) -> bool:
    return (st.st_mode & 0o170000) == 0o020000 and os.major(st.st_rdev) == TUN_MAJOR \
        and os.minor(st.st_rdev) == TUN_MINOR


_kcmp: Optional[Callable[[int, int, int, int, int], int]] = None


def shares_files(tid_a: int, tid_b: int) -> Optional[bool]:
    """Whether two tasks share one fd table (kcmp KCMP_FILES); None when the kernel cannot tell
    (no kcmp on this kernel or architecture, or no ptrace access to one of them). About 2 us."""
    global _kcmp
    if _kcmp is None:
        number = _SYS_KCMP.get(os.uname().machine)  # (platform costs 2 ms to import)
        if number is None:
            return None
        from . import ops  # (here: a snapshot loads TunFile from this module without the syscalls)

        _kcmp = functools.partial(ops._load_libc().syscall, number)
    result = _kcmp(tid_a, tid_b, _KCMP_FILES, 0, 0)
    if result < 0:
        return None
    return result == 0


def pidfd_of_task(tid: int) -> int:
    """A pidfd whose pidfd_getfd reads ``tid``'s own fd table (a thread with a private one too).

    Without PIDFD_THREAD (kernels before 6.9) only a thread-group leader has a pidfd, and it reads
    the leader's table.
    """
    try:
        return os.pidfd_open(tid, PIDFD_THREAD)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
    return os.pidfd_open(tid)


def tun_netns(tun_fd: int) -> int:
    """A new fd for the namespace a tun/tap file holds (TUNGETDEVNETNS)."""
    return fcntl.ioctl(tun_fd, TUNGETDEVNETNS)


class TunFile(NamedTuple):
    """An open tun/tap file attached to a device: who holds it, and which device it is.

    ``netns`` is the device's namespace (TUNGETDEVNETNS: dev_net of the device, where it is now);
    ``ifname`` the ``iff:`` line of the file's fdinfo (the device's name there). Name and
    namespace together name one device; the name alone could be any namespace's.
    """

    pid: int
    fd: int
    netns: int
    ifname: bytes
    comm: Optional[str]
    #: The VM's name when the holder is qemu (``-name guest=NAME,...`` or ``-name NAME``).
    vm: Optional[str]
    #: The namespace the holding process is in (None if not known).
    holder_netns: Optional[int]
