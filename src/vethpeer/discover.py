"""Finding every network namespace on the host and every reference that holds it.

Sources, cheapest first: /run/netns names, nsfs bind mounts in mountinfo, processes and their
threads, open fds, and sockets. References are collected by inode from readlink/stat (all network
namespaces live on the one nsfs superblock), then each namespace is opened once through the first
reference that still works and identified by fstat. Everything below ``proc`` is injectable so the
collection logic can be tested on a fake /proc tree. No netlink here: see ``reader``.
"""

from __future__ import annotations

import contextlib
import errno
import os
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

from . import ops
from .model import Holder

DEFAULT_NETNS_DIRS = ("/run/netns", "/var/run/netns")



def reopen(found: FoundNamespace) -> int:
    """A new fd for a namespace found earlier, through the references it was found by.

    Each candidate is checked to still be that namespace (same inode, a network namespace), since
    a pid can be reused and a mount point can show something else by now. Raises OSError: ENOENT
    when every reference has gone, EACCES when one exists but may not be opened.
    """
    denied: Optional[OSError] = None
    for path, check_type in found.openers:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EPERM):
                denied = error
            continue
        try:
            st = os.fstat(fd)
            if st.st_ino == found.inode and st.st_dev == found.dev and (
                    not check_type or ops.is_net_namespace(fd)):
                return fd
        except OSError:
            pass
        os.close(fd)
    if denied is not None:
        raise denied
    raise OSError(errno.ENOENT, "the namespace is gone")

# errnos meaning "it went away while we looked": a process exited, a mount was removed.
_VANISHED = (errno.ENOENT, errno.ESRCH, errno.ENOTDIR)


class FoundNamespace(NamedTuple):
    """A namespace and what holds it; ``fd`` is an open handle (owned by the Discovery)."""

    dev: int
    inode: int
    fd: Optional[int]
    names: Tuple[str, ...]
    paths: Tuple[str, ...]
    pids: Tuple[int, ...]
    threads: Tuple[Holder, ...]
    fds: Tuple[Holder, ...]
    sockets: Tuple[Holder, ...]
    comm: Optional[str]
    error: Optional[str]
    #: (path, needs a type check) that open it again, most durable first (see ``reopen``).
    openers: Tuple[Tuple[str, bool], ...] = ()


class Discovery(NamedTuple):
    namespaces: Tuple[FoundNamespace, ...]
    own_inode: int
    root_inode: Optional[int]
    #: How the root namespace was identified: "pid 1", "kthreadd", or "own (fallback)".
    root_source: str
    warnings: Tuple[str, ...]

    def close(self) -> None:
        for found in self.namespaces:
            if found.fd is not None:
                with contextlib.suppress(OSError):
                    os.close(found.fd)


def parse_netns_link(target: str) -> Optional[int]:
    """The inode in a ``net:[4026531840]`` link target, None for anything else."""
    if target.startswith("net:[") and target.endswith("]"):
        try:
            return int(target[5:-1])
        except ValueError:
            return None
    return None


def unescape_mount_path(field: str) -> str:
    r"""mountinfo writes space, tab, newline and backslash in mount points as \040 \011 \012 \134."""
    if "\\" not in field:
        return field
    out = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and all(c in "01234567" for c in field[i + 1 : i + 4]):
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> List[Tuple[int, str]]:
    """(inode, mount point) of every network-namespace bind mount that its path shows.

    When mounts stack on one path, mountinfo lists them bottom to top and the path shows the last
    one; a namespace mount hidden under another mount is not reachable by that path.
    """
    shown: Dict[str, Optional[int]] = {}
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 10:
            continue
        try:
            separator = fields.index("-", 6)
        except ValueError:
            continue
        path = unescape_mount_path(fields[4])
        shown.pop(path, None)
        shown[path] = parse_netns_link(fields[3]) if fields[separator + 1] == "nsfs" else None
    return [(inode, path) for path, inode in shown.items() if inode is not None]


