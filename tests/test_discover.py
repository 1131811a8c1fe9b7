"""Namespace discovery on a fake /proc tree: parsing, process/thread/fd holders, and the root namespace.

The fake tree is made of symlinks whose targets are text like "net:[4026532001]", as /proc shows
them; readlink works on such dangling links, which is all the collection code looks at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Optional

import pytest

from vethpeer import snapshot as snapshot_io
from vethpeer.discover import (
    Collector,
    NsfsMount,
    find_root,
    parse_mountinfo,
    parse_netns_link,
    parse_nsfs_mounts,
    processes,
    unescape_mount_path,
)
from vethpeer.model import Holder, Holders, Namespace, NamespaceId
from vethpeer.snapshot import NamespaceRecord, Snapshot

ROOT_NS = 4026531840
BLUE = 4026532001
RED = 4026532002
GREEN = 4026532003
NO_DEV = -1  # an st_dev no real file has: no "/..." fd target can look like an nsfs file


def symlink(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def make_process(proc: Path, pid: int, inode: Optional[int], *, threads: Optional[Mapping[int, int]] = None,
                 fds: Optional[Mapping[int, str]] = None) -> Path:
    """/proc/PID with ns/net, task/TID/ns/net for the main thread and ``threads`` (tid -> inode),
    and fd/N -> target for ``fds``. ``inode`` None leaves out ns/net (a process that vanished)."""
    base = proc / str(pid)
    base.mkdir(parents=True)
    if inode is not None:
        symlink(base / "ns" / "net", f"net:[{inode}]")
        symlink(base / "task" / str(pid) / "ns" / "net", f"net:[{inode}]")
    for tid, tinode in (threads or {}).items():
        symlink(base / "task" / str(tid) / "ns" / "net", f"net:[{tinode}]")
    (base / "fd").mkdir()
    for fd, target in (fds or {}).items():
        symlink(base / "fd" / str(fd), target)
    return base


def collect(proc: Path, own_pid: int = 1, nsfs_dev: int = NO_DEV) -> Collector:
    collector = Collector(proc=str(proc), nsfs_dev=nsfs_dev)
    processes.read_processes(collector, own_pid=own_pid, want_sockets=False)
    return collector


# --- parse_netns_link ------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "inode"), [("net:[4026531840]", 4026531840), ("net:[1]", 1)])
def test_parse_netns_link(target: str, inode: int) -> None:
    assert parse_netns_link(target) == inode


@pytest.mark.parametrize("target", [
    "mnt:[4026531840]", "user:[4026531837]", "socket:[12345]", "net:[]", "net:[abc]", "net:[4026531840",
    "net:4026531840]", "/run/netns/blue", "", "anon_inode:[eventfd]",
])
def test_parse_netns_link_rejects_other_targets(target: str) -> None:
    assert parse_netns_link(target) is None


# --- unescape_mount_path ---------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "path"), [
    ("/run/a\\040b", "/run/a b"),
    ("/run/a\\011b", "/run/a\tb"),
    ("/run/a\\012b", "/run/a\nb"),
    ("/run/a\\134b", "/run/a\\b"),
    ("\\040lead", " lead"),
    ("trail\\040", "trail "),
    ("/x\\040\\011\\012\\134y", "/x \t\n\\y"),
    ("/run/netns/plain", "/run/netns/plain"),
])
def test_unescape_mount_path(field: str, path: str) -> None:
    assert unescape_mount_path(field) == path


@pytest.mark.parametrize("field", ["/a\\04", "/a\\", "/a\\x41b"])
def test_unescape_mount_path_keeps_incomplete_escapes(field: str) -> None:
    assert unescape_mount_path(field) == field


# --- parse_mountinfo -------------------------------------------------------------------------------


def mount_line(mount_id: int, root: str, mount_point: str, fstype: str = "nsfs", source: str = "nsfs",
               optional: str = "shared:5") -> str:
    fields = [str(mount_id), "25", "0:4", root, mount_point, "rw"]
    if optional:
        fields.extend(optional.split(" "))
    fields.extend(["-", fstype, source, "rw"])
    return " ".join(fields)


def test_parse_mountinfo_finds_net_nsfs_mounts_in_order() -> None:
    text = "\n".join([
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
        mount_line(100, f"net:[{BLUE}]", "/run/netns/blue"),
        mount_line(101, f"net:[{RED}]", "/var/lib/other/red", optional=""),
        mount_line(102, f"net:[{GREEN}]", "/run/docker/netns/abc", optional="shared:7 master:3"),
    ])
    assert parse_mountinfo(text) == [
        (BLUE, "/run/netns/blue"), (RED, "/var/lib/other/red"), (GREEN, "/run/docker/netns/abc"),
    ]


def test_parse_mountinfo_ignores_other_namespace_types() -> None:
    text = "\n".join([
        mount_line(100, "mnt:[4026531841]", "/tmp/mntns"),
        mount_line(101, "user:[4026531837]", "/tmp/userns"),
        mount_line(102, f"net:[{BLUE}]", "/run/netns/blue"),
    ])
    assert parse_mountinfo(text) == [(BLUE, "/run/netns/blue")]


def test_parse_mountinfo_ignores_nsfs_as_source_of_another_fstype() -> None:
    text = mount_line(100, f"net:[{BLUE}]", "/weird", fstype="tmpfs", source="nsfs")
    assert parse_mountinfo(text) == []


def test_parse_mountinfo_drops_duplicate_paths() -> None:
    text = "\n".join([
        mount_line(100, f"net:[{BLUE}]", "/run/netns/blue"),
        mount_line(101, f"net:[{BLUE}]", "/run/netns/blue"),
        mount_line(102, f"net:[{RED}]", "/run/netns/blue"),
        mount_line(103, f"net:[{BLUE}]", "/srv/blue-again"),
    ])
    found = parse_mountinfo(text)
    assert [path for _, path in found] == ["/run/netns/blue", "/srv/blue-again"]
    assert found[1] == (BLUE, "/srv/blue-again")


def test_parse_mountinfo_unescapes_mount_points() -> None:
    text = "\n".join([
        mount_line(100, f"net:[{BLUE}]", "/run/my\\040netns"),
        mount_line(101, f"net:[{RED}]", "/run/tab\\011and\\012newline\\134slash"),
    ])
    assert parse_mountinfo(text) == [(BLUE, "/run/my netns"), (RED, "/run/tab\tand\nnewline\\slash")]


def test_parse_mountinfo_mount_point_named_dash() -> None:
    assert parse_mountinfo(mount_line(100, f"net:[{BLUE}]", "-")) == [(BLUE, "-")]


@pytest.mark.parametrize("line", [
    "", "garbage", "1 2 3 net:[5] /x rw - nsfs", "1 2 3 net:[5] /x rw a b c nsfs nsfs",
])
def test_parse_mountinfo_skips_malformed_lines(line: str) -> None:
    assert parse_mountinfo(line) == []


# --- Collector.read_processes ---------------------------------------------------------------------


def test_processes_are_collected_by_namespace(tmp_path: Path) -> None:
    for pid, inode in ((10, BLUE), (9, BLUE), (100, BLUE), (7, RED)):
        make_process(tmp_path, pid, inode)
    collector = collect(tmp_path)
    assert set(collector.refs) == {BLUE, RED}
    assert collector.refs[BLUE].pids == [9, 10, 100]
    assert collector.refs[RED].pids == [7]
    assert collector.warnings == []


def test_thread_in_another_namespace_is_a_thread_holder(tmp_path: Path) -> None:
    make_process(tmp_path, 50, BLUE, threads={51: RED, 52: BLUE})
    collector = collect(tmp_path)
    assert collector.refs[RED].held.get("threads", []) == [Holder(50, 51)]
    assert collector.refs[RED].pids == []
    assert collector.refs[BLUE].held.get("threads", []) == []
    assert collector.refs[BLUE].pids == [50]


def test_fd_on_a_namespace_is_an_fd_holder(tmp_path: Path) -> None:
    make_process(tmp_path, 60, BLUE, fds={0: "/dev/null", 3: f"net:[{GREEN}]", 4: "pipe:[777]",
                                         5: "socket:[888]", 6: "anon_inode:[eventfd]", 7: f"net:[{BLUE}]"})
    collector = collect(tmp_path)
    assert set(collector.refs) == {BLUE, GREEN}
    assert collector.refs[GREEN].held.get("fds", []) == [Holder(60, 3)]
    assert collector.refs[GREEN].pids == []
    assert collector.refs[BLUE].held.get("fds", []) == [Holder(60, 7)]


def test_fd_opened_through_a_bind_mount_is_found_by_stat(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    nsfile = tmp_path / "nsfile"
    nsfile.write_text("")
    st = os.stat(nsfile)
    make_process(proc, 61, BLUE, fds={3: str(nsfile)})
    assert collect(proc, nsfs_dev=st.st_dev).refs[st.st_ino].held.get("fds", []) == [Holder(61, 3)]
    assert st.st_ino not in collect(proc, nsfs_dev=NO_DEV).refs


def test_own_fds_are_not_holders(tmp_path: Path) -> None:
    make_process(tmp_path, 70, BLUE, fds={3: f"net:[{GREEN}]"})
    make_process(tmp_path, 71, BLUE, fds={3: f"net:[{RED}]"})
    collector = collect(tmp_path, own_pid=70)
    assert GREEN not in collector.refs
    assert collector.refs[RED].held.get("fds", []) == [Holder(71, 3)]
    assert collector.refs[BLUE].pids == [70, 71]


def test_non_digit_entries_are_ignored(tmp_path: Path) -> None:
    make_process(tmp_path, 80, BLUE)
    os.symlink("80", tmp_path / "self")
    symlink(tmp_path / "thread-self" / "ns" / "net", f"net:[{RED}]")
    symlink(tmp_path / "1abc" / "ns" / "net", f"net:[{GREEN}]")
    (tmp_path / "sys").mkdir()
    (tmp_path / "uptime").write_text("1.0 2.0\n")
    collector = collect(tmp_path)
    assert set(collector.refs) == {BLUE}
    assert collector.refs[BLUE].pids == [80]


def test_vanished_process_is_skipped(tmp_path: Path) -> None:
    make_process(tmp_path, 90, None, fds={3: f"net:[{GREEN}]"})
    make_process(tmp_path, 91, BLUE)
    collector = collect(tmp_path)
    assert set(collector.refs) == {BLUE}
    assert collector.refs[BLUE].pids == [91]
    assert collector.denied_processes == 0
    assert collector.warnings == []


def test_process_without_fd_or_task_dirs(tmp_path: Path) -> None:
    symlink(tmp_path / "95" / "ns" / "net", f"net:[{BLUE}]")
    collector = collect(tmp_path)
    assert collector.refs[BLUE].pids == [95]
    assert collector.refs[BLUE].held.get("threads", []) == [] and collector.refs[BLUE].held.get("fds", []) == []


def test_non_network_namespace_link_is_ignored(tmp_path: Path) -> None:
    symlink(tmp_path / "96" / "ns" / "net", "mnt:[4026531841]")
    make_process(tmp_path, 97, BLUE)
    assert set(collect(tmp_path).refs) == {BLUE}


def test_missing_proc_is_a_warning(tmp_path: Path) -> None:
    collector = collect(tmp_path / "no-proc")
    assert collector.refs == {}
    assert len(collector.warnings) == 1 and "cannot list" in collector.warnings[0]


# --- find_root -------------------------------------------------------------------------------------

OWN = 4026539999


def write_stat(proc: Path, pid: int, text: str) -> None:
    (proc / str(pid)).mkdir(parents=True, exist_ok=True)
    (proc / str(pid) / "stat").write_text(text)


KTHREADD_STAT = "2 (kthreadd) S 0 0 0 0 -1 2129984"


def kthreadd(proc: Path, inode: Optional[int] = ROOT_NS, stat: str = KTHREADD_STAT) -> None:
    write_stat(proc, 2, stat)
    if inode is not None:
        symlink(proc / "2" / "ns" / "net", f"net:[{inode}]")


def test_find_root_from_pid_1(tmp_path: Path) -> None:
    make_process(tmp_path, 1, ROOT_NS)
    kthreadd(tmp_path, inode=RED)
    assert find_root(str(tmp_path), OWN) == (ROOT_NS, "pid 1", None)


def test_find_root_from_kthreadd_when_pid_1_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    kthreadd(tmp_path)
    assert find_root(str(tmp_path), OWN) == (ROOT_NS, "kthreadd", None)


def test_find_root_does_not_take_the_own_namespace_for_root(tmp_path: Path) -> None:
    """Unprivileged inside a container, neither PID 1 nor kthreadd is readable: the own namespace
    is not the root one for that (it used to be reported "root": true)."""
    inode, source, warning = find_root(str(tmp_path), OWN)
    assert (inode, source) == (None, "unknown")
    assert warning and "PID 1" in warning


def test_find_root_knows_the_fixed_init_inode(tmp_path: Path) -> None:
    from vethpeer.host.kernel import PROC_NET_INIT_INO

    assert find_root(str(tmp_path), PROC_NET_INIT_INO) == (PROC_NET_INIT_INO, "init inode", None)


@pytest.mark.parametrize("stat", [
    "2 (kthreadd) S 1 0 0 0 -1 2129984",  # a parent: not the kernel's kthreadd
    "2 (kthreadx) S 0 0 0 0 -1 2129984",
    "2 (kthreadd) S 0 (x) S 1 0 0",  # comm "kthreadd) S 0 (x" pretending
    "2 (kthreadd)",
    "",
])
def test_find_root_does_not_trust_an_impostor_pid_2(tmp_path: Path, stat: str) -> None:
    kthreadd(tmp_path, stat=stat)
    inode, source, warning = find_root(str(tmp_path), OWN)
    assert (inode, source) == (None, "unknown")
    assert warning


def test_find_root_kthreadd_without_readable_namespace_falls_back(tmp_path: Path) -> None:
    kthreadd(tmp_path, inode=None)
    inode, source, warning = find_root(str(tmp_path), OWN)
    assert (inode, source) == (None, "unknown")
    assert warning


def test_namespace_that_vanishes_before_it_is_opened_is_a_warning(tmp_path: Path) -> None:
    """A process seen by readlink is gone when its namespace is opened: a warning, not a crash."""
    from vethpeer.discover import discover

    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "self").symlink_to("/proc/self")  # the real own namespace, so discovery can start
    (proc / "4242" / "ns").mkdir(parents=True)
    (proc / "4242" / "ns" / "net").symlink_to("net:[4026599999]")  # dangling: the process exited
    netns_dir = tmp_path / "netns"
    netns_dir.mkdir()
    found = discover(proc=str(proc), netns_dirs=[str(netns_dir)], sockets=False)
    try:
        assert 4026599999 not in {ns.inode for ns in found.namespaces}
        assert any("4026599999" in warning and "vanished" in warning for warning in found.warnings)
        assert found.own_inode in {ns.inode for ns in found.namespaces}
    finally:
        found.close()


# --- covered bind mounts ---------------------------------------------------------------------------

ROOT_LINE = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw"


def test_nsfs_mount_stacked_over_is_covered() -> None:
    text = "\n".join([
        ROOT_LINE,
        f"100 22 0:4 net:[{BLUE}] /srv/ns rw - nsfs nsfs rw",
        f"101 100 0:4 net:[{RED}] /srv/ns rw - nsfs nsfs rw",
    ])
    assert parse_nsfs_mounts(text) == [NsfsMount(BLUE, "/srv/ns", True), NsfsMount(RED, "/srv/ns", False)]
    assert parse_mountinfo(text) == [(RED, "/srv/ns")]


def test_nsfs_mount_under_a_later_mount_on_a_directory_above_is_covered() -> None:
    text = "\n".join([
        ROOT_LINE,
        f"100 22 0:4 net:[{BLUE}] /srv/x/ns rw - nsfs nsfs rw",
        "101 22 0:50 / /srv rw - tmpfs none rw",
    ])
    assert parse_nsfs_mounts(text) == [NsfsMount(BLUE, "/srv/x/ns", True)]
    assert parse_mountinfo(text) == []


def test_nsfs_mount_inside_a_mount_is_not_covered_by_it() -> None:
    text = "\n".join([
        ROOT_LINE,
        "101 22 0:50 / /srv rw - tmpfs none rw",
        f"100 101 0:4 net:[{BLUE}] /srv/x/ns rw - nsfs nsfs rw",
        "102 22 0:51 / /other rw - tmpfs none rw",
        "103 22 0:52 / /srv2 rw - tmpfs none rw",
    ])
    assert parse_nsfs_mounts(text) == [NsfsMount(BLUE, "/srv/x/ns", False)]


# --- processes whose main thread exited, threads with their own fd table ---------------------------


def test_threads_of_a_process_whose_main_thread_exited(tmp_path: Path) -> None:
    """The leader is a zombie: no ns/net, no fd table; its threads still have both."""
    base = make_process(tmp_path, 40, None, threads={41: RED, 42: BLUE})
    (base / "task" / "40").mkdir(parents=True)  # the zombie leader's task dir, without ns
    symlink(base / "task" / "41" / "fd" / "7", f"net:[{GREEN}]")
    collector = collect(tmp_path)
    assert collector.refs[RED].held.get("threads", []) == [Holder(40, 41)]
    assert collector.refs[BLUE].held.get("threads", []) == [Holder(40, 42)]
    assert collector.refs[GREEN].held.get("fds", []) == [Holder(41, 7)]
    assert collector.refs[GREEN].openers["fds"] == [(f"{tmp_path}/40/task/41/fd/7", True)]
    assert collector.process_netns[40] == RED


def test_fd_in_a_threads_private_fd_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vethpeer.host import kernel

    base = make_process(tmp_path, 50, BLUE, threads={51: BLUE, 52: BLUE}, fds={3: f"net:[{RED}]"})
    symlink(base / "task" / "51" / "fd" / "3", f"net:[{RED}]")  # shared with the leader
    symlink(base / "task" / "52" / "fd" / "4", f"net:[{GREEN}]")  # its own table
    symlink(base / "task" / "53" / "ns" / "net", f"net:[{BLUE}]")
    symlink(base / "task" / "53" / "fd" / "4", f"net:[{GREEN}]")  # started by 52: shares its table
    private = {52, 53}
    monkeypatch.setattr(kernel, "shares_files", lambda a, b: (a in private) == (b in private))
    collector = Collector(proc=str(tmp_path), nsfs_dev=NO_DEV)
    collector.pids_are_ours = True
    processes.read_processes(collector, own_pid=1, want_sockets=False)
    assert collector.refs[RED].held.get("fds", []) == [Holder(50, 3)]
    assert collector.refs[GREEN].held.get("fds", []) == [Holder(52, 4)]


def test_private_fd_table_without_kcmp_is_told_by_its_fd_numbers(tmp_path: Path) -> None:
    """On a /proc of another pid namespace (or without kcmp), differing fd numbers tell."""
    base = make_process(tmp_path, 50, BLUE, threads={51: BLUE, 52: BLUE}, fds={3: f"net:[{RED}]"})
    symlink(base / "task" / "51" / "fd" / "3", f"net:[{RED}]")
    symlink(base / "task" / "52" / "fd" / "4", f"net:[{GREEN}]")
    collector = collect(tmp_path)
    assert not collector.pids_are_ours
    assert collector.refs[RED].held.get("fds", []) == [Holder(50, 3)]
    assert collector.refs[GREEN].held.get("fds", []) == [Holder(52, 4)]


def test_tun_files_are_recognised_by_device_number_not_path() -> None:
    import stat

    from vethpeer.host.kernel import is_tun

    def fake(mode: int, major: int, minor: int) -> os.stat_result:
        return _stat(mode, os.makedev(major, minor))

    assert is_tun(fake(stat.S_IFCHR | 0o600, 10, 200))
    assert not is_tun(fake(stat.S_IFCHR | 0o600, 10, 201))
    assert not is_tun(fake(stat.S_IFREG | 0o600, 10, 200))


def _stat(mode: int, rdev: int) -> os.stat_result:
    import types

    return types.SimpleNamespace(st_mode=mode, st_rdev=rdev)  # type: ignore[return-value]


# --- processes we may not inspect ------------------------------------------------------------------


def test_denied_process_in_a_known_namespace_is_no_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/proc/PID/net/dev has one inode per namespace: a denied process matching a known one is listed,
    one matching none is named in a warning (pid and comm)."""
    make_process(tmp_path, 5, BLUE)
    for pid in (1, 9):
        (tmp_path / str(pid) / "ns").mkdir(parents=True)
        (tmp_path / str(pid) / "comm").write_text("secret\n" if pid == 9 else "init\n")
    (tmp_path / "5" / "net").mkdir()
    (tmp_path / "5" / "net" / "dev").write_text("")
    (tmp_path / "1" / "net").mkdir()
    os.link(tmp_path / "5" / "net" / "dev", tmp_path / "1" / "net" / "dev")
    (tmp_path / "9" / "net").mkdir()
    (tmp_path / "9" / "net" / "dev").write_text("")
    real_readlink = os.readlink

    def readlink(path: str) -> str:
        if path in (f"{tmp_path}/1/ns/net", f"{tmp_path}/9/ns/net"):
            raise PermissionError(13, "Permission denied")
        return real_readlink(path)

    monkeypatch.setattr(os, "readlink", readlink)
    collector = collect(tmp_path)
    processes.account_denied(collector)
    assert collector.refs[BLUE].pids == [1, 5]
    assert f"{tmp_path}/1/ns/net" not in dict(collector.candidates(collector.refs[BLUE]))
    [warning] = collector.warnings
    assert "9 (secret)" in warning and "1 (" not in warning


