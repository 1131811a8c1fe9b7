"""Root never opens what another user (or the tree behind --root) chose (issue 23).

Every case on the real kernel: a FIFO with a blocked writer where a state file should be, a
symbolic link to a device node the test makes (``mknod`` of /dev/null's numbers; opened or not is
what inotify says), a private ``--root`` tree with a link out of it and a link meant inside it,
each resolved with openat2 and with the component-by-component walk.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import select
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

import vethpeer
from lab import Lab, run_cli, user_tree
from vethpeer.host import safefile

pytestmark = pytest.mark.live

SRC = str(Path(__file__).resolve().parent.parent / "src")
CONTAINER_ID = "c0ffee" + "0" * 58
STORED_ID = "5ca1ab1e" + "0" * 56
IN_OPEN = 0x20


@pytest.fixture(params=["openat2", "walk"])
def resolution(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both ways of resolving inside a root: the kernel's openat2, and the walk for kernels
    without it."""
    monkeypatch.setattr(safefile, "use_openat2", request.param == "openat2")
    yield request.param


def docker_config(name: str, sandbox_key: str) -> str:
    return json.dumps({"State": {"Running": True, "Pid": 0}, "Name": f"/{name}",
                       "NetworkSettings": {"SandboxKey": sandbox_key}, "Config": {"Labels": {}}})


def owners_of(topology: vethpeer.Topology, name: str) -> List[str]:
    (ns,) = [ns for ns in topology.namespaces if name in ns.names or f"/run/netns/{name}" in ns.paths]
    return [f"{o.kind}: {o.name}" for o in ns.owners]


class Inotify:
    """IN_OPEN events on one file: whether anything opened it."""

    def __init__(self, path: str) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0
        assert self.libc.inotify_add_watch(self.fd, os.fsencode(path), IN_OPEN) >= 0

    def opened(self) -> bool:
        ready, _, _ = select.select([self.fd], [], [], 0.2)
        return bool(ready)

    def close(self) -> None:
        os.close(self.fd)


# --- nothing but a regular file is opened ---------------------------------------------------------


def test_a_fifo_where_a_state_file_should_be_is_never_opened(tmp_path: Path, lab: Lab) -> None:
    """Before: the FIFO was opened (O_NONBLOCK) and its blocked writer woke."""
    root = tmp_path / "host"
    state = root / "var/lib/docker/containers" / CONTAINER_ID
    state.mkdir(parents=True)
    fifo = state / "config.v2.json"
    os.mkfifo(fifo)
    marker = tmp_path / "woke"
    # The writer says it woke the moment its open returns, before it writes anything.
    writer = subprocess.Popen([sys.executable, "-c", "import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); "
                               "open(sys.argv[2], 'w').close()", str(fifo), str(marker)])
    try:
        time.sleep(0.2)
        result = run_cli("--root", str(root), "--proc", "/proc", "-j", "namespaces")
        assert result.returncode == 0, result.stderr
        time.sleep(0.3)
        assert not marker.exists(), "the FIFO was opened: its writer woke"
        warnings = json.loads(result.stdout)["warnings"]
        assert [w for w in warnings if "config.v2.json" in w and "a FIFO, not a regular file" in w], warnings
    finally:
        # Let the writer go: open the FIFO for reading ourselves.
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        writer.wait(timeout=10)
        os.close(fd)


def test_a_symlink_to_a_device_is_never_opened(tmp_path: Path, lab: Lab) -> None:
    """Before: the link was followed and the device opened (a watchdog would have armed)."""
    root = tmp_path / "host"
    state = root / "var/lib/docker/containers" / CONTAINER_ID
    state.mkdir(parents=True)
    device = root / "dev-null-copy"
    os.mknod(device, 0o600 | 0o020000, os.makedev(1, 3))  # /dev/null's numbers: harmless
    (state / "config.v2.json").symlink_to("../../../../../dev-null-copy")
    (state / "hostconfig.json").symlink_to("/dev-null-copy")  # absolute: inside the root
    watch = Inotify(str(device))
    try:
        result = run_cli("--root", str(root), "--proc", "/proc", "-j", "namespaces")
        assert result.returncode == 0, result.stderr
        assert not watch.opened(), "the device node was opened"
        warnings = json.loads(result.stdout)["warnings"]
        assert [w for w in warnings if "a character device, not a regular file" in w], warnings
    finally:
        watch.close()