class _Refs:
    __slots__ = ("dev", "fd", "fds", "names", "openers", "paths", "pids", "sockets", "threads", "verified")

    def __init__(self) -> None:
        self.names: List[Tuple[str, str]] = []  # (name, path)
        self.paths: List[str] = []
        self.pids: List[int] = []
        self.threads: List[Holder] = []
        self.fds: List[Holder] = []
        self.sockets: List[Holder] = []
        self.fd: Optional[int] = None
        self.verified = False
        self.dev = 0
        #: Paths that open the namespace without being a reference worth reporting.
        self.openers: List[str] = []


class _Collector:
    """Accumulates references by inode while the sources are read."""

    def __init__(self, proc: str, nsfs_dev: int, fd_room: int = 1 << 30) -> None:
        self.proc = proc
        self.nsfs_dev = nsfs_dev
        #: How many more namespace fds may be kept open (the reader needs the rest for sockets).
        self.fd_room = fd_room
        self.fd_limited = 0
        self.refs: Dict[int, _Refs] = {}
        self.warnings: List[str] = []
        self.denied_processes = 0

    def at(self, inode: int) -> _Refs:
        refs = self.refs.get(inode)
        if refs is None:
            refs = self.refs[inode] = _Refs()
        return refs

    # -- named: /run/netns ----------------------------------------------------------------------
    def read_netns_dirs(self, dirs: Sequence[str], nsfs_dev: int) -> Set[str]:
        """Names in each directory; returns the real paths of the directories that were read."""
        done: Set[str] = set()
        for directory in dirs:
            real = os.path.realpath(directory)
            if real in done:
                continue  # /var/run is usually a symlink to /run
            try:
                entries = sorted(os.listdir(directory))
            except FileNotFoundError:
                continue
            except OSError as error:
                self.warnings.append(f"cannot list {directory}: {error.strerror}")
                continue
            done.add(real)
            prefix = os.path.join(directory, "")
            for name in entries:
                self._read_name(name, prefix + name, nsfs_dev)
        return done

    def _read_name(self, name: str, path: str, nsfs_dev: int) -> None:
        """One /run/netns entry, opened right away: the fd is what later reads it."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            try:
                st = os.stat(path)  # not allowed to open it: still worth naming
            except OSError:
                self.warnings.append(f"cannot open {path}: {error.strerror}")
                return
            if st.st_dev == nsfs_dev:
                self.at(st.st_ino).names.append((name, path))
            return
        try:
            st = os.fstat(fd)
            if st.st_dev != nsfs_dev:
                # An empty file left behind when the bind mount went away (or never came): setns
                # on it fails with EINVAL, which is what `ip netns exec` then prints.
                self.warnings.append(f"{path} is a stale entry: no namespace is mounted on it")
                return
            if not ops.is_net_namespace(fd):
                self.warnings.append(f"{path} is not a network namespace")
                return
            refs = self.at(st.st_ino)
            refs.names.append((name, path))
            if refs.fd is None and self.fd_room > 0:
                refs.fd, refs.dev, fd = fd, st.st_dev, -1
                self.fd_room -= 1
        finally:
            if fd >= 0:
                os.close(fd)

    # -- bind mounts anywhere -------------------------------------------------------------------
    def read_mountinfo(self, netns_dirs: Set[str]) -> None:
        path = os.path.join(self.proc, "self/mountinfo")
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                text = handle.read()
        except OSError as error:
            self.warnings.append(f"cannot read {path}: {error.strerror}")
            return
        for inode, mount_point in parse_mountinfo(text):
            if os.path.dirname(mount_point) in netns_dirs:
                continue  # already known by its name
            refs = self.at(inode)
            if mount_point not in refs.paths:
                refs.paths.append(mount_point)

    # -- processes, threads, fds, sockets -------------------------------------------------------
    def read_processes(self, own_pid: int, want_sockets: bool) -> None:
        proc = self.proc
        readlink = os.readlink
        sockets: Dict[int, List[Holder]] = {}  # socket inode -> holders
        process_netns: Dict[int, int] = {}
        try:
            pids = sorted(int(entry) for entry in os.listdir(proc) if entry.isdigit())
        except OSError as error:
            self.warnings.append(f"cannot list {proc}: {error.strerror}")
            return
        for pid in pids:
            base = f"{proc}/{pid}"
            try:
                inode = parse_netns_link(readlink(f"{base}/ns/net"))
            except OSError as error:
                if error.errno in (errno.EACCES, errno.EPERM):
                    self.denied_processes += 1
                continue  # vanished, or a process we may not inspect
            if inode is None:
                continue
            self.at(inode).pids.append(pid)
            process_netns[pid] = inode
            try:
                tasks = os.listdir(f"{base}/task")
            except OSError:
                tasks = []
            if len(tasks) > 1:
                for task in tasks:
                    if task == str(pid):
                        continue
                    try:
                        tinode = parse_netns_link(readlink(f"{base}/task/{task}/ns/net"))
                    except OSError:
                        continue
                    if tinode is not None and tinode != inode:
                        self.at(tinode).threads.append(Holder(pid, int(task)))
            if pid == own_pid:
                continue  # our own fds are the scan's, not the host's
            try:
                fd_entries = os.listdir(f"{base}/fd")
            except OSError:
                continue
            for fd_name in fd_entries:
                try:
                    target = readlink(f"{base}/fd/{fd_name}")
                except OSError:
                    continue
                if target.startswith("net:["):
                    finode = parse_netns_link(target)
                    if finode is not None:
                        self.at(finode).fds.append(Holder(pid, int(fd_name)))
                elif target.startswith("/"):
                    # A namespace file opened through a bind mount reads back as that path (or
                    # as "/" once the mount is gone), not as net:[...]: only stat tells.
                    try:
                        st = os.stat(f"{base}/fd/{fd_name}")
                    except OSError:
                        continue
                    if st.st_dev == self.nsfs_dev:
                        self.at(st.st_ino).fds.append(Holder(pid, int(fd_name)))
                elif want_sockets and target.startswith("socket:["):
                    try:
                        sock_inode = int(target[8:-1])
                    except ValueError:
                        continue
                    sockets.setdefault(sock_inode, []).append(Holder(pid, int(fd_name)))
        if sockets:
            self._read_sockets(sockets, process_netns)

    def _read_sockets(self, sockets: Dict[int, List[Holder]], process_netns: Dict[int, int]) -> None:
        """Which namespace each socket is in: pidfd_getfd + SIOCGSKNS (Linux >= 5.6).

        A socket keeps its namespace alive, so a namespace can be held by nothing but a socket in
        some process. Only sockets outside their holder's own namespace are recorded.
        """
        # One pidfd at a time: sockets come grouped by process, and a pidfd per process would be
        # thousands of fds on a busy host.
        pid, pidfd = -1, -1
        denied = 0
        unsupported = False
        try:
            for holders in sockets.values():
                first = holders[0]
                if first.pid != pid:
                    if pidfd >= 0:
                        os.close(pidfd)
                    pid, pidfd = first.pid, -1
                    with contextlib.suppress(OSError):  # it exited
                        pidfd = os.pidfd_open(pid)
                if pidfd < 0:
                    continue
                try:
                    copy = ops.pidfd_getfd(pidfd, first.detail)
                except OSError as error:
                    if error.errno in (errno.EPERM, errno.EACCES):
                        denied += 1
                    elif error.errno == errno.ENOSYS:
                        unsupported = True
                        break
                    continue  # EBADF: closed meanwhile
                try:
                    nsfd = ops.socket_netns(copy)
                except OSError:
                    continue  # not every socket family answers SIOCGSKNS
                finally:
                    os.close(copy)
                keep = False
                try:
                    inode = os.fstat(nsfd).st_ino
                    for holder in holders:
                        if process_netns.get(holder.pid) != inode:
                            refs = self.at(inode)
                            refs.sockets.append(holder)
                            if refs.fd is None and self.fd_room > 0 and not (
                                    refs.names or refs.paths or refs.pids or refs.threads or refs.fds):
                                refs.fd = nsfd
                                refs.dev = os.fstat(nsfd).st_dev
                                self.fd_room -= 1
                                keep = True
                finally:
                    if not keep:
                        os.close(nsfd)
        finally:
            if pidfd >= 0:
                os.close(pidfd)
        if unsupported:
            self.warnings.append("socket-held namespaces not searched: pidfd_getfd needs Linux >= 5.6")
        if denied:
            self.warnings.append(f"could not inspect {denied} socket{'s' if denied != 1 else ''}: no ptrace "
                                 "access to the process holding it")

    # -- explicit paths -------------------------------------------------------------------------
    def add_path(self, path: str, nsfs_dev: int) -> int:
        """A namespace file the user named; returns its inode or raises OSError/ValueError."""
        st = os.stat(path)
        if st.st_dev != nsfs_dev:
            raise ValueError(f"{path} is not a namespace file")
        refs = self.at(st.st_ino)
        if path not in refs.paths and not any(p == path for _, p in refs.names):
            refs.paths.append(path)
        return st.st_ino

    # -- opening --------------------------------------------------------------------------------
    def _candidates(self, refs: _Refs) -> Iterable[Tuple[str, bool]]:
        """(path, needs a type check) for each reference, most durable first."""
        for _name, path in refs.names:
            yield path, True
        for path in refs.paths:
            yield path, True
        for pid in refs.pids:
            yield f"{self.proc}/{pid}/ns/net", False
        for holder in refs.threads:
            yield f"{self.proc}/{holder.pid}/task/{holder.detail}/ns/net", False
        for holder in refs.fds:
            yield f"{self.proc}/{holder.pid}/fd/{holder.detail}", True
        for path in refs.openers:
            yield path, False

    def open_all(self, only: Optional[Sequence[Optional[int]]] = None
                 ) -> Tuple[Dict[int, Optional[str]], Set[int], Set[int]]:
        """Open every namespace (or those in ``only``) that is not open yet. Returns errors by
        inode, the inodes that vanished, and those that turned out to be another type."""
        errors: Dict[int, Optional[str]] = {}
        vanished: Set[int] = set()
        not_net: Set[int] = set()
        order = list(self.refs) if only is None else [i for i in dict.fromkeys(only) if i in self.refs]
        for inode in order:
            refs = self.refs[inode]
            if refs.fd is not None:
                errors[inode] = None
                continue
            last: Optional[OSError] = None
            denied = False
            other_type = False
            for path, check_type in self._candidates(refs):
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError as error:
                    last = error
                    denied = denied or error.errno in (errno.EACCES, errno.EPERM)
                    continue
                try:
                    st = os.fstat(fd)
                    if st.st_ino != inode:
                        # The process moved or exited and its pid was reused, or the path now
                        # shows something else: this reference no longer leads here.
                        os.close(fd)
                        continue
                    if check_type and not ops.is_net_namespace(fd):
                        # An nsfs file of another kind (a mount or user namespace).
                        other_type = True
                        os.close(fd)
                        continue
                except OSError as error:
                    os.close(fd)
                    last = error
                    continue
                refs.dev = st.st_dev
                if self.fd_room > 0:
                    refs.fd = fd
                    self.fd_room -= 1
                else:
                    # Verified, but kept closed: the reader opens it again when it needs it.
                    refs.verified = True
                    os.close(fd)
                break
            if refs.fd is not None or refs.verified:
                errors[inode] = None
            elif other_type and last is None and not denied:
                not_net.add(inode)  # not a network namespace at all: nothing to report
            elif denied:
                errors[inode] = "permission denied opening it"
            elif last is None or last.errno in _VANISHED:
                vanished.add(inode)
            else:
                errors[inode] = f"cannot open it: {last.strerror}"
        return errors, vanished, not_net

    def reopenable(self, refs: _Refs) -> Iterable[Tuple[str, bool]]:
        for path, check_type in self._candidates(refs):
            if "/fd/" not in path:  # an fd number may be reused for anything: not worth trying
                yield path, check_type

    def read_comm(self, pid: int) -> Optional[str]:
        try:
            with open(f"{self.proc}/{pid}/comm", "rb") as handle:
                return handle.read().rstrip(b"\n").decode("utf-8", "surrogateescape")
        except OSError:
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


# Which pid's namespace file find_root read, by how it identified the root namespace.
_ROOT_PIDS = {"pid 1": 1, "kthreadd": 2}


def find_root(proc: str, own_inode: int) -> Tuple[Optional[int], str, Optional[str]]:
    """The root namespace: PID 1's. Returns (inode, how it was found, warning or None)."""
    inode = _readlink_inode(f"{proc}/1/ns/net")
    if inode is not None:
        return inode, "pid 1", None
    # Some sandboxes deny even root a look at PID 1 (a capability it has and we lack); the
    # kernel thread kthreadd is in the initial namespaces and usually readable.
    if _is_kthreadd(proc):
        inode = _readlink_inode(f"{proc}/2/ns/net")
        if inode is not None:
            return inode, "kthreadd", None
    return own_inode, "own (fallback)", (
        "cannot read the namespace of PID 1: taking the tool's own namespace as the root one"
    )