# --- FIFOs and other files in /run/netns -----------------------------------------------------------


def test_fifo_in_a_netns_dir_is_not_opened(tmp_path: Path) -> None:
    from vethpeer.discover import discover

    netns_dir = tmp_path / "netns"
    netns_dir.mkdir()
    os.mkfifo(netns_dir / "fifo")
    (netns_dir / "stale").write_text("")
    found = discover(netns_dirs=[str(netns_dir)], mount_namespaces=False)
    try:
        assert any("fifo is not a namespace file" in warning for warning in found.warnings)
        assert any("stale is a stale entry" in warning for warning in found.warnings)
    finally:
        found.close()


# --- the fd budget, openers and reopen -------------------------------------------------------------


def test_keep_fds_zero_verifies_but_keeps_nothing() -> None:
    from vethpeer.discover import discover, reopen

    found = discover(keep_fds=0, mount_namespaces=False)
    try:
        own = next(ns for ns in found.namespaces if ns.inode == found.own_inode)
        assert all(ns.fd is None for ns in found.namespaces)
        assert own.error is None and own.openers
        fd = reopen(own)
        try:
            assert os.fstat(fd).st_ino == own.inode
        finally:
            os.close(fd)
    finally:
        found.close()


def test_reopen_checks_the_inode_and_says_why_it_failed() -> None:
    import errno

    from vethpeer.discover import FoundNamespace, reopen

    own = os.stat("/proc/self/ns/net")
    good = FoundNamespace(Namespace(NamespaceId(own.st_dev, own.st_ino), None, Holders()), None,
                          (("/nonexistent/ns", True), ("/proc/self/ns/net", False)))
    fd = reopen(good)
    try:
        assert os.fstat(fd).st_ino == own.st_ino
    finally:
        os.close(fd)
    elsewhere = good._replace(namespace=good.namespace._replace(id=NamespaceId(own.st_dev, own.st_ino + 1)))
    with pytest.raises(OSError) as failure:
        reopen(elsewhere)
    assert failure.value.errno == errno.ENOENT