# --- --root is a root -------------------------------------------------------------------------------


def test_root_does_not_follow_a_link_out_of_it(tmp_path: Path, lab: Lab, resolution: str) -> None:
    """Before: R/var/lib/docker/containers/ID -> /outside/ID named a namespace 'docker: escaped'."""
    name = lab.netns("es")
    outside = tmp_path / "outside" / CONTAINER_ID
    outside.mkdir(parents=True)
    (outside / "config.v2.json").write_text(docker_config("escaped", f"/run/netns/{name}"))
    root = tmp_path / "host"
    containers = root / "var/lib/docker/containers"
    containers.mkdir(parents=True)
    (containers / CONTAINER_ID).symlink_to(outside)  # absolute, to a directory outside R
    # The same file reached inside the root is read: the link is followed, within R.
    inside = root / str(outside).lstrip("/")
    inside.mkdir(parents=True)
    (inside / "config.v2.json").write_text(docker_config("inside", f"/run/netns/{name}"))
    topology = vethpeer.scan(root=str(root), proc="/proc")
    assert owners_of(topology, name) == ["docker: inside"]


def test_root_follows_an_absolute_link_within_it(tmp_path: Path, lab: Lab, resolution: str) -> None:
    """Before: R/var/lib/containers -> /data/containers (state on a data disk) led to the host's
    /data, and the owner was lost."""
    name = lab.netns("dd")
    root = tmp_path / "host"
    storage = root / "data/containers/storage"
    userdata = storage / "overlay-containers" / STORED_ID / "userdata"
    userdata.mkdir(parents=True)
    (storage / "overlay-containers" / "containers.json").write_text(
        json.dumps([{"id": STORED_ID, "names": ["on-data-disk"]}]))
    (userdata / "config.json").write_text(json.dumps({
        "annotations": {"io.container.manager": "libpod"},
        "linux": {"namespaces": [{"type": "network", "path": f"/run/netns/{name}"}]}}))
    (root / "var/lib").mkdir(parents=True)
    (root / "var/lib/containers").symlink_to("/data/containers")
    topology = vethpeer.scan(root=str(root), proc="/proc")
    assert owners_of(topology, name) == ["podman: on-data-disk"]


def test_dotdot_and_magic_links_stay_inside_the_root(tmp_path: Path, resolution: str) -> None:
    root = tmp_path / "host"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("inside\n")
    (root / "up").symlink_to("../../../../../../../../etc/passwd")
    (root / "self").symlink_to("/proc/self/root/etc/passwd")
    assert safefile.read(str(root), "/../../../etc/passwd", 1024) == b"inside\n"
    assert safefile.read(str(root), "/up", 1024) == b"inside\n"
    # /proc/self/root is not there inside this root: nothing, never the real /etc/passwd.
    assert safefile.read(str(root), "/self", 1024) is None


def test_a_loop_of_links_ends(tmp_path: Path, resolution: str) -> None:
    root = tmp_path / "host"
    root.mkdir()
    (root / "a").symlink_to("/b")
    (root / "b").symlink_to("/a")
    found = safefile.read(str(root), "/a", 1024)
    assert found is None or isinstance(found, safefile.Refused)


# --- never a path a process title chose -------------------------------------------------------------

HOLD_FD = """
import os, sys, time
fd = os.open(%r, os.O_RDONLY)
print("ready", flush=True)
time.sleep(120)
"""