def discover(
    *,
    proc: str = "/proc",
    netns_dirs: Sequence[str] = DEFAULT_NETNS_DIRS,
    extra_paths: Sequence[str] = (),
    sockets: bool = True,
    keep_fds: int = 1 << 30,
) -> Discovery:
    """Find every network namespace reachable from here. The caller must ``close()`` the result.

    ``extra_paths`` are namespace files the caller wants included even if no source finds them;
    one that is not a namespace or cannot be read raises ValueError.
    """
    own_stat = os.stat(f"{proc}/self/ns/net")
    own_inode = own_stat.st_ino
    nsfs_dev = own_stat.st_dev
    collector = _Collector(proc, nsfs_dev, fd_room=keep_fds)
    collector.at(own_inode).openers.append(f"{proc}/self/ns/net")
    root_inode, root_source, root_warning = find_root(proc, own_inode)
    if root_inode is not None and root_source in _ROOT_PIDS:
        collector.at(root_inode).openers.append(f"{proc}/{_ROOT_PIDS[root_source]}/ns/net")
    # The own and root namespaces are opened before anything else can use up the fd room.
    collector.open_all(only=(own_inode, root_inode))
    if root_warning:
        collector.warnings.append(root_warning)
    try:
        for path in extra_paths:
            try:
                collector.add_path(path, nsfs_dev)
            except OSError as error:
                raise ValueError(f"cannot use {path}: {error.strerror}") from None
        dirs_read = collector.read_netns_dirs(netns_dirs, nsfs_dev)
        dirs_read.update(os.path.realpath(d) for d in netns_dirs)
        dirs_read.update(netns_dirs)
        collector.read_mountinfo(dirs_read)
        collector.read_processes(os.getpid(), sockets)
        if collector.denied_processes:
            count = collector.denied_processes
            collector.warnings.append(
                f"could not inspect {count} process{'es' if count != 1 else ''}: permission denied")
        errors, vanished, not_net = collector.open_all()
    except BaseException:
        for refs in collector.refs.values():
            if refs.fd is not None:
                os.close(refs.fd)
        raise
    found = []
    for inode, refs in collector.refs.items():
        if inode in not_net:
            continue
        if inode in vanished:
            collector.warnings.append(f"namespace net:[{inode}] vanished during the scan")
            continue
        comm = None
        if not refs.names and not refs.paths and refs.pids and inode != root_inode:
            comm = collector.read_comm(refs.pids[0])
        found.append(
            FoundNamespace(
                dev=refs.dev or nsfs_dev,
                inode=inode,
                fd=refs.fd,
                names=tuple(name for name, _ in refs.names),
                paths=tuple(path for _, path in refs.names) + tuple(refs.paths),
                pids=tuple(refs.pids),
                threads=tuple(refs.threads),
                fds=tuple(refs.fds),
                sockets=tuple(refs.sockets),
                comm=comm,
                error=errors.get(inode),
                openers=tuple(collector.reopenable(refs)),
            )
        )
    found.sort(key=lambda item: item.inode)
    return Discovery(tuple(found), own_inode, root_inode, root_source, tuple(collector.warnings))