def test_budget_gives_fd_only_namespaces_a_durable_ones_slot_but_never_own_or_roots() -> None:
    collector = Collector(proc="/proc", nsfs_dev=os.stat("/proc/self/ns/net").st_dev, fd_room=2)
    own, named, socket_only, second_socket_only = (collector.at(i) for i in (1, 2, 3, 4))
    own.extra_openers.append("/proc/self/ns/net")
    named.names.append(("blue", "/run/netns/blue"))
    socket_only.add("sockets", Holder(7, 3))
    second_socket_only.add("sockets", Holder(7, 4))

    def new_fd() -> int:
        return os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    try:
        assert collector.keep(1, own, new_fd(), 4)
        collector.evictable.clear()  # as discover() does for the own and root namespaces
        assert collector.keep(2, named, new_fd(), 4)
        assert collector.keep(3, socket_only, new_fd(), 4)  # takes the named one's slot
        assert named.fd is None and socket_only.fd is not None and own.fd is not None
        assert not collector.keep(4, second_socket_only, new_fd(), 4)  # nothing left to give up
        assert collector.dropped_fd_only == [4]
    finally:
        for refs in collector.refs.values():
            if refs.fd is not None:
                os.close(refs.fd)


def test_tun_holders_survive_a_snapshot_round_trip_and_old_snapshots_load() -> None:
    record = NamespaceRecord(Namespace(NamespaceId(4, BLUE), None, Holders(tuns=(Holder(7, 9),))), ())
    text = snapshot_io.dumps(Snapshot((record,), (), (), (), "pid 1", ()))
    assert snapshot_io.loads(text).namespaces[0].namespace.tuns == (Holder(7, 9),)
    data = json.loads(text)
    del data["namespaces"][0]["tuns"]
    assert snapshot_io.loads(json.dumps(data)).namespaces[0].namespace.tuns == ()


