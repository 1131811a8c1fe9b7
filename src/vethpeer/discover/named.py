"""Holder source: names (/run/netns and the like) and nsfs bind mounts, ours and other mount namespaces'."""

from __future__ import annotations

import os
import stat as stat_module
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from ..host import ops
from .collector import Collector
from .handle import _OPEN_FLAGS, open_namespace_file
from .mounts import _NSFS_NET_LINE, NsfsMount, parse_nsfs_mounts
from .procs import _read_small_file


def read_netns_dirs(c: Collector, dirs: Sequence[str], nsfs_dev: int,
                    mounted: Optional[Dict[str, int]] = None, wanted: Optional[Set[int]] = None) -> Set[str]:
    """Names in each directory; returns the real paths of the directories that were read.
    ``mounted``: the paths our mount table shows an nsfs mount on (and the inode mounted);
    ``wanted``: only these namespaces are looked for, and a name the mount table shows mounting
    another one is not even opened."""
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
            c.warnings.append(f"cannot list {directory}: {error.strerror}")
            continue
        done.add(real)
        prefix = os.path.join(directory, "")
        for name in entries:
            path = prefix + name
            if wanted is not None and mounted is not None and path in mounted and mounted[path] not in wanted:
                continue  # the mount table says which namespace it is: not one asked about
            _read_name(c, name, path, nsfs_dev, mounted is not None and path in mounted)
    return done


def _read_name(c: Collector, name: str, path: str, nsfs_dev: int, nsfs_mount: bool = False) -> None:
    """One /run/netns entry, opened right away when it is an nsfs file. What the mount table
    shows an nsfs mount on is opened straight away (fstat still says what was opened);
    anything else is looked at first, since opening a FIFO would hang and opening a device
    could act on it (measured: the look costs 1.9 ms per 1000 names)."""
    st = None if nsfs_mount else _look(c, path, nsfs_dev)
    if st is None and not nsfs_mount:
        return
    try:
        # O_NOFOLLOW: `ip netns` makes mount points, never links; one would lead anywhere.
        fd = open_namespace_file(path, _OPEN_FLAGS | os.O_NOFOLLOW)
    except OSError:
        st = st or _look(c, path, nsfs_dev)
        if st is None:
            return
        c.at(st.st_ino).names.append((name, path))  # not allowed to open it: still worth naming
        return
    try:
        st = os.fstat(fd)
        if st.st_dev != nsfs_dev:
            c.warnings.append(f"{path} is a stale entry: no namespace is mounted on it")
            return
        if not ops.is_net_namespace(fd):
            c.warnings.append(f"{path} is not a network namespace")
            return
        refs = c.at(st.st_ino)
        refs.names.append((name, path))
        if refs.fd is None:
            c.keep(st.st_ino, refs, fd, st.st_dev)
            fd = -1
    finally:
        if fd >= 0:
            os.close(fd)


def _look(c: Collector, path: str, nsfs_dev: int) -> Optional[os.stat_result]:
    """lstat() an entry before anything opens it; None (with a warning) unless it is nsfs."""
    try:
        st = os.lstat(path)
    except OSError as error:
        c.warnings.append(f"cannot read {path}: {error.strerror}")
        return None
    if st.st_dev != nsfs_dev:
        _not_a_namespace(c, path, st)
        return None
    return st


def _not_a_namespace(c: Collector, path: str, st: os.stat_result) -> None:
    if stat_module.S_ISREG(st.st_mode):
        # An empty file left behind when the bind mount went away (or never came): setns
        # on it fails with EINVAL, which is what `ip netns exec` then prints.
        c.warnings.append(f"{path} is a stale entry: no namespace is mounted on it")
    else:
        # Never opened: a FIFO would block open(), a device could act on it.
        c.warnings.append(f"{path} is not a namespace file")


def own_nsfs_mounts(c: Collector, read: Optional[Callable[[], str]] = None) -> List[NsfsMount]:
    """The nsfs mounts our own mount table lists (as ``read`` gives it, if read already)."""
    path = os.path.join(c.proc, "self/mountinfo")
    try:
        if read is not None:
            text = read()
        else:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                text = handle.read()
    except OSError as error:
        c.warnings.append(f"cannot read {path}: {error.strerror}")
        return []
    return parse_nsfs_mounts(text)


def read_mountinfo(c: Collector, netns_dirs: Set[str], mounts: Optional[List[NsfsMount]] = None) -> None:
    for mount in own_nsfs_mounts(c) if mounts is None else mounts:
        if (mount.path.rpartition("/")[0] or "/") in netns_dirs and not mount.covered:
            continue  # already known by its name
        refs = c.at(mount.inode)
        if mount.covered:
            if mount.path not in refs.covered:
                refs.covered.append(mount.path)
        elif mount.path not in refs.paths:
            refs.paths.append(mount.path)


def read_other_mount_namespaces(c: Collector, byte_budget: Optional[int] = None) -> None:
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
    mounted_here = {inode for inode, refs in c.refs.items() if refs.names or refs.paths}
    spent = 0
    bases = list(c.mount_namespaces.values())
    for done, base in enumerate(bases):
        if byte_budget is not None and spent > byte_budget:
            c.warnings.append(
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
            refs = c.at(mount.inode)
            if mount.covered:
                refs.covered.append(full)
            else:
                refs.paths.append(full)
