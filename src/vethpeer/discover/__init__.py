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

import os
from typing import Callable, Collection, Dict, Optional, Sequence, Set, Tuple

from ..holding import KIND_OF
from ..host import kernel
from ..host.changes import ChangeWatch
from ..model import Holders, Namespace, NamespaceId
from .collector import Collector, Refs
from .handle import Discovery, FoundNamespace, default_keep_fds, fd_reserve, open_namespace_file, reopen
from .mounts import (
    DEFAULT_NETNS_DIRS,
    MOUNTINFO_BYTES_AUTO,
    NsfsMount,
    netns_dirs,
    parse_mountinfo,
    parse_netns_link,
    parse_nsfs_mounts,
    unescape_mount_path,
)
from .procs import _comm, _is_kthreadd, _readlink_inode, qemu_vm_name
from .sources import SOURCES, Options, Source

__all__ = [
    "DEFAULT_NETNS_DIRS",
    "MOUNTINFO_BYTES_AUTO",
    "SOURCES",
    "ChangeWatch",
    "Collector",
    "Discovery",
    "FoundNamespace",
    "NsfsMount",
    "Source",
    "default_keep_fds",
    "discover",
    "fd_reserve",
    "find_root",
    "netns_dirs",
    "open_namespace_file",
    "parse_mountinfo",
    "parse_netns_link",
    "parse_nsfs_mounts",
    "qemu_vm_name",
    "reopen",
    "unescape_mount_path",
]

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
    only: Optional[Collection[int]] = None,
    mountinfo: Optional[Callable[[], str]] = None,
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
    ``only``: the namespaces (inodes) wanted; the result has these, the own and the root one, with
    everything that holds them, and a /run/netns name the mount table shows mounting another
    namespace is not opened (a question about one namespace need not open thousands).
    ``mountinfo``: our mount table, read already (``host.early``), for a discovery that looks
    for nothing made after the call began.
    """
    if keep_fds is None:
        keep_fds = default_keep_fds()
    own_stat = os.stat(f"{proc}/self/ns/net")
    own_inode = own_stat.st_ino
    nsfs_dev = own_stat.st_dev
    collector = Collector(proc, nsfs_dev, fd_room=max(0, keep_fds))
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
        wanted = None if only is None else {*only, own_inode, *(() if root_inode is None else (root_inode,))}
        options = Options(extra_paths, netns_dirs, sockets, tuns, mount_namespaces, own_mount_ns, wanted, mountinfo)
        root_inode, root_source = _read_sources(collector, (root_inode, root_source, root_warning), options)
        if wanted is not None:
            collector.keep_only({*wanted, *(() if root_inode is None else (root_inode,))})
        errors, vanished, not_net = _open_found(collector, keep_fds)
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
        found.append(_found(collector, inode, refs, errors.get(inode), root_inode, own_inode))
    found.sort(key=lambda item: item.inode)
    return Discovery(tuple(found), own_inode, root_inode, root_source, tuple(collector.warnings),
                     tuple(collector.tun_devices))


def _read_sources(collector: Collector, root: Tuple[Optional[int], str, Optional[str]],
                  options: Options) -> Tuple[Optional[int], str]:
    """Every holder source wanted (``SOURCES``), in order, into ``collector``; returns the root
    namespace and how it was found (the initial namespace's fixed inode may only show up among
    the holders)."""
    for source in SOURCES:
        if source.wanted(options):
            source.read(collector, options)
    root_inode, root_source, root_warning = root
    if root_inode is None and kernel.PROC_NET_INIT_INO in collector.refs:
        root_inode, root_source, root_warning = kernel.PROC_NET_INIT_INO, "init inode", None
    if root_warning:
        collector.warnings.append(root_warning)
    return root_inode, root_source


def _open_found(collector: Collector, keep_fds: int) -> Tuple[Dict[int, Optional[str]], Set[int], Set[int]]:
    """Open every namespace found (``Collector.open_all``): the errors by inode, the ones that
    vanished, the references that were no network namespace."""
    errors, vanished, not_net = collector.open_all()
    for inode, path in collector.still_mounted(vanished).items():
        vanished.discard(inode)
        errors[inode] = f"alive but unreachable: its bind mount at {path} does not lead to it (covered?)"
    for inode in collector.dropped_fd_only:
        way = collector.refs[inode].only_way()
        what = KIND_OF[way[0]].what if way else "an fd"
        collector.warnings.append(
            f"namespace net:[{inode}] is reached only through {what} and was dropped: the fd budget "
            f"({keep_fds}) is spent")
    return errors, vanished, not_net


def _found(collector: Collector, inode: int, refs: Refs, error: Optional[str], root_inode: Optional[int],
           own_inode: int) -> FoundNamespace:
    """The record of one namespace found, with the paths it can be opened by again."""
    ident = NamespaceId(refs.dev or collector.nsfs_dev, inode)
    if len(refs.names) == 1 and not (refs.paths or refs.covered or refs.pids or refs.held or refs.extra_openers):
        # Just a /run/netns name, as most are: the same record, built without the generic passes.
        name, path = refs.names[0]
        holders = Holders.of_items((("names", (name,)), ("paths", (path,))))
        return FoundNamespace(Namespace(ident, None, holders, None, inode == root_inode, inode == own_inode, error,
                                        None, (), refs.userns_uid), refs.fd, ((path, True),))
    comm = None
    if not refs.names and not refs.paths and refs.pids and inode != root_inode:
        comm = _comm(collector.proc, refs.pids[0])
    holders = Holders(
        refs.held, names=tuple(name for name, _ in refs.names),
        paths=tuple(path for _, path in refs.names) + tuple(refs.paths) + tuple(refs.covered), pids=refs.pids)
    return FoundNamespace(Namespace(
        ident, None, holders, comm=comm, root=inode == root_inode, own=inode == own_inode, error=error,
        userns_uid=refs.userns_uid), refs.fd, tuple(collector.candidates(refs)))
