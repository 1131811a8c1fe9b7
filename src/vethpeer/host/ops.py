"""Syscalls and process-wide knobs: setns (in a throwaway thread only), pidfd_getfd, nsfs ioctls,
the capability mask, the garbage collector's pause and the open-file limit.

The main thread never changes namespace. ``sockets_in`` is the one place that does: a dedicated
thread enters each namespace just long enough to create a netlink socket there (a socket stays
bound to the namespace it was created in), then returns to where it started and ends.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import os
import resource
import socket
import struct
import threading
from typing import Any, Callable, Iterator, List, Optional, Sequence, Union

from . import channel

CLONE_NEWNET = 0x40000000
NS_GET_USERNS = 0xB701  # _IO(0xb7, 0x1): the owning user namespace, as a new fd (Linux >= 4.9)
NS_GET_OWNER_UID = 0xB704  # _IO(0xb7, 0x4): a user namespace's owner, into a uid_t (Linux >= 4.11)
NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3), Linux >= 4.11
NS_GET_ID = 0x8008B70D  # _IOR(0xb7, 0xd, __u64), new kernels; same value as SO_NETNS_COOKIE
SIOCGSKNS = 0x894C  # a socket's network namespace as a new fd, Linux >= 4.9
SYS_PIDFD_GETFD = 438  # the same number on every architecture (Linux >= 5.6)

_libc: Any = None


def _load_libc() -> Any:
    global _libc
    if _libc is None:
        import ctypes  # only on Pythons without os.setns; ctypes costs ~2 ms to import

        # CDLL(None) is the running program and the libc it links: no ctypes.util.find_library,
        # which forks ldconfig.
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _raise_errno(what: str) -> None:
    import ctypes

    code = ctypes.get_errno()
    raise OSError(code, f"{what}: {os.strerror(code)}")


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    """Move the calling thread into the namespace behind ``fd``."""
    native: Optional[Callable[[int, int], None]] = getattr(os, "setns", None)  # Python >= 3.12
    if native is not None:
        native(fd, nstype)
        return
    if _load_libc().setns(fd, nstype) != 0:
        _raise_errno("setns")


def pidfd_getfd(pidfd: int, target_fd: int) -> int:
    """A duplicate of another process's fd (needs ptrace-attach rights over it)."""
    result = _load_libc().syscall(SYS_PIDFD_GETFD, pidfd, target_fd, 0)
    if result < 0:
        _raise_errno("pidfd_getfd")
    return int(result)


def socket_netns(sock_fd: int) -> int:
    """A new fd for the network namespace a socket belongs to (SIOCGSKNS)."""
    return fcntl.ioctl(sock_fd, SIOCGSKNS)


def is_net_namespace(fd: int) -> bool:
    """Whether ``fd`` is an nsfs file of a *network* namespace (not a stale file, not a mnt ns)."""
    try:
        return fcntl.ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET
    except OSError as error:
        if error.errno in (errno.ENOTTY, errno.EINVAL):
            return False
        raise


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a scan builds its records, put back as it was after.

    A scan of 1000 namespaces allocates about a hundred thousand tuples that all live until it
    ends; the collector walked them over and over (about 150 young and a dozen older passes,
    30-50 ms of a 0.3 s run) and found nearly nothing: reference counting frees what a scan
    drops. Nesting is fine: an inner pause finds the collector off and leaves it off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def gc_resumed() -> Iterator[None]:
    """The collector on for a long-running part (a watch) of a run that paused it."""
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was_enabled:
            gc.disable()


class FdLimit:
    """RLIMIT_NOFILE raised for the length of a scan, and put back as it was afterwards.

    One netlink socket per namespace is thousands of fds on a big host and the soft limit is often
    1024; the hard limit is ours to take while we scan, but a library must leave its caller's
    process as it found it, so ``restore()`` undoes the raise.
    """

    def __init__(self) -> None:
        self.previous = resource.getrlimit(resource.RLIMIT_NOFILE)
        soft, hard = self.previous
        self.raised = False
        if hard == resource.RLIM_INFINITY or hard > soft:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
                self.raised = True
            except (OSError, ValueError):
                pass
        #: The soft limit now in force.
        self.soft = soft

    def restore(self) -> None:
        if self.raised:
            self.raised = False
            with contextlib.suppress(OSError, ValueError):
                resource.setrlimit(resource.RLIMIT_NOFILE, self.previous)

    def room(self, margin: int) -> int:
        """How many more fds may be opened, keeping ``margin`` free for everything else."""
        return self.soft - open_fd_count() - margin


def open_fd_count() -> int:
    """How many file descriptors this process has open (0 if it cannot tell)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # minus the one listdir itself used
    except OSError:
        return 0


SocketOrError = Union[socket.socket, OSError]


def sockets_in(netns_fds: Sequence[Optional[int]]) -> List[SocketOrError]:
    """One netlink socket in each namespace; ``None`` means the caller's own namespace.

    The hopping happens in a new thread that starts in the process's namespace, enters each
    target in turn, and goes back before it ends. An entry that fails holds the OSError.
    """
    results: List[SocketOrError] = [OSError(errno.EAGAIN, "not attempted")] * len(netns_fds)
    failure: List[BaseException] = []

    def hop() -> None:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        away = False
        try:
            for i, fd in enumerate(netns_fds):
                try:
                    if fd is None:
                        if away:
                            setns(home)
                            away = False
                    else:
                        setns(fd)
                        away = True
                    results[i] = channel.new_socket()
                except OSError as error:
                    results[i] = error
        except BaseException as error:  # noqa: BLE001 - handed to the caller below
            failure.append(error)
        finally:
            try:
                if away:
                    setns(home)
            finally:
                os.close(home)

    thread = threading.Thread(target=hop, name="vethpeer-setns", daemon=True)
    thread.start()
    thread.join()
    if failure:
        for item in results:
            if isinstance(item, socket.socket):
                item.close()
        raise failure[0]
    return results


def close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def userns_owner(fd: int) -> Optional[int]:
    """The uid that owns the user namespace owning the namespace behind ``fd`` (0 for the initial
    one): who could have made it. None where the kernel does not say."""
    try:
        userns = fcntl.ioctl(fd, NS_GET_USERNS)
    except OSError:
        return None
    try:
        buffer = bytearray(4)
        fcntl.ioctl(userns, NS_GET_OWNER_UID, buffer, True)
        return int(struct.unpack("=I", buffer)[0])
    except OSError:
        return None
    finally:
        os.close(userns)


def effective_caps(status_path: str = "/proc/self/status") -> Optional[int]:
    """The CapEff bit mask from a /proc/PID/status file; None when it cannot be read."""
    try:
        with open(status_path, "rb") as handle:
            for line in handle:
                if line.startswith(b"CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return None


def netns_fd_cookie(fd: int) -> Optional[int]:
    """NS_GET_ID on a namespace fd (kernels that have it); None where it is unknown."""
    buffer = bytearray(8)
    try:
        fcntl.ioctl(fd, NS_GET_ID, buffer)
    except OSError:
        return None
    return int(struct.unpack("=Q", buffer)[0])