def test_dropped_socket_only_namespace_says_why_it_cannot_be_read() -> None:
    collector = Collector(proc="/proc", nsfs_dev=os.stat("/proc/self/ns/net").st_dev, fd_room=0)
    refs = collector.at(5)
    refs.add("sockets", Holder(7, 3))
    assert not collector.keep(5, refs, os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC), 4)
    errors, vanished, _ = collector.open_all()
    assert not vanished
    assert errors[5] is not None and "only a socket reaches it" in errors[5]


def test_nsfs_line_pattern_finds_only_network_namespace_mounts() -> None:
    from vethpeer.discover.mounts import _NSFS_NET_LINE

    text = "\n".join([
        ROOT_LINE,
        f"100 22 0:4 net:[{BLUE}] /run/netns/a\\040b rw shared:5 - nsfs nsfs rw",
        "101 22 0:4 mnt:[4026531841] /tmp/m rw - nsfs nsfs rw",
        f"102 22 0:4 net:[{RED}] /x rw - tmpfs nsfs rw",
        f"103 22 0:4 net:[{GREEN}] /y rw master:1 shared:2 - nsfs nsfs rw",
    ]).encode()
    assert [int(i) for i in _NSFS_NET_LINE.findall(text)] == [BLUE, GREEN]


@pytest.mark.parametrize("kind", ["pids", "threads", "fds", "sockets", "tuns", "rings"])
@pytest.mark.parametrize("pid", [2 ** 70, 0, -1])
def test_every_process_holder_kind_is_range_checked_on_load(kind: str, pid: int) -> None:
    # Each kind once had its own field, and the range check named them one by one: a kind left out
    # (tuns were once) loaded a pid no kernel gives. The check now walks every kind the record has.
    item = pid if kind == "pids" else Holder(pid, 3)
    record = NamespaceRecord(Namespace(NamespaceId(4, BLUE), None, Holders({kind: (item,)})), ())
    text = snapshot_io.dumps(Snapshot((record,), (), (), (), "pid 1", ()))
    with pytest.raises(ValueError, match="out of range"):
        snapshot_io.loads(text)
    if kind != "pids":
        fd = NamespaceRecord(Namespace(NamespaceId(4, BLUE), None, Holders({kind: (Holder(7, 2 ** 40),)})), ())
        with pytest.raises(ValueError, match="out of range"):
            snapshot_io.loads(snapshot_io.dumps(Snapshot((fd,), (), (), (), "pid 1", ())))