def test_a_monitor_title_never_makes_root_open_its_path(tmp_path: Path, lab: Lab) -> None:
    """Before: a process titled '[lxc monitor] /tmp/u/lxc c1' made root read /tmp/u/lxc/c1/config,
    following a link there to a file only root may read."""
    name = lab.netns("lm")
    lxcpath = tmp_path / "u" / "lxc"
    (lxcpath / "c1").mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.write_text("lxc.uts.name = secret\n")
    secret.chmod(0o600)
    (lxcpath / "c1" / "config").symlink_to(secret)
    watch = Inotify(str(secret))
    title = f"[lxc monitor] {lxcpath} c1"
    # `exec -a` gives python3 that argv[0] and no other argument: the script comes on stdin.
    monitor = subprocess.Popen(["bash", "-c", 'exec -a "$0" "$1"', title, sys.executable], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert monitor.stdin is not None and monitor.stdout is not None
        monitor.stdin.write(HOLD_FD % f"/run/netns/{name}")
        monitor.stdin.close()
        assert monitor.stdout.readline().strip() == "ready"
        with open(f"/proc/{monitor.pid}/cmdline", "rb") as handle:
            assert handle.read() == title.encode() + b"\0"
        result = run_cli("-j", "namespaces")
        assert result.returncode == 0, result.stderr
        assert not watch.opened(), "root opened a file through a path a process title chose"
        (ns,) = [ns for ns in json.loads(result.stdout)["namespaces"] if name in ns["names"]]
        assert all(owner.get("utsname") != "secret" for owner in ns["owners"]), ns["owners"]
    finally:
        monitor.kill()
        monitor.wait()
        if monitor.stdout is not None:
            monitor.stdout.close()
        watch.close()


# --- a user's own state: no links followed, only their files, a bounded share of the scan ------------

USER = 4242
USER_PYTHON = "/usr/bin/python3"  # a pyenv under /root is out of the user's reach
MAKE_STORAGE = r"""
import json, os, sys
home, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
storage = os.path.join(home, ".local/share/containers/storage")
for driver in ("overlay", "vfs", "btrfs"):
    directory = os.path.join(storage, driver + "-containers")
    os.makedirs(directory, exist_ok=True)
    entries = [{"id": "%064x" % (i + 1), "names": ["c%d" % i], "metadata": "x" * size}
               for i in range(count)]
    with open(os.path.join(directory, "containers.json"), "w") as handle:
        json.dump(entries, handle)
"""


def as_user(*argv: str) -> None:
    subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups", *argv], check=True,
                   timeout=120)


def test_a_users_link_is_never_followed(open_tmp: Path, lab: Lab) -> None:
    """Before: root followed a link in a user's container storage to a file only root may read."""
    root = user_tree(open_tmp, USER, "u")
    secret = root / "secret.json"
    secret.write_text(json.dumps([{"id": STORED_ID, "names": ["stolen"]}]))
    secret.chmod(0o600)
    directory = root / "home/u/.local/share/containers/storage/overlay-containers"
    as_user("mkdir", "-p", str(directory))
    as_user("ln", "-s", "/secret.json", str(directory / "containers.json"))
    watch = Inotify(str(secret))
    try:
        result = run_cli("--root", str(root), "--proc", "/proc", "-j", "namespaces")
        assert result.returncode == 0, result.stderr
        assert not watch.opened(), "root followed a user's link"
        warnings = json.loads(result.stdout)["warnings"]
        assert [w for w in warnings if "containers.json" in w and f"user {USER} controls" in w], warnings
    finally:
        watch.close()


def test_a_users_huge_state_costs_root_nothing(open_tmp: Path, lab: Lab) -> None:
    """Before: 19 MB containers.json files in three driver directories made every scan take seconds."""
    root = user_tree(open_tmp, USER, "u")
    as_user(USER_PYTHON, "-c", MAKE_STORAGE, str(root / "home/u"), "9000", "2000")
    listing = root / "home/u/.local/share/containers/storage/overlay-containers/containers.json"
    assert listing.stat().st_size > 18_000_000 and listing.stat().st_uid == USER
    result = run_cli("--root", str(root), "--proc", "/proc", "-j", "namespaces")
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    refused = [w for w in warnings if "containers.json" in w and "bytes, more than the" in w]
    assert len(refused) == 3, warnings


