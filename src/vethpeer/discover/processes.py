"""Holder source: processes, every thread, and their open namespace fds (and packet rings)."""

from __future__ import annotations

import errno
import os
from typing import Dict, List, Optional

from ..host import kernel
from ..model import Holder
from .collector import Collector, _TaskFiles
from .handle import _DENIED
from .mounts import parse_netns_link
from .procs import _comm, _stat_inode


def read_processes(c: Collector, own_pid: int, want_sockets: bool, *, want_tuns: bool = True,
                   own_mount_ns: Optional[str] = None) -> None:
    proc = c.proc
    readlink = os.readlink
    try:
        pids = sorted(int(entry) for entry in os.listdir(proc) if entry.isdigit())
    except OSError as error:
        c.warnings.append(f"cannot list {proc}: {error.strerror}")
        return
    for pid in pids:
        base = f"{proc}/{pid}"
        leader_gone = False
        inode: Optional[int] = None
        try:
            inode = parse_netns_link(readlink(f"{base}/ns/net"))
        except OSError as error:
            if error.errno in _DENIED:
                c.denied_pids.append(pid)
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
            c.at(inode).pids.append(pid)
            c.process_netns[pid] = inode
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
                    c.at(tinode).add("threads", Holder(pid, tid), f"{tbase}/ns/net", check=False)
                    if first_live is None:
                        first_live = _TaskFiles(tid, tbase, pid)
                        c.process_netns[pid] = tinode
                        mount_base = tbase
                        tables.append(first_live)
                        continue
                elif tinode != inode:
                    c.at(tinode).add("threads", Holder(pid, tid), f"{tbase}/ns/net", check=False)
                if own:
                    continue  # our own fds are the scan's, not the host's
                # A thread that called unshare(CLONE_FILES) has an fd table of its own (which
                # threads it starts later share).
                reference = tables[0] if tables else _TaskFiles(pid, base, pid)
                if not _same_files(c, reference, tbase, tid) and not any(
                        _same_files(c, other, tbase, tid) for other in tables[1:]):
                    tables.append(_TaskFiles(tid, tbase, pid))
        if own_mount_ns is not None:
            try:
                mount_ns = readlink(f"{mount_base}/ns/mnt")
            except OSError:
                mount_ns = own_mount_ns
            if mount_ns != own_mount_ns and mount_ns not in c.mount_namespaces:
                c.mount_namespaces[mount_ns] = mount_base
        for table in tables:
            _read_fds(c, table, want_sockets, want_tuns)


def _same_files(c: Collector, table: _TaskFiles, tbase: str, tid: int) -> bool:
    """Whether task ``tid`` shares ``table``'s fd table."""
    if c.pids_are_ours:
        shared = kernel.shares_files(table.holder, tid)
        if shared is not None:
            return shared
    # No kcmp here, or /proc is another pid namespace's (its pids are not ours to kcmp): a
    # table whose fd numbers differ is another table. One listing more per thread.
    try:
        return sorted(os.listdir(f"{table.base}/fd")) == sorted(os.listdir(f"{tbase}/fd"))
    except OSError:
        return True


def _read_fds(c: Collector, table: _TaskFiles, want_sockets: bool, want_tuns: bool) -> None:
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
                _add_fd(c, finode, Holder(table.holder, int(fd_name)), path)
        elif target.startswith("/"):
            # A namespace file opened through a bind mount reads back as that path (or as "/"
            # once the mount is gone), not as net:[...]; a tun file reads back as whatever
            # path it was opened by. Only stat tells either.
            try:
                st = os.stat(path)
            except OSError:
                continue
            if st.st_dev == c.nsfs_dev:
                _add_fd(c, st.st_ino, Holder(table.holder, int(fd_name)), path)
            elif want_tuns and kernel.is_tun(st):
                c.tun_files.append((table, int(fd_name)))
        elif target == "anon_inode:[io_uring]":
            _read_ring(c, table, int(fd_name))
        elif want_sockets and target.startswith("socket:["):
            try:
                sock_inode = int(target[8:-1])
            except ValueError:
                continue
            c.socket_files.setdefault(sock_inode, []).append((table, int(fd_name)))


def _read_ring(c: Collector, table: _TaskFiles, fd: int) -> None:
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
            if inode is not None and c.process_netns.get(table.process) != inode:
                c.at(inode).add("rings", Holder(table.holder, fd))


def _add_fd(c: Collector, inode: int, holder: Holder, path: str) -> None:
    c.at(inode).add("fds", holder, path)


def account_denied(c: Collector) -> None:
    """Warn about processes we could not inspect, unless their namespace is known anyway.

    /proc/PID/net/ is readable without ptrace access, and each namespace has its own proc
    entries there: the inode of /proc/PID/net/dev is the same for two processes exactly when
    they share a network namespace (while both live).
    """
    if not c.denied_pids:
        return
    by_entry: Optional[Dict[int, int]] = None
    unknown: List[int] = []
    for pid in c.denied_pids:
        entry = _stat_inode(f"{c.proc}/{pid}/net/dev")
        if entry is None:
            continue  # exited meanwhile
        if by_entry is None:
            by_entry = {}
            for known, held in c.refs.items():
                if held.pids:
                    key = _stat_inode(f"{c.proc}/{held.pids[0]}/net/dev")
                    if key is not None:
                        by_entry.setdefault(key, known)
        inode = by_entry.get(entry)
        if inode is None:
            unknown.append(pid)
            continue
        refs = c.refs[inode]
        refs.pids.append(pid)
        refs.pids.sort()
        refs.unopenable_pids.add(pid)
        c.process_netns[pid] = inode
    if unknown:
        shown = ", ".join(f"{pid} ({_comm(c.proc, pid) or '?'})" for pid in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        c.warnings.append(
            f"could not inspect process{'es' if len(unknown) != 1 else ''} {shown}{more}: permission "
            "denied; a namespace held only by "
            f"{'them' if len(unknown) != 1 else 'it'} would be missed")