def test_holders_is_one_immutable_mapping_of_every_kind() -> None:
    holders = Holders(names=("a",), tuns=(Holder(7, 9),), fds=())
    assert list(holders) == ["names", "tuns"] and len(holders) == 2
    assert "tuns" in holders and "fds" not in holders
    assert holders["fds"] == () and holders["tuns"] == (Holder(7, 9),)
    with pytest.raises(KeyError):
        holders["nope"]
    with pytest.raises(TypeError, match="unknown holder kinds: nope"):
        Holders(nope=(1,))
    # Equal whatever order the kinds were given in, and usable as a key (records stay hashable).
    assert Holders(tuns=(Holder(7, 9),), names=("a",)) == holders
    assert len({holders, Holders({"names": ["a"], "tuns": [Holder(7, 9)]})}) == 1
    assert holders.replace(tuns=()) == Holders(names=("a",))
    assert Holders(pids=(5,), threads=(Holder(6, 60),), rings=(Holder(5, 8),)).pids() == (5, 6)
    ns = Namespace(NamespaceId(4, BLUE), None, Holders(pids=(5,), fds=(Holder(6, 4),), rings=(Holder(8, 1),)))
    assert (ns.pids, ns.fds, ns.holder_pids, ns.inode) == ((5,), (Holder(6, 4),), (6, 8), BLUE)
    hash(ns)
    # Discovery's unchecked constructor makes the very same thing.
    fast = Holders.of_items((("names", ("a",)), ("paths", ("/run/netns/a",))))
    slow = Holders(paths=("/run/netns/a",), names=("a",))
    assert type(fast) is Holders and fast == slow and hash(fast) == hash(slow) and list(fast) == list(slow)
    assert fast["pids"] == () and fast.replace(pids=(3,)) == slow.replace(pids=(3,))
    with pytest.raises(TypeError):
        fast["pids"] = (1,)