def test_a_users_long_state_is_cut_at_its_budget(open_tmp: Path, lab: Lab) -> None:
    """Many small entries, each a look-up: the user's share of the scan ends at its budget, and
    what was read by then is kept. (A stall as long as the budget before the first entry, which a
    loaded CI machine made once, reads nothing: the read is tried again, up to three times.)"""
    from vethpeer.owners import Host, storage
    from vethpeer.owners.base import Scan

    root = user_tree(open_tmp, USER, "u")
    as_user(USER_PYTHON, "-c", MAKE_STORAGE, str(root / "home/u"), "3000", "0")
    for _ in range(3):
        with Host(str(root), "/proc") as host:
            run = Scan([], host)
            started = time.perf_counter()
            found = storage.read_all(run)
            spent = time.perf_counter() - started
            assert len(found) < 3 * 3000, len(found)
            assert [r for r in host.refused if f"user {USER}'s files took more than" in r.reason], host.refused
        if found:
            break
    assert found, "three reads found nothing before the budget ran out"
    print(f"read {len(found)} of {3 * 3000} entries in {spent * 1000:.0f} ms")


def test_root_netns_names_are_read_inside_the_root(tmp_path: Path, lab: Lab, resolution: str) -> None:
    """Before: with R/var/run -> /run, R/var/run/netns was this host's /run/netns, and its names
    were taken for names of the tree behind --root."""
    name = lab.netns("nr")
    root = tmp_path / "host"
    (root / "run/netns").mkdir(parents=True)
    (root / "var").mkdir()
    (root / "var/run").symlink_to("/run")
    topology = vethpeer.scan(root=str(root), proc="/proc")
    (ns,) = [ns for ns in topology.namespaces if f"/run/netns/{name}" in ns.paths]
    assert name not in ns.names


def test_a_link_in_a_netns_directory_is_not_a_name(tmp_path: Path, lab: Lab) -> None:
    """`ip netns` makes mount points; a link there (to another namespace file) names nothing."""
    name = lab.netns("nl")
    holder = lab.holder("unshare")
    link = Path(f"/run/netns/{name}-link")
    link.symlink_to(f"/proc/{holder.pid}/ns/net")
    try:
        topology = vethpeer.scan()
        assert not [ns for ns in topology.namespaces if link.name in ns.names]
        assert [w for w in topology.warnings if str(link) in w], topology.warnings
    finally:
        link.unlink()


# --- what a whole run opens ------------------------------------------------------------------------

_OPEN_LINE = re.compile(r"^\d+ +(open|openat|openat2)\((.*)\) = \d+<(.*)>$")
#: Where vethpeer reads: procfs and sysfs, the netns directories, the runtimes' state (the owner
#: sources' directories) and the few /etc files they name.
TOOL_PLACES = ("/proc", "/sys", "/run/netns", "/var/run/netns", "/run/docker", "/var/lib/docker", "/etc/docker",
               "/run/containerd", "/var/lib/containerd", "/var/lib/containers", "/run/containers", "/etc/containers",
               "/run/user", "/home", "/var/lib/lxc", "/var/lib/lxd", "/var/snap/lxd", "/var/lib/incus",
               "/run/systemd/machines", "/run/libvirt", "/var/log/pods", "/run/openvswitch", "/etc/passwd")
#: What the interpreter and libc open for themselves: Python, its libraries, this source tree, the
#: dynamic loader's cache, locale and time zone data.
INTERPRETER_PLACES = (sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
                      SRC, "/usr/lib", "/lib", "/usr/share/locale", "/usr/share/zoneinfo", "/etc/ld.so.cache",
                      "/etc/locale.alias", "/etc/localtime")


