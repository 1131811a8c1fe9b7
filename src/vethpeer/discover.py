"""Finding every network namespace on the host and every reference that holds it.

Sources, cheapest first: /run/netns names, nsfs bind mounts in our mountinfo, processes and every
thread (a thread outlives its exited main thread; a thread may have its own fd table), open fds,
tun/tap files, bind mounts visible only in other mount namespaces, and (opt-in) sockets.
References are collected by inode from readlink/stat (all network namespaces live on the one nsfs
superblock), then each namespace is opened through the first reference that still works and
identified by fstat; only ``keep_fds`` of those fds stay open, the rest can be reopened later with
``reopen``. Everything below ``proc`` is injectable so the collection logic can be tested on a fake
/proc tree. Netlink only in ``ChangeWatch`` (nsid notifications: a sign that something changed
while discovering); reading links is ``reader``'s.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import resource
import select
import socket
import stat as stat_module
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

from .host import kernel, ops
from .host.kernel import TunFile
from .model import Holder, Holders, Namespace, NamespaceId

DEFAULT_NETNS_DIRS = ("/run/netns", "/var/run/netns")


def netns_dirs(root: str = "/") -> Tuple[str, ...]:
    """The directories `ip netns` names live in, under ``root`` and resolved inside it: a link
    in the tree (``/var/run -> /run``) means the same place inside the root, never outside it."""
    if os.path.normpath(root) == "/":
        return DEFAULT_NETNS_DIRS
    from .host import safefile

    found = (safefile.real_path(root, directory) for directory in DEFAULT_NETNS_DIRS)
    return tuple(dict.fromkeys(path for path in found if path is not None))

#: Other mount namespaces' mountinfo read by default only up to this many bytes (about 20 ms).
MOUNTINFO_BYTES_AUTO = 600_000

# A mountinfo line of a network namespace's nsfs mount: "ID PARENT MAJ:MIN net:[INODE] PATH ... - nsfs".
_NSFS_NET_LINE = re.compile(rb"^\d+ \d+ \d+:\d+ net:\[(\d+)\] [^\n]*? - nsfs ", re.MULTILINE)

# O_NONBLOCK: a FIFO put where a namespace file should be would block open() forever. O_NOCTTY: a
# terminal must never become ours. Neither changes anything for an nsfs file.
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY


def fd_reserve(limit: int) -> int:
    """File descriptors kept free of namespace handles: the reader's sockets need them."""
    return max(96, min(256, limit // 4))


def default_keep_fds() -> int:
    """How many namespace fds ``discover`` keeps when the caller does not say: what the current
    soft RLIMIT_NOFILE leaves after the fds already open and the reader's reserve."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(0, soft - ops.open_fd_count() - fd_reserve(soft))


# errnos meaning "it went away while we looked": a process exited, a mount was removed.
_VANISHED = (errno.ENOENT, errno.ESRCH, errno.ENOTDIR)
_DENIED = (errno.EACCES, errno.EPERM)
_O_PATH = getattr(os, "O_PATH", 0o10000000)


def open_namespace_file(path: str, flags: int = _OPEN_FLAGS) -> int:
    """Open a namespace file, and never anything else: ``O_PATH`` first (which opens nothing: a
    FIFO's writer is not woken, a device is not called), then, only if ``fstat`` says it is an
    nsfs file, the real open of that very inode through /proc/self/fd. A path that leads to
    something else now (a reused fd number, an entry replaced after it was looked at) raises
    ENOENT: it no longer leads to a namespace."""
    probe = os.open(path, _O_PATH | os.O_CLOEXEC | (flags & os.O_NOFOLLOW))
    try:
        if os.fstat(probe).st_dev != _nsfs_dev():
            raise OSError(errno.ENOENT, "not a namespace file", path)
        return os.open(f"/proc/self/fd/{probe}", flags & ~os.O_NOFOLLOW)
    finally:
        os.close(probe)


_NSFS_DEV: List[int] = []


def _nsfs_dev() -> int:
    if not _NSFS_DEV:
        _NSFS_DEV.append(os.stat("/proc/self/ns/net").st_dev)
    return _NSFS_DEV[0]


class FoundNamespace(NamedTuple):
    """A namespace discovery found (the ``model.Namespace`` record, its holders filled in) and the
    ways back into it. ``fd`` is an open handle (owned by the Discovery) or None when it was
    verified but not kept (see ``openers`` and ``reopen``)."""

    namespace: Namespace
    fd: Optional[int] = None
    #: (path, needs an NS_GET_NSTYPE check) that open it again, most durable first. Empty for a
    #: namespace only a socket or tun file reaches: its ``fd`` is then the only way in.
    openers: Tuple[Tuple[str, bool], ...] = ()

    @property
    def inode(self) -> int:
        return self.namespace.id.inode

    @property
    def dev(self) -> int:
        return self.namespace.id.dev

    @property
    def error(self) -> Optional[str]:
        return self.namespace.error


class Discovery(NamedTuple):
    namespaces: Tuple[FoundNamespace, ...]
    own_inode: int
    root_inode: Optional[int]
    #: How the root namespace was identified: "pid 1", "kthreadd", "init inode", or "unknown".
    root_source: str
    warnings: Tuple[str, ...]
    #: Every open tun/tap file attached to a device, whichever namespace holds it.
    tun_files: Tuple[TunFile, ...] = ()

    def close(self) -> None:
        for found in self.namespaces:
            if found.fd is not None:
                with contextlib.suppress(OSError):
                    os.close(found.fd)


class ChangeWatch:
    """Whether a namespace may have been made since the watch was made, to be read with the rest.

    Two signs, both cheap to watch: this mount namespace's mount table changed (the kernel flags
    an open mountinfo file POLLPRI at every mount and unmount: ``ip netns add``, a runtime's bind
    mount of a new sandbox), or this network namespace gave an id to another one (RTNLGRP_NSID: a
    veth wired a new namespace to it, all a process-held one like an LXC container shows).
    """

    def __init__(self, proc: str = "/proc") -> None:
        self.mounts: Optional[int] = None
        self.ids: Optional[socket.socket] = None
        with contextlib.suppress(OSError):
            self.mounts = os.open(f"{proc}/self/mountinfo", os.O_RDONLY | os.O_CLOEXEC)
        with contextlib.suppress(OSError):
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                                 socket.NETLINK_ROUTE)
            try:
                sock.bind((0, RTMGRP_NSID))
            except OSError:
                sock.close()
                raise
            self.ids = sock

    def changed(self) -> bool:
        """True when either sign showed (or the mount table cannot be watched: then nobody can
        say that nothing was named)."""
        if self.mounts is None:
            return True
        poller = select.poll()
        poller.register(self.mounts, select.POLLPRI)
        if any(events & (select.POLLPRI | select.POLLERR) for _fd, events in poller.poll(0)):
            return True
        if self.ids is not None:
            try:
                return bool(self.ids.recv(1 << 16, socket.MSG_DONTWAIT))
            except BlockingIOError:
                return False
            except OSError:
                return True  # ENOBUFS: so many ids came that some were dropped
        return False

    def close(self) -> None:
        if self.mounts is not None:
            with contextlib.suppress(OSError):
                os.close(self.mounts)
            self.mounts = None
        if self.ids is not None:
            self.ids.close()
            self.ids = None


#: rtnetlink's multicast group mask for RTNLGRP_NSID (28): ids given to or taken from other namespaces.
RTMGRP_NSID = 1 << (28 - 1)


def reopen(found: FoundNamespace, proc: str = "/proc") -> int:
    """A new fd for ``found``, opened through its openers and checked to be that namespace.

    Raises OSError: ENOENT when every opener failed because what it named is gone (or now leads
    elsewhere), EACCES when one was denied. A namespace without openers (held only by a socket or
    tun file) can only be duplicated from its kept ``fd``. ``proc`` is where procfs is mounted,
    for that duplicate.
    """
    denied = False
    for path, check_type in found.openers:
        if check_type and "/fd/" in path:
            # A reused fd number could now be a device: only an nsfs file is opened (see open_all).
            try:
                if os.stat(path).st_dev != found.dev:
                    continue
            except OSError as error:
                denied = denied or error.errno in _DENIED
                continue
        try:
            fd = open_namespace_file(path)
        except OSError as error:
            denied = denied or error.errno in _DENIED
            continue
        try:
            st = os.fstat(fd)
            if st.st_ino == found.inode and st.st_dev == found.dev and (
                    not check_type or ops.is_net_namespace(fd)):
                return fd
        except OSError:
            pass
        os.close(fd)
    if found.fd is not None:
        # A fresh open file of the same namespace, not a dup sharing the caller's file offset and
        # flags; falls back to dup where /proc is not ours.
        try:
            return os.open(f"{proc}/self/fd/{found.fd}", _OPEN_FLAGS)
        except OSError:
            return os.dup(found.fd)
    if denied:
        raise OSError(errno.EACCES, f"net:[{found.inode}]: permission denied reopening it")
    raise OSError(errno.ENOENT, f"net:[{found.inode}]: nothing that held it leads to it any more")


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


class NsfsMount(NamedTuple):
    inode: int
    path: str
    #: Another mount hides it: one stacked on it, or one mounted later on a directory above it.
    covered: bool


def parse_nsfs_mounts(text: str) -> List[NsfsMount]:
    """Every network-namespace bind mount in a mountinfo text, with whether its path shows it."""
    mounts: List[Tuple[int, int, str, Optional[int]]] = []  # (id, parent id, path, netns inode)
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 10:
            continue
        try:
            separator = fields.index("-", 6)
            mount_id, parent_id = int(fields[0]), int(fields[1])
        except ValueError:
            continue
        inode = parse_netns_link(fields[3]) if fields[separator + 1] == "nsfs" else None
        mounts.append((mount_id, parent_id, unescape_mount_path(fields[4]), inode))
    found: List[NsfsMount] = []
    if not any(inode is not None for *_, inode in mounts):
        return found
    by_id = {mount_id: parent_id for mount_id, parent_id, _, _ in mounts}
    by_path: Dict[str, List[Tuple[int, int]]] = {}
    for mount_id, parent_id, path, _ in mounts:
        by_path.setdefault(path, []).append((mount_id, parent_id))
    chains: Dict[int, Set[int]] = {}

    def chain_of(mount: int) -> Set[int]:
        """The mounts a path walk passes through on its way into ``mount`` (itself included)."""
        known = chains.get(mount)
        if known is None:
            # (a parent mountinfo does not list, outside a chroot, is no mount we can judge by)
            known, parent = ({mount} if mount in by_id else set()), by_id.get(mount)
            while parent is not None and parent in by_id and parent not in known:
                known.add(parent)
                parent = by_id.get(parent)
            chains[mount] = known
        return known

    # Another mount hides one when it sits on a mount of its chain, at or above its path. Only the
    # path's own ancestors are looked up, and what is above a directory is worked out once per
    # (directory, parent mount): thousands of /run/netns mounts stay linear.
    above: Dict[Tuple[str, int], bool] = {}
    for mount_id, parent_id, path, inode in mounts:
        if inode is None:
            continue
        directory = path.rpartition("/")[0] or "/"  # os.path.dirname, without its call overhead
        key = (directory, parent_id)
        covered_above = above.get(key)
        if covered_above is None:
            parents = chain_of(parent_id)
            covered_above = directory != path and any(
                other_parent in parents and other_id not in parents
                for upper in _ancestors(directory) for other_id, other_parent in by_path.get(upper, ()))
            above[key] = covered_above
        same_path = by_path[path]
        # (alone at its path, nothing stacked on it: the usual /run/netns entry needs no chain)
        covered = covered_above or (len(same_path) > 1 and any(
            other_parent in chain and other_id not in chain
            for chain in (chain_of(mount_id),) for other_id, other_parent in same_path))
        found.append(NsfsMount(inode, path, covered))
    return found


def _ancestors(path: str) -> Iterable[str]:
    """``path`` and every directory above it, up to "/"."""
    while True:
        yield path
        if path in ("/", ""):
            return
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def parse_mountinfo(text: str) -> List[Tuple[int, str]]:
    """(inode, mount point) of every network-namespace bind mount that its path shows."""
    seen: Set[str] = set()
    shown = []
    for mount in parse_nsfs_mounts(text):
        if not mount.covered and mount.path not in seen:
            seen.add(mount.path)
            shown.append((mount.inode, mount.path))
    return shown


class _Refs:
    __slots__ = ("covered", "dev", "extra_openers", "fd", "fd_paths", "fds", "names", "paths", "pids",
                 "rings", "sockets", "threads", "tuns", "unopenable_pids", "userns_uid")

    def __init__(self) -> None:
        self.names: List[Tuple[str, str]] = []  # (name, path)
        self.paths: List[str] = []
        self.covered: List[str] = []  # bind-mount paths another mount hides
        self.pids: List[int] = []
        self.unopenable_pids: Set[int] = set()  # listed by evidence other than their ns link
        self.threads: List[Holder] = []
        self.fds: List[Holder] = []
        self.fd_paths: List[str] = []  # where each of ``fds`` can be opened, same order
        self.sockets: List[Holder] = []
        self.tuns: List[Holder] = []
        self.rings: List[Holder] = []
        self.fd: Optional[int] = None
        self.dev = 0
        self.userns_uid: Optional[int] = None
        #: Paths that open the namespace without being a reference worth reporting.
        self.extra_openers: List[str] = []

    def durable(self) -> bool:
        """Whether anything but a socket or tun fd leads to it."""
        return bool(self.names or self.paths or self.pids or self.threads or self.fds or self.extra_openers)


class _TaskFiles(NamedTuple):
    """An fd table to read: ``holder`` is the id whose /proc/ID/fd shows it, ``base`` its dir."""

    holder: int
    base: str
    process: int


class _Collector:
    """Accumulates references by inode while the sources are read."""

    def __init__(self, proc: str, nsfs_dev: int, fd_room: int = 1 << 30) -> None:
        self.proc = proc
        self.nsfs_dev = nsfs_dev
        #: How many more namespace fds may be kept open (the reader needs the rest for sockets).
        self.fd_room = fd_room
        self.fd_budget = fd_room
        #: Kept fds that ``reopen`` could replace, oldest first: given up for fd-only namespaces.
        self.evictable: List[int] = []
        self.dropped_fd_only: List[int] = []
        #: Namespaces opened and checked once already (kept or not): not opened again.
        self.verified: Set[int] = set()
        self.refs: Dict[int, _Refs] = {}
        self.warnings: List[str] = []
        self.denied_pids: List[int] = []
        #: The namespace each process is in (its main thread's, or its first thread's).
        self.process_netns: Dict[int, int] = {}
        #: A /proc/PID (or /proc/PID/task/TID) base per mount namespace other than ours.
        self.mount_namespaces: Dict[str, str] = {}
        self.tun_files: List[Tuple[_TaskFiles, int]] = []
        #: What ``read_tuns`` learned about each tun/tap file attached to a device.
        self.tun_devices: List[TunFile] = []
        #: Whether pids under ``proc`` are in our pid namespace (kcmp and pidfds take ours).
        self.pids_are_ours = _readlink_text(f"{proc}/self") == str(os.getpid())
        self.socket_files: Dict[int, List[Tuple[_TaskFiles, int]]] = {}  # socket inode -> holders

    def at(self, inode: int) -> _Refs:
        refs = self.refs.get(inode)
        if refs is None:
            refs = self.refs[inode] = _Refs()
        return refs

    @property
    def denied_processes(self) -> int:
        return len(self.denied_pids)

    # -- the fd budget --------------------------------------------------------------------------
    def keep(self, inode: int, refs: _Refs, fd: int, dev: int) -> bool:
        """Keep ``fd`` as the namespace's handle if the budget allows; closes it otherwise.

        A namespace only a socket or tun fd reaches cannot be reopened later, so it takes the slot
        of one that can when the budget is spent.
        """
        if refs.userns_uid is None:
            refs.userns_uid = ops.userns_owner(fd)
        durable = refs.durable()
        if durable:
            self.verified.add(inode)
        if self.fd_room <= 0 and not durable and self.evictable:
            victim = self.refs[self.evictable.pop(0)]
            if victim.fd is not None:
                os.close(victim.fd)
                victim.fd = None
                self.fd_room += 1
        if self.fd_room <= 0:
            os.close(fd)
            if not durable:
                self.dropped_fd_only.append(inode)
            return False
        refs.fd, refs.dev = fd, dev
        self.fd_room -= 1
        self.verified.add(inode)
        if durable:
            self.evictable.append(inode)
        return True

    # -- named: /run/netns ----------------------------------------------------------------------
    def read_netns_dirs(self, dirs: Sequence[str], nsfs_dev: int, mounted: Optional[Dict[str, int]] = None) -> Set[str]:
        """Names in each directory; returns the real paths of the directories that were read.
        ``mounted``: the paths our mount table shows an nsfs mount on (and the inode mounted)."""
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
                path = prefix + name
                self._read_name(name, path, nsfs_dev, mounted is not None and path in mounted)
        return done

    def _read_name(self, name: str, path: str, nsfs_dev: int, nsfs_mount: bool = False) -> None:
        """One /run/netns entry, opened right away when it is an nsfs file. What the mount table
        shows an nsfs mount on is opened straight away (fstat still says what was opened);
        anything else is looked at first, since opening a FIFO would hang and opening a device
        could act on it (measured: the look costs 1.9 ms per 1000 names)."""
        st = None if nsfs_mount else self._look(path, nsfs_dev)
        if st is None and not nsfs_mount:
            return
        try:
            # O_NOFOLLOW: `ip netns` makes mount points, never links; one would lead anywhere.
            fd = open_namespace_file(path, _OPEN_FLAGS | os.O_NOFOLLOW)
        except OSError:
            st = st or self._look(path, nsfs_dev)
            if st is None:
                return
            self.at(st.st_ino).names.append((name, path))  # not allowed to open it: still worth naming
            return
        try:
            st = os.fstat(fd)
            if st.st_dev != nsfs_dev:
                self.warnings.append(f"{path} is a stale entry: no namespace is mounted on it")
                return
            if not ops.is_net_namespace(fd):
                self.warnings.append(f"{path} is not a network namespace")
                return
            refs = self.at(st.st_ino)
            refs.names.append((name, path))
            if refs.fd is None:
                self.keep(st.st_ino, refs, fd, st.st_dev)
                fd = -1
        finally:
            if fd >= 0:
                os.close(fd)

    def _look(self, path: str, nsfs_dev: int) -> Optional[os.stat_result]:
        """lstat() an entry before anything opens it; None (with a warning) unless it is nsfs."""
        try:
            st = os.lstat(path)
        except OSError as error:
            self.warnings.append(f"cannot read {path}: {error.strerror}")
            return None
        if st.st_dev != nsfs_dev:
            self._not_a_namespace(path, st)
            return None
        return st

    def _not_a_namespace(self, path: str, st: os.stat_result) -> None:
        if stat_module.S_ISREG(st.st_mode):
            # An empty file left behind when the bind mount went away (or never came): setns
            # on it fails with EINVAL, which is what `ip netns exec` then prints.
            self.warnings.append(f"{path} is a stale entry: no namespace is mounted on it")
        else:
            # Never opened: a FIFO would block open(), a device could act on it.
            self.warnings.append(f"{path} is not a namespace file")

    # -- bind mounts anywhere -------------------------------------------------------------------
    def own_nsfs_mounts(self) -> List[NsfsMount]:
        """The nsfs mounts our own mount table lists."""
        path = os.path.join(self.proc, "self/mountinfo")
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                text = handle.read()
        except OSError as error:
            self.warnings.append(f"cannot read {path}: {error.strerror}")
            return []
        return parse_nsfs_mounts(text)

    def read_mountinfo(self, netns_dirs: Set[str], mounts: Optional[List[NsfsMount]] = None) -> None:
        for mount in self.own_nsfs_mounts() if mounts is None else mounts:
            if (mount.path.rpartition("/")[0] or "/") in netns_dirs and not mount.covered:
                continue  # already known by its name
            refs = self.at(mount.inode)
            if mount.covered:
                if mount.path not in refs.covered:
                    refs.covered.append(mount.path)
            elif mount.path not in refs.paths:
                refs.paths.append(mount.path)

    def read_other_mount_namespaces(self, byte_budget: Optional[int] = None) -> None:
        """nsfs bind mounts that only another mount namespace has (``unshare -m`` + ``mount``).

        One mountinfo per distinct mount namespace, through a process in it; its mounts are
        reached as /proc/PID/root/PATH. The kernel writes mountinfo at about 30 bytes/us
        (measured: 0.25 ms for 40 mounts, 350 ms for 1000 such mount namespaces, and a mount
        namespace copied from a host with 1000 /run/netns names has 1000 lines), so once
        ``byte_budget`` bytes were read the rest is skipped and a warning says so. Parsed only when
        it has an nsfs mount of a namespace not already bind-mounted in ours (one shared
        /run/netns mount propagates into every mount namespace made from ours: those copies are
        not listed again).
        """
        seen: Set[Tuple[int, str]] = set()
        mounted_here = {inode for inode, refs in self.refs.items() if refs.names or refs.paths}
        spent = 0
        bases = list(self.mount_namespaces.values())
        for done, base in enumerate(bases):
            if byte_budget is not None and spent > byte_budget:
                self.warnings.append(
                    f"bind mounts in {len(bases) - done} of {len(bases)} other mount namespaces not searched "
                    "(their mount tables are large): a namespace held only by one of them is missed; ask "
                    "for mount namespaces to search them all")
                break
            data = _read_small_file(f"{base}/mountinfo")
            if data is None:
                continue
            spent += len(data)
            if b" nsfs " not in data:
                continue
            if {int(inode) for inode in _NSFS_NET_LINE.findall(data)} <= mounted_here:
                continue
            for mount in parse_nsfs_mounts(data.decode("utf-8", "surrogateescape")):
                if mount.inode in mounted_here or (mount.inode, mount.path) in seen:
                    continue
                seen.add((mount.inode, mount.path))
                full = f"{base}/root{mount.path}"
                refs = self.at(mount.inode)
                if mount.covered:
                    refs.covered.append(full)
                else:
                    refs.paths.append(full)

    # -- processes, threads, fds ----------------------------------------------------------------
    def read_processes(self, own_pid: int, want_sockets: bool, *, want_tuns: bool = True,
                       own_mount_ns: Optional[str] = None) -> None:
        proc = self.proc
        readlink = os.readlink
        try:
            pids = sorted(int(entry) for entry in os.listdir(proc) if entry.isdigit())
        except OSError as error:
            self.warnings.append(f"cannot list {proc}: {error.strerror}")
            return
        for pid in pids:
            base = f"{proc}/{pid}"
            leader_gone = False
            inode: Optional[int] = None
            try:
                inode = parse_netns_link(readlink(f"{base}/ns/net"))
            except OSError as error:
                if error.errno in _DENIED:
                    self.denied_pids.append(pid)
                    continue
                if error.errno != errno.ENOENT:
                    continue
                # ENOENT: the process exited, or only its main thread did. A main thread that
                # exits before its threads stays a zombie without namespaces (and without an fd
                # table) until the last one ends, while the threads keep theirs.
                leader_gone = True
            if inode is None and not leader_gone:
                continue
            if inode is not None:
                self.at(inode).pids.append(pid)
                self.process_netns[pid] = inode
            tables: List[_TaskFiles] = []
            own = pid == own_pid
            if not leader_gone and not own:
                tables.append(_TaskFiles(pid, base, pid))
            mount_base = base
            try:
                tasks = sorted(os.listdir(f"{base}/task"), key=lambda name: (len(name), name))
            except OSError:
                tasks = []
            if len(tasks) > 1 or leader_gone:
                first_live: Optional[_TaskFiles] = None
                for task in tasks:
                    if task == str(pid):
                        continue
                    tbase = f"{base}/task/{task}"
                    try:
                        tinode = parse_netns_link(readlink(f"{tbase}/ns/net"))
                    except OSError:
                        continue
                    if tinode is None:
                        continue
                    tid = int(task)
                    if leader_gone:
                        self.at(tinode).threads.append(Holder(pid, tid))
                        if first_live is None:
                            first_live = _TaskFiles(tid, tbase, pid)
                            self.process_netns[pid] = tinode
                            mount_base = tbase
                            tables.append(first_live)
                            continue
                    elif tinode != inode:
                        self.at(tinode).threads.append(Holder(pid, tid))
                    if own:
                        continue  # our own fds are the scan's, not the host's
                    # A thread that called unshare(CLONE_FILES) has an fd table of its own (which
                    # threads it starts later share).
                    reference = tables[0] if tables else _TaskFiles(pid, base, pid)
                    if not self._same_files(reference, tbase, tid) and not any(
                            self._same_files(other, tbase, tid) for other in tables[1:]):
                        tables.append(_TaskFiles(tid, tbase, pid))
            if own_mount_ns is not None:
                try:
                    mount_ns = readlink(f"{mount_base}/ns/mnt")
                except OSError:
                    mount_ns = own_mount_ns
                if mount_ns != own_mount_ns and mount_ns not in self.mount_namespaces:
                    self.mount_namespaces[mount_ns] = mount_base
            for table in tables:
                self._read_fds(table, want_sockets, want_tuns)

    def _same_files(self, table: _TaskFiles, tbase: str, tid: int) -> bool:
        """Whether task ``tid`` shares ``table``'s fd table."""
        if self.pids_are_ours:
            shared = kernel.shares_files(table.holder, tid)
            if shared is not None:
                return shared
        # No kcmp here, or /proc is another pid namespace's (its pids are not ours to kcmp): a
        # table whose fd numbers differ is another table. One listing more per thread.
        try:
            return sorted(os.listdir(f"{table.base}/fd")) == sorted(os.listdir(f"{tbase}/fd"))
        except OSError:
            return True

    def _read_fds(self, table: _TaskFiles, want_sockets: bool, want_tuns: bool) -> None:
        readlink = os.readlink
        fd_dir = f"{table.base}/fd"
        try:
            fd_entries = os.listdir(fd_dir)
        except OSError:
            return
        for fd_name in fd_entries:
            path = f"{fd_dir}/{fd_name}"
            try:
                target = readlink(path)
            except OSError:
                continue
            if target.startswith("net:["):
                finode = parse_netns_link(target)
                if finode is not None:
                    self._add_fd(finode, Holder(table.holder, int(fd_name)), path)
            elif target.startswith("/"):
                # A namespace file opened through a bind mount reads back as that path (or as "/"
                # once the mount is gone), not as net:[...]; a tun file reads back as whatever
                # path it was opened by. Only stat tells either.
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if st.st_dev == self.nsfs_dev:
                    self._add_fd(st.st_ino, Holder(table.holder, int(fd_name)), path)
                elif want_tuns and kernel.is_tun(st):
                    self.tun_files.append((table, int(fd_name)))
            elif target == "anon_inode:[io_uring]":
                self._read_ring(table, int(fd_name))
            elif want_sockets and target.startswith("socket:["):
                try:
                    sock_inode = int(target[8:-1])
                except ValueError:
                    continue
                self.socket_files.setdefault(sock_inode, []).append((table, int(fd_name)))

    def _read_ring(self, table: _TaskFiles, fd: int) -> None:
        """The namespaces an io_uring ring holds as registered files, from its fdinfo (a read of
        /proc only: the ring is not touched). A file opened through /proc/PID/ns/net reads back
        as net:[INODE]; one opened through a bind mount reads back as its path (or "/" once it is
        unmounted) and is left out: the path may lead to another namespace by now, and a
        namespace still mounted there is found through the mount anyway."""
        try:
            with open(f"{table.base}/fdinfo/{fd}", "rb") as handle:
                text = handle.read(1 << 20)
        except OSError:
            return
        start = text.find(b"\nUserFiles:")
        if start < 0:
            return
        for line in text[start + 1 :].split(b"\n")[1:]:
            if not line.startswith(b" "):
                break
            _index, _, name = line.strip().partition(b": ")
            if name.startswith(b"net:["):
                inode = parse_netns_link(name.decode("ascii", "replace"))
                if inode is not None and self.process_netns.get(table.process) != inode:
                    refs = self.at(inode)
                    holder = Holder(table.holder, fd)
                    if holder not in refs.rings:
                        refs.rings.append(holder)

    def _add_fd(self, inode: int, holder: Holder, path: str) -> None:
        refs = self.at(inode)
        if holder not in refs.fds:
            refs.fds.append(holder)
            refs.fd_paths.append(path)

    # -- processes whose namespace link we may not read -----------------------------------------
    def account_denied(self) -> None:
        """Warn about processes we could not inspect, unless their namespace is known anyway.

        /proc/PID/net/ is readable without ptrace access, and each namespace has its own proc
        entries there: the inode of /proc/PID/net/dev is the same for two processes exactly when
        they share a network namespace (while both live).
        """
        if not self.denied_pids:
            return
        by_entry: Optional[Dict[int, int]] = None
        unknown: List[int] = []
        for pid in self.denied_pids:
            entry = _stat_inode(f"{self.proc}/{pid}/net/dev")
            if entry is None:
                continue  # exited meanwhile
            if by_entry is None:
                by_entry = {}
                for known, held in self.refs.items():
                    if held.pids:
                        key = _stat_inode(f"{self.proc}/{held.pids[0]}/net/dev")
                        if key is not None:
                            by_entry.setdefault(key, known)
            inode = by_entry.get(entry)
            if inode is None:
                unknown.append(pid)
                continue
            refs = self.refs[inode]
            refs.pids.append(pid)
            refs.pids.sort()
            refs.unopenable_pids.add(pid)
            self.process_netns[pid] = inode
        if unknown:
            shown = ", ".join(f"{pid} ({_comm(self.proc, pid) or '?'})" for pid in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            self.warnings.append(
                f"could not inspect process{'es' if len(unknown) != 1 else ''} {shown}{more}: permission "
                "denied; a namespace held only by "
                f"{'them' if len(unknown) != 1 else 'it'} would be missed")

    # -- tun/tap files --------------------------------------------------------------------------
    def read_tuns(self) -> None:
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
            name = _fdinfo_iff(f"{self.proc}/self/fdinfo/{copy}")
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
        for table, fd in self.tun_files:
            del device[:]
            nsfd = self._fd_netns(table, fd, kernel.is_tun, held_and_device)
            if nsfd == -errno.EPERM:
                denied += 1
            if nsfd < 0:
                continue
            self._add_fd_only(nsfd, table, Holder(table.holder, fd), "tuns")
            name, inode = device[0] if device else (b"", None)
            if inode is not None and name:
                named = commands.get(table.process)
                if named is None:
                    named = commands[table.process] = (_comm(self.proc, table.process),
                                                       qemu_vm_name(_cmdline(self.proc, table.process)))
                self.tun_devices.append(TunFile(table.holder, fd, inode, name, named[0], named[1],
                                                self.process_netns.get(table.process)))
        if denied:
            self.warnings.append(f"could not inspect {denied} tun/tap file{'s' if denied != 1 else ''}: "
                                 "no ptrace access to the process holding it, or no CAP_NET_ADMIN")

    def _fd_netns(self, table: _TaskFiles, fd: int, check: Callable[[os.stat_result], bool],
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

    def _add_fd_only(self, nsfd: int, table: _TaskFiles, holder: Holder, field: str) -> Optional[int]:
        """Record a socket/tun holder of the namespace behind ``nsfd`` (consumed); its inode."""
        try:
            st = os.fstat(nsfd)
        except OSError:
            os.close(nsfd)
            return None
        if self.process_netns.get(table.process) == st.st_ino:
            os.close(nsfd)  # in its holder's own namespace: nothing new
            return st.st_ino
        refs = self.at(st.st_ino)
        held: List[Holder] = getattr(refs, field)
        if holder not in held:
            held.append(holder)
        if refs.fd is None and not refs.durable():
            self.keep(st.st_ino, refs, nsfd, st.st_dev)
        else:
            os.close(nsfd)
        return st.st_ino

    # -- sockets (opt-in) -----------------------------------------------------------------------
    def read_sockets(self) -> None:
        """Which namespace each socket is in: pidfd_getfd + SIOCGSKNS (Linux >= 5.6).

        Opt-in: pidfd_getfd of a socket re-tags it with the caller's cgroup-v1 net_cls classid
        and net_prio index (__receive_sock), which changes how the owner's traffic is classified.
        Only sockets outside their holder's own namespace are recorded, each socket file once.
        """
        denied = 0
        unsupported = False
        for holders in self.socket_files.values():
            table, fd = holders[0]
            nsfd = self._fd_netns(table, fd, _is_socket, ops.socket_netns)
            if nsfd == -errno.ENOSYS:
                unsupported = True
                break
            if nsfd == -errno.EPERM:
                denied += 1
            if nsfd < 0:
                continue
            for other_table, other_fd in holders:
                dup = os.dup(nsfd)
                self._add_fd_only(dup, other_table, Holder(other_table.holder, other_fd), "sockets")
            os.close(nsfd)
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
    def candidates(self, refs: _Refs) -> Iterable[Tuple[str, bool]]:
        """(path, needs a type check) for each reference, most durable first."""
        for _name, path in refs.names:
            yield path, True
        for path in refs.paths:
            yield path, True
        for pid in refs.pids:
            if pid not in refs.unopenable_pids:
                yield f"{self.proc}/{pid}/ns/net", False
        for holder in refs.threads:
            yield f"{self.proc}/{holder.pid}/task/{holder.detail}/ns/net", False
        for path in refs.fd_paths:
            yield path, True
        for path in refs.extra_openers:
            yield path, False

    def open_all(self, only: Optional[Sequence[Optional[int]]] = None
                 ) -> Tuple[Dict[int, Optional[str]], Set[int], Set[int]]:
        """Open and verify every namespace (or those in ``only``) that is not open yet, keeping
        the fd where the budget allows. Returns errors by inode, the inodes that vanished, and
        those that turned out to be another type."""
        errors: Dict[int, Optional[str]] = {}
        vanished: Set[int] = set()
        not_net: Set[int] = set()
        order = list(self.refs) if only is None else [i for i in dict.fromkeys(only) if i in self.refs]
        for inode in order:
            refs = self.refs[inode]
            if refs.fd is not None or inode in self.verified:
                errors[inode] = None
                continue
            last: Optional[OSError] = None
            denied = False
            other_type = False
            opened = False
            for path, check_type in self.candidates(refs):
                if check_type and "/fd/" in path:
                    # The fd number may have been reused since it was listed: opening a device or
                    # FIFO through /proc/PID/fd would act on it. Only an nsfs file is opened.
                    try:
                        st = os.stat(path)
                    except OSError as error:
                        last = error
                        continue
                    if st.st_dev != self.nsfs_dev:
                        continue
                try:
                    fd = open_namespace_file(path)
                except OSError as error:
                    last = error
                    denied = denied or error.errno in _DENIED
                    continue
                try:
                    st = os.fstat(fd)
                    if st.st_ino != inode or st.st_dev != self.nsfs_dev:
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
                opened = True
                self.keep(inode, refs, fd, st.st_dev)
                break
            if opened:
                errors[inode] = None
            elif other_type and last is None and not denied:
                not_net.add(inode)  # not a network namespace at all: nothing to report
            elif denied:
                errors[inode] = "permission denied opening it"
            elif refs.covered:
                # The mount holds the namespace alive; only its path is hidden.
                errors[inode] = (f"alive but unreachable: its bind mount at {refs.covered[0]} is covered "
                                 "by another mount")
            elif refs.rings and not (refs.durable() or refs.sockets or refs.tuns):
                ring = refs.rings[0]
                errors[inode] = (f"held only by an io_uring registered file (pid {ring.pid}, ring fd {ring.detail}): "
                                 "it cannot be opened without using that ring")
            elif not refs.durable() and (refs.sockets or refs.tuns):
                errors[inode] = (f"not kept open: only a {'tun/tap file' if refs.tuns else 'socket'} reaches "
                                 "it, and the fd budget is spent")
            elif last is None or last.errno in _VANISHED:
                vanished.add(inode)
            else:
                errors[inode] = f"cannot open it: {last.strerror}"
        return errors, vanished, not_net

    def still_mounted(self, vanished: Set[int]) -> Dict[int, str]:
        """Of the namespaces that seemed to vanish, those our mountinfo still lists: mounted at a
        path that did not lead to them (covered after it was read, or by a mount we misjudged)."""
        if not vanished or not any(self.refs[i].paths for i in vanished):
            return {}
        data = _read_small_file(os.path.join(self.proc, "self/mountinfo"))
        if data is None:
            return {}
        alive: Dict[int, str] = {}
        for mount in parse_nsfs_mounts(data.decode("utf-8", "surrogateescape")):
            if mount.inode in vanished:
                alive.setdefault(mount.inode, mount.path)
        return alive


def _is_socket(st: os.stat_result) -> bool:
    return stat_module.S_ISSOCK(st.st_mode)


def _read_small_file(path: str) -> Optional[bytes]:
    """A /proc text file in a few reads, as bytes; None if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
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
            return handle.read().rstrip(b"\n").decode("utf-8", "surrogateescape")
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
    if own_inode == kernel.PROC_NET_INIT_INO:
        return own_inode, "init inode", None
    # Unprivileged, neither is readable. Our own namespace is not the root one just because we
    # cannot see another: inside a container that would mark the container's namespace "root".
    return None, "unknown", "cannot tell which namespace is the root one: PID 1 and kthreadd are not readable"


def discover(
    *,
    proc: str = "/proc",
    netns_dirs: Sequence[str] = DEFAULT_NETNS_DIRS,
    extra_paths: Sequence[str] = (),
    sockets: bool = False,
    tuns: bool = True,
    mount_namespaces: Optional[bool] = None,
    keep_fds: Optional[int] = None,
) -> Discovery:
    """Find every network namespace reachable from here. The caller must ``close()`` the result.

    ``extra_paths`` are namespace files the caller wants included even if no source finds them;
    one that is not a namespace or cannot be read raises ValueError. ``sockets`` looks inside
    every other process's sockets (off by default: it re-tags them, see ``read_sockets``).
    ``tuns`` reads the namespace of open tun/tap files. ``mount_namespaces`` reads bind mounts
    that only other mount namespaces have: True all of them, False none, None (the default) until
    ``MOUNTINFO_BYTES_AUTO`` bytes of their mountinfo were read (about 20 ms). At most ``keep_fds``
    namespace fds stay open in the result (own and root first, then those only an fd reaches);
    every other namespace found was still opened and checked, and ``reopen`` opens it again. None: what the current soft
    RLIMIT_NOFILE leaves (``default_keep_fds``); the limit itself is the caller's business.
    """
    if keep_fds is None:
        keep_fds = default_keep_fds()
    own_stat = os.stat(f"{proc}/self/ns/net")
    own_inode = own_stat.st_ino
    nsfs_dev = own_stat.st_dev
    collector = _Collector(proc, nsfs_dev, fd_room=max(0, keep_fds))
    collector.at(own_inode).extra_openers.append(f"{proc}/self/ns/net")
    root_inode, root_source, root_warning = find_root(proc, own_inode)
    if root_inode is not None and root_source in _ROOT_PIDS:
        collector.at(root_inode).extra_openers.append(f"{proc}/{_ROOT_PIDS[root_source]}/ns/net")
    # The own and root namespaces are opened before anything else can use up the fd budget.
    collector.open_all(only=(own_inode, root_inode))
    collector.evictable.clear()  # the own and root fds are never given up
    own_mount_ns: Optional[str] = None
    if mount_namespaces is not False:
        try:
            own_mount_ns = os.readlink(f"{proc}/self/ns/mnt")
        except OSError:
            own_mount_ns = None
    try:
        for path in extra_paths:
            try:
                collector.add_path(path, nsfs_dev)
            except OSError as error:
                raise ValueError(f"cannot use {path}: {error.strerror}") from None
        mounts = collector.own_nsfs_mounts()
        mounted = {mount.path: mount.inode for mount in mounts if not mount.covered}
        dirs_read = collector.read_netns_dirs(netns_dirs, nsfs_dev, mounted)
        dirs_read.update(os.path.realpath(d) for d in netns_dirs)
        dirs_read.update(netns_dirs)
        collector.read_mountinfo(dirs_read, mounts)
        collector.read_processes(os.getpid(), sockets, want_tuns=tuns, own_mount_ns=own_mount_ns)
        if root_inode is None and kernel.PROC_NET_INIT_INO in collector.refs:
            root_inode, root_source, root_warning = kernel.PROC_NET_INIT_INO, "init inode", None
        if root_warning:
            collector.warnings.append(root_warning)
        collector.account_denied()
        if mount_namespaces is not False:
            collector.read_other_mount_namespaces(None if mount_namespaces else MOUNTINFO_BYTES_AUTO)
        if (collector.tun_files or collector.socket_files) and not collector.pids_are_ours:
            # pidfd_open takes pids of our pid namespace: through another one's /proc it would
            # reach unrelated processes.
            collector.warnings.append(f"tun/tap files and sockets not looked into: {proc} is another pid "
                                      "namespace's")
        else:
            if collector.tun_files:
                collector.read_tuns()
            if collector.socket_files:
                collector.read_sockets()
        errors, vanished, not_net = collector.open_all()
        for inode, path in collector.still_mounted(vanished).items():
            vanished.discard(inode)
            errors[inode] = f"alive but unreachable: its bind mount at {path} does not lead to it (covered?)"
        for inode in collector.dropped_fd_only:
            refs = collector.refs[inode]
            what = "tun/tap file" if refs.tuns else "socket"
            collector.warnings.append(
                f"namespace net:[{inode}] is reached only through a {what} and was dropped: the fd budget "
                f"({keep_fds}) is spent")
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
        if (len(refs.names) == 1 and not (refs.paths or refs.covered or refs.pids or refs.threads or refs.fds
                                           or refs.sockets or refs.tuns or refs.rings or refs.fd_paths
                                           or refs.extra_openers)):
            # Just a /run/netns name, as most are: the same record, built without the generic passes.
            name, path = refs.names[0]
            found.append(FoundNamespace(Namespace(
                NamespaceId(refs.dev or nsfs_dev, inode), None, Holders(names=(name,), paths=(path,)),
                root=inode == root_inode, own=inode == own_inode, error=errors.get(inode),
                userns_uid=refs.userns_uid), refs.fd, ((path, True),)))
            continue
        comm = None
        if not refs.names and not refs.paths and refs.pids and inode != root_inode:
            comm = _comm(proc, refs.pids[0])
        holders = Holders(
            names=tuple(name for name, _ in refs.names),
            paths=tuple(path for _, path in refs.names) + tuple(refs.paths) + tuple(refs.covered),
            pids=refs.pids, threads=refs.threads, fds=refs.fds, sockets=refs.sockets, tuns=refs.tuns,
            rings=refs.rings)
        found.append(FoundNamespace(Namespace(
            NamespaceId(refs.dev or nsfs_dev, inode), None, holders, comm=comm, root=inode == root_inode,
            own=inode == own_inode, error=errors.get(inode), userns_uid=refs.userns_uid),
            refs.fd, tuple(collector.candidates(refs))))
    found.sort(key=lambda item: item.inode)
    return Discovery(tuple(found), own_inode, root_inode, root_source, tuple(collector.warnings),
                     tuple(collector.tun_devices))
