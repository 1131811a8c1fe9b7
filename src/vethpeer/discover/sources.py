"""The holder sources, in the order they are read: ``SOURCES``, one row each.

A row says which holder kinds (``holding.HOLDERS``) the source finds, when it is wanted, and how
it is read into the ``Collector``. Order matters: a later source uses what an earlier one left
(the processes note the tun files, sockets and mount namespaces the later sources read). A new
source is a module in ``discover/`` and its row here; a new holder kind is also a row of
``holding.HOLDERS``, and the source records its holders with ``Refs.add``.
"""

from __future__ import annotations

import os
from typing import Callable, NamedTuple, Optional, Sequence, Set, Tuple

from . import files, named, processes
from .collector import Collector
from .mounts import MOUNTINFO_BYTES_AUTO


class Options(NamedTuple):
    """What the caller of ``discover`` asked for (see there)."""

    extra_paths: Sequence[str]
    netns_dirs: Sequence[str]
    sockets: bool
    tuns: bool
    mount_namespaces: Optional[bool]
    #: Our own mount namespace (``ns/mnt``'s link), when other mount namespaces are searched.
    own_mount_ns: Optional[str]
    #: Only these namespaces (inodes) are wanted: names of others are not opened.
    wanted: Optional[Set[int]] = None
    #: Our mount table as read already (``host.early``), instead of reading it now.
    mountinfo: Optional[Callable[[], str]] = None


class Source(NamedTuple):
    name: str
    #: The holder kinds it finds.
    kinds: Tuple[str, ...]
    read: Callable[[Collector, Options], None]
    wanted: Callable[[Options], bool] = lambda options: True


def _given(c: Collector, options: Options) -> None:
    for path in options.extra_paths:
        try:
            c.add_path(path, c.nsfs_dev)
        except OSError as error:
            raise ValueError(f"cannot use {path}: {error.strerror}") from None


def _named(c: Collector, options: Options) -> None:
    mounts = named.own_nsfs_mounts(c, options.mountinfo)
    mounted = {mount.path: mount.inode for mount in mounts if not mount.covered}
    dirs_read = named.read_netns_dirs(c, options.netns_dirs, c.nsfs_dev, mounted, options.wanted)
    dirs_read.update(os.path.realpath(d) for d in options.netns_dirs)
    dirs_read.update(options.netns_dirs)
    named.read_mountinfo(c, dirs_read, mounts)


def _processes(c: Collector, options: Options) -> None:
    processes.read_processes(c, os.getpid(), options.sockets, want_tuns=options.tuns,
                             own_mount_ns=options.own_mount_ns)
    processes.account_denied(c)


def _other_mounts(c: Collector, options: Options) -> None:
    named.read_other_mount_namespaces(c, None if options.mount_namespaces else MOUNTINFO_BYTES_AUTO)


def _tuns(c: Collector, options: Options) -> None:
    if c.tun_files and files.pids_are_ours(c):
        files.read_tuns(c)


def _sockets(c: Collector, options: Options) -> None:
    if c.socket_files and files.pids_are_ours(c):
        files.read_sockets(c)


SOURCES: Tuple[Source, ...] = (
    Source("the paths given", ("paths",), _given),
    Source("names and bind mounts", ("names", "paths"), _named),
    Source("processes, threads and their fds", ("pids", "threads", "fds", "rings"), _processes),
    Source("other mount namespaces' bind mounts", ("paths",), _other_mounts,
           lambda options: options.mount_namespaces is not False),
    Source("tun/tap files", ("tuns",), _tuns, lambda options: options.tuns),
    Source("sockets", ("sockets",), _sockets, lambda options: options.sockets),
)