def opened_files(log: Path) -> List[Tuple[str, bool]]:
    """(the path of what each successful open opened, whether it was only an O_PATH) from strace -y."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        match = _OPEN_LINE.match(line.strip())
        if match is None:
            continue
        _call, arguments, path = match.groups()
        if path.startswith(("net:[", "socket:", "pipe:", "anon_inode:")):
            continue
        found.append((path, "O_PATH" in arguments))
    return found


def is_nsfs(path: str) -> bool:
    """A namespace file (a bind mount anywhere): found through the mount table, opened where it is."""
    try:
        return os.stat(path).st_dev == os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return False


@pytest.mark.parametrize("command", [["list"], ["namespaces"], ["show", "lo"], ["graph"],
                                     ["watch", "--timeout", "1.5"]], ids=lambda c: c[0])
def test_a_whole_run_opens_nothing_outside_and_nothing_but_files(tmp_path: Path, lab: Lab, command: List[str]) -> None:
    """Under strace: on this host, and on a --root tree with a FIFO and a link to a device where
    state files should be, every file opened is in a place vethpeer reads (or the interpreter's
    own), and everything opened for real (not O_PATH) is a regular file, a directory or a
    namespace."""
    import shutil

    if shutil.which("strace") is None:
        pytest.skip("needs strace (Debian: strace; .ci/run installs it)")
    root = tmp_path / "host"
    state = root / "var/lib/docker/containers" / CONTAINER_ID
    state.mkdir(parents=True)
    os.mkfifo(state / "config.v2.json")
    os.mknod(root / "dev-null-copy", 0o600 | 0o020000, os.makedev(1, 3))
    (state / "hostconfig.json").symlink_to("/dev-null-copy")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    namespace = lab.netns("st")
    lab.veth(lab.link_name("st"), None, "eth0", namespace)
    for extra, places in (([], TOOL_PLACES), (["--root", str(root), "--proc", "/proc"], (str(root), "/proc", "/sys"))):
        log = tmp_path / "strace.log"
        result = subprocess.run(["strace", "-f", "-qq", "-y", "-e", "trace=open,openat,openat2", "-o", str(log),
                                 sys.executable, "-m", "vethpeer", "-q", *extra, *command],
                                cwd=workdir, env=dict(os.environ, PYTHONPATH=SRC), capture_output=True, timeout=300,
                                check=False)
        assert result.returncode == 0, result.stderr
        opened = opened_files(log)
        assert len(opened) > 20, "strace saw nothing: the check would prove nothing"
        outside = sorted({path for path, _ in opened
                          if not path.startswith((*places, *INTERPRETER_PLACES, str(workdir))) and not is_nsfs(path)})
        assert not outside, f"{' '.join(extra + command)} opened: {outside}"
        for path, only_path in opened:
            if only_path:
                continue
            try:
                mode = os.stat(path).st_mode
            except OSError:
                continue  # gone since (a process that ended)
            assert stat.S_ISREG(mode) or stat.S_ISDIR(mode) or is_nsfs(path), \
                f"{' '.join(extra + command)} opened {path} for real"


def test_a_namespace_opener_never_opens_anything_else(tmp_path: Path, lab: Lab) -> None:
    """The holder sources open /proc/PID/fd/N and bind-mount paths after looking at them; by the
    time they open, the fd number may be reused or the entry replaced. open_namespace_file opens
    O_PATH first and only an nsfs file for real: a FIFO's writer stays asleep, a device unopened."""
    from vethpeer import discover

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    marker = tmp_path / "woke"
    writer = subprocess.Popen([sys.executable, "-c", "import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); "
                               "open(sys.argv[2], 'w').close()", str(fifo), str(marker)])
    device = tmp_path / "dev-null-copy"
    os.mknod(device, 0o600 | 0o020000, os.makedev(1, 3))
    watch = Inotify(str(device))
    held = os.open(device, os.O_PATH)  # a process's fd that now points at a device
    try:
        time.sleep(0.2)
        for path in (str(fifo), str(device), f"/proc/self/fd/{held}"):
            with pytest.raises(OSError):
                discover.open_namespace_file(path)
        time.sleep(0.2)
        assert not marker.exists() and not watch.opened()
        fd = discover.open_namespace_file(f"/run/netns/{lab.netns('of')}")
        os.close(fd)
    finally:
        os.close(held)
        watch.close()
        release = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        writer.wait(timeout=10)
        os.close(release)