@pytest.mark.parametrize(("kind", "label"), [
    ("threads", "pid 7 tid 9"), ("fds", "pid 7 fd 9"), ("sockets", "pid 7 socket fd 9"),
    ("tuns", "pid 7 tun fd 9"), ("rings", "pid 7 io_uring fd 9")])
def test_a_namespace_held_one_way_is_labelled_by_that_holder(kind: str, label: str) -> None:
    assert Namespace(NamespaceId(4, BLUE), None, Holders({kind: (Holder(7, 9),)})).label == label


def test_every_holder_kind_has_a_source_and_every_source_finds_known_kinds() -> None:
    """The tables hold together: a holder kind no source finds, or a source that finds a kind the
    model does not know, fails here."""
    from vethpeer.discover import SOURCES
    from vethpeer.holding import HOLDERS
    from vethpeer.model import HOLDER_KINDS

    found = {kind for source in SOURCES for kind in source.kinds}
    assert found == set(HOLDER_KINDS) == {kind.name for kind in HOLDERS}
    assert all(kind.reach in ("path", "copy", "none") for kind in HOLDERS)
    assert all(kind.snapshot in ("always", "written", "held") for kind in HOLDERS)
    # Which sources are read, and in what order, as the options say.
    from vethpeer.discover.sources import Options

    options = Options((), (), sockets=False, tuns=True, mount_namespaces=False, own_mount_ns=None)
    assert [s.name for s in SOURCES if s.wanted(options)] == [
        "the paths given", "names and bind mounts", "processes, threads and their fds", "tun/tap files"]
    everything = options._replace(sockets=True, mount_namespaces=None)
    assert [s.name for s in SOURCES if s.wanted(everything)][-3:] == [
        "other mount namespaces' bind mounts", "tun/tap files", "sockets"]
