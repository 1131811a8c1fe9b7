"""Watch benchmark: ``vethpeer watch --json --events-only`` on a host of N namespaces while namespaces churn.

What it builds (every name carries a random prefix such as ``vpw3f2a``, made at start):

* bench_scale.py's host: N namespaces ``<prefix>n<i>``, each with an ``eth0`` veth to
  ``<prefix>h<i>`` on the root bridge ``<prefix>br0`` (one bridge per 1000), plus N/10
  namespace-to-namespace pairs. Built by one ``ip -batch -`` before the watch starts.
* the churn: a bridge ``<prefix>cb`` and, ``--rate`` times a second for ``--churn-seconds``, a new
  namespace ``<prefix>c<k>`` with an ``eth0`` veth to ``<prefix>d<k>`` enslaved to ``<prefix>cb``;
  each churn namespace is deleted again ``--lifetime`` seconds after it was made (so after the last
  creation the deletions go on, at the same rate, for ``--lifetime`` seconds). One
  ``ip -force -batch -`` process a second reads the commands from a pipe as they are due, so the
  driver costs no process per change (one for the whole churn would keep every namespace alive: see
  BatchPipe). The churn bridge is separate from ``<prefix>br0`` because a bridge takes at most 1023 ports.

When each change happened is taken from the kernel, not from the driver: a thread reads an rtnetlink
socket subscribed to RTMGRP_LINK in the root namespace (the receive time of ``<prefix>d<k>``'s first
RTM_NEWLINK is when the pair appeared, of its RTM_DELLINK when it vanished), and another reads inotify
on /run/netns (IN_CREATE / IN_DELETE of ``<prefix>c<k>``: the namespace appeared / vanished).

The watcher (``--cmd``, default ``python -m vethpeer watch --json --events-only``, with
``PYTHONPATH=--src`` if given) runs throughout; each line it prints is stamped with the time the bench
read it. The phases: wait for its ``synced`` line; ``--idle-seconds`` idle (CPU measured); the churn;
wait for the kernel to finish tearing the churn namespaces down plus ``--grace`` seconds for the last
events; ``--idle-seconds`` idle again (CPU measured, RSS flatness judged); Ctrl-C to the watcher.

Printed: latency from the kernel change to the line read, per event kind and overall (p50, p95,
max); missed events (a change with no matching event by the end of the grace period); wrong pairs (a
pair-appeared with an end of ours that is not a pair the bench made); events about things the bench
did not change; churn namespaces kept alive after ``ip netns del`` (and who holds them); the
watcher's CPU while idle before and after the churn (utime+stime from /proc/PID/stat, its children
included); its RSS (VmRSS, sampled every second): at start, peak, after the churn, at the end, and
whether the last 20 s are within 5 %; the churn driver's own CPU.

    sudo .venv/bin/python bench/bench_watch.py                      # N=1000, 20/s for 60 s
    sudo .venv/bin/python bench/bench_watch.py --n 50 --churn-seconds 10 --idle-seconds 5 \\
        --cmd ".venv/bin/python bench/_watch_standin.py --json --events-only"   # harness check

Everything is removed in a ``finally`` block (also on Ctrl-C or SIGTERM). Exit codes: 0 every target
met and cleanup complete, 1 a target not met, the watcher failed or cleanup incomplete, 2 not root or
bad arguments, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import json
import os
import re
import resource
import secrets
import select
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Dict, List, NoReturn, Optional, Sequence, Set, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_scale  # the sibling script, found through the line above: its host builder and cleanup
import watch_probes  # the per-kind latency probes (issue 25)

# Targets (issue 8).
TARGET_P95_S = 1.0
TARGET_KIND_P95_S = 0.5  # issue 25: every event kind, on a quiet host, whatever came just before it
TARGET_IDLE_CPU_PCT = 1.0
FLAT_WINDOW_S = 20.0
FLAT_TOLERANCE = 0.05

INODE_SLACK_S = 1.0  # how much later than the watcher the bench may learn a new namespace's inode
INODE_LATE_S = 60.0  # how long after a namespace is torn down an event may still name it by inode
EARLY_SLACK_S = 0.5  # an event this much before the bench's own kernel clock is counted premature
TEARDOWN_WAIT_S = 30.0  # how long the kernel may take to tear the deleted churn namespaces down
SYNC_TIMEOUT_S = 300.0  # how long the watcher may take to print "synced"
STOP_WAIT_S = 10.0  # how long the watcher may take to exit after SIGINT

NETNS_DIR = "/run/netns"
RTMGRP_LINK = 1
RTM_NEWLINK, RTM_DELLINK = 16, 17
IFLA_IFNAME = 3
NLMSG_HDR = struct.Struct("=IHHII")
IFINFOMSG_LEN = 16
RTATTR = struct.Struct("=HH")
IN_CREATE, IN_DELETE = 0x100, 0x200
INOTIFY_EVENT = struct.Struct("=iIII")
SO_RCVBUFFORCE = 33

ROOT = bench_scale.ROOT
CHURN_KINDS = ("netns-appeared", "pair-appeared", "pair-vanished", "netns-vanished")
MAX_LISTED = 10

EndKey = Tuple[str, str]  # (namespace name or ROOT, ifname)
ChangeKey = Tuple[str, int]  # (event kind, churn index k)


def _raise_interrupt(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt


# ----------------------------------------------------------------------------- names


@dataclass(frozen=True)
class Churn:
    """Names of the churned namespaces and their root ends, derived from the same prefix."""

    prefix: str

    @property
    def bridge(self) -> str:
        return f"{self.prefix}cb"

    def ns(self, k: int) -> str:
        return f"{self.prefix}c{k}"

    def host(self, k: int) -> str:
        return f"{self.prefix}d{k}"

    def ns_index(self, name: Optional[str]) -> Optional[int]:
        match = re.fullmatch(re.escape(self.prefix) + r"c(\d+)", name or "")
        return int(match.group(1)) if match else None

    def host_index(self, name: Optional[str]) -> Optional[int]:
        match = re.fullmatch(re.escape(self.prefix) + r"d(\d+)", name or "")
        return int(match.group(1)) if match else None

    def pair(self, k: int) -> frozenset[EndKey]:
        return frozenset({(self.ns(k), "eth0"), (ROOT, self.host(k))})

    def create(self, k: int) -> List[str]:
        return [f"netns add {self.ns(k)}",
                f"link add {self.host(k)} type veth peer name eth0 netns {self.ns(k)}",
                f"link set {self.host(k)} master {self.bridge}"]

    def delete(self, k: int) -> List[str]:
        return [f"netns del {self.ns(k)}"]


def make_prefix() -> str:
    """A short random prefix (``vpw`` + 4 hex digits) that nothing on the host starts with yet."""
    taken = bench_scale.root_links() + bench_scale.netns_names()
    for _ in range(20):
        prefix = "vpw" + secrets.token_hex(2)
        if not bench_scale.with_prefix(taken, prefix):
            return prefix
    raise RuntimeError("could not find an unused name prefix")


# ----------------------------------------------------------------------------- kernel clocks


class LinkMonitor(threading.Thread):
    """rtnetlink RTMGRP_LINK in the root namespace: receive times of the churn host ends' first
    RTM_NEWLINK (the pair appeared) and RTM_DELLINK (the pair vanished)."""

    def __init__(self, churn: Churn, inodes: Inodes) -> None:
        super().__init__(name="link-monitor", daemon=True)
        self.churn = churn
        #: nsfs inode -> name of every namespace the bench made: the built ones, and each churn
        #: namespace as its pair appears (its /run/netns mount is there by then)
        self.inodes = inodes
        self.appeared: Dict[int, float] = {}
        self.vanished: Dict[int, float] = {}
        self.overruns = 0
        self.stopping = threading.Event()
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((0, RTMGRP_LINK))
        self.sock.settimeout(0.2)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.overruns += 1
                    continue
                return
            now = time.time()
            self.parse(data, now)

    def parse(self, data: bytes, now: float) -> None:
        offset = 0
        while offset + NLMSG_HDR.size <= len(data):
            length, kind = NLMSG_HDR.unpack_from(data, offset)[:2]
            if length < NLMSG_HDR.size:
                return
            if kind in (RTM_NEWLINK, RTM_DELLINK):
                k = self.churn.host_index(ifname(data, offset + NLMSG_HDR.size + IFINFOMSG_LEN, offset + length))
                if k is not None:
                    if kind == RTM_NEWLINK and k not in self.appeared:
                        self.appeared[k] = now
                        with contextlib.suppress(OSError):  # deleted already: matched by name
                            inode = os.stat(os.path.join(NETNS_DIR, self.churn.ns(k))).st_ino
                            self.inodes.add(inode, self.churn.ns(k), now)
                    elif kind == RTM_DELLINK:
                        self.vanished.setdefault(k, now)
                        self.inodes.free(self.churn.ns(k), now)  # torn down: its inode is free again
            offset += (length + 3) & ~3

    def stop(self) -> None:
        self.stopping.set()
        self.join(2.0)
        self.sock.close()


def ifname(data: bytes, offset: int, end: int) -> Optional[str]:
    while offset + RTATTR.size <= end:
        length, kind = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size:
            return None
        if kind == IFLA_IFNAME:
            return data[offset + RTATTR.size:offset + length].split(b"\0", 1)[0].decode(errors="replace")
        offset += (length + 3) & ~3
    return None


class NetnsMonitor(threading.Thread):
    """inotify on /run/netns: times of IN_CREATE (``ip netns add``) and IN_DELETE (``ip netns del``)
    of the churn namespaces' names."""

    def __init__(self, churn: Churn) -> None:
        super().__init__(name="netns-monitor", daemon=True)
        self.churn = churn
        self.appeared: Dict[int, float] = {}
        self.vanished: Dict[int, float] = {}
        self.stopping = threading.Event()
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        os.makedirs(NETNS_DIR, exist_ok=True)
        if libc.inotify_add_watch(self.fd, NETNS_DIR.encode(), IN_CREATE | IN_DELETE) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {NETNS_DIR}")

    def run(self) -> None:
        while not self.stopping.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                continue
            now = time.time()
            offset = 0
            while offset + INOTIFY_EVENT.size <= len(data):
                _, mask, _, length = INOTIFY_EVENT.unpack_from(data, offset)
                start = offset + INOTIFY_EVENT.size
                name = data[start:start + length].split(b"\0", 1)[0].decode(errors="replace")
                offset = start + length
                k = self.churn.ns_index(name)
                if k is None:
                    continue
                if mask & IN_CREATE:
                    self.appeared.setdefault(k, now)
                elif mask & IN_DELETE:
                    self.vanished.setdefault(k, now)

    def stop(self) -> None:
        self.stopping.set()
        self.join(2.0)
        os.close(self.fd)


# ----------------------------------------------------------------------------- the watcher


@dataclass
class Line:
    read_at: float  # time.time() when the bench read it
    doc: Optional[Dict[str, Any]]  # None: not a JSON object
    raw: bytes


class Watcher:
    """The watch process, a thread reading its lines and a thread sampling its CPU and RSS."""

    def __init__(self, cmd: Sequence[str], env: Dict[str, str], err: IO[bytes]) -> None:
        self.cmd = list(cmd)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                     env=env)
        self.lines: List[Line] = []
        self.synced = threading.Event()
        self.eof = threading.Event()
        self.samples: List[Tuple[float, int, int]] = []  # (time, CPU ticks of the tree, VmRSS KiB)
        self.stopping = threading.Event()
        self.reader = threading.Thread(target=self._read, name="watch-reader", daemon=True)
        self.sampler = threading.Thread(target=self._sample, name="watch-sampler", daemon=True)
        self.reader.start()
        self.sampler.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            now = time.time()
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                doc = None
            self.lines.append(Line(now, doc, raw))
            if doc is not None and doc.get("event") == "synced":
                self.synced.set()
        self.eof.set()

    def _sample(self) -> None:
        while not self.stopping.is_set():
            ticks, rss = self.cpu_ticks(), vm_rss_kb(self.proc.pid)
            if rss is not None:
                self.samples.append((time.time(), ticks, rss))
            self.stopping.wait(1.0)

    def cpu_ticks(self) -> int:
        """utime+stime of the watcher and its live descendants, plus what its reaped children used."""
        return tree_ticks(self.proc.pid)

    def stop(self) -> Optional[int]:
        """SIGINT (Ctrl-C), then SIGKILL after STOP_WAIT_S; the exit status (None if killed)."""
        self.stopping.set()
        status: Optional[int] = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                status = self.proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            status = self.proc.returncode
        self.reader.join(2.0)
        self.sampler.join(2.0)
        return status


def proc_stat_ticks(pid: int, children: bool) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    # fields[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17
    total = int(fields[11]) + int(fields[12])
    if children:
        total += int(fields[13]) + int(fields[14])
    return total


def descendants(pid: int) -> List[int]:
    out: List[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tids = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def tree_ticks(pid: int) -> int:
    return sum(proc_stat_ticks(p, children=True) for p in [pid, *descendants(pid)])


def vm_rss_kb(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure_idle(watcher: Watcher, seconds: float) -> float:
    """The watcher's CPU over `seconds` of doing nothing to the host, in % of one core."""
    hz = os.sysconf("SC_CLK_TCK")
    start, t0 = watcher.cpu_ticks(), time.monotonic()
    time.sleep(seconds)
    used, elapsed = watcher.cpu_ticks() - start, time.monotonic() - t0
    return 100.0 * used / hz / elapsed


# ----------------------------------------------------------------------------- the churn


@dataclass
class ChurnResult:
    created: List[int] = field(default_factory=list)
    deleted: List[int] = field(default_factory=list)
    seconds: float = 0.0
    late_max: float = 0.0  # how far behind its schedule the driver got, at worst
    ip_cpu_s: float = 0.0
    ip_processes: int = 0
    ip_status: int = 0
    bench_cpu_s: float = 0.0


class BatchPipe:
    """``ip -force -batch -`` processes fed through a pipe, a new one every second.

    One process for the whole churn would be cheapest, but iproute2 (6.1) never closes the namespace
    file it opens for ``link add ... netns NAME``, so a long-lived ``ip -batch`` keeps every namespace
    it ever named alive: ``ip netns del`` removes the name and the kernel tears nothing down until that
    process exits. A process per second releases them within a second; the namespaces live longer
    than that (``--lifetime`` must be above 1 s)."""

    def __init__(self, err: IO[bytes]) -> None:
        self.err = err
        self.current: Optional[subprocess.Popen[str]] = None
        self.started = 0.0
        self.closed: List[subprocess.Popen[str]] = []
        self.cpu_s = 0.0
        self.processes = 0
        self.statuses: List[int] = []

    def write(self, lines: Sequence[str]) -> None:
        now = time.monotonic()
        if self.current is not None and now - self.started >= 1.0:
            self.close_current()
        if self.current is None:
            self.current = subprocess.Popen(["ip", "-force", "-batch", "-"], stdin=subprocess.PIPE,
                                            stdout=subprocess.DEVNULL, stderr=self.err, text=True)
            self.started = now
            self.processes += 1
        assert self.current.stdin is not None
        self.current.stdin.write("".join(line + "\n" for line in lines))
        self.current.stdin.flush()
        self.reap(block=False)

    def close_current(self) -> None:
        if self.current is not None:
            assert self.current.stdin is not None
            self.current.stdin.close()
            self.closed.append(self.current)
            self.current = None

    def reap(self, block: bool) -> None:
        """Collect the exit status and CPU (rusage) of the closed processes that have ended."""
        for proc in list(self.closed):
            pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
            if pid == 0:
                continue
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.statuses.append(proc.returncode)
            self.cpu_s += usage.ru_utime + usage.ru_stime
            self.closed.remove(proc)

    def finish(self) -> None:
        self.close_current()
        self.reap(block=True)

    def kill(self) -> None:
        self.close_current()
        for proc in self.closed:
            proc.kill()
            proc.wait()
        self.closed.clear()


def drive_churn(churn: Churn, rate: int, seconds: int, lifetime: float, err: IO[bytes]) -> ChurnResult:
    """Create `rate` namespaces a second for `seconds` s, each deleted `lifetime` s after it was made,
    one namespace (and one deletion) every 1/rate s through BatchPipe. Returns what was asked and what
    it cost."""
    result = ChurnResult()
    pipe = BatchPipe(err)
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    lag = round(lifetime * rate)
    total = rate * seconds
    t0 = time.monotonic()
    try:
        for step in range(total + lag):
            due = t0 + step / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            else:
                result.late_max = max(result.late_max, now - due)
            lines: List[str] = []
            if step < total:
                lines += churn.create(step)
                result.created.append(step)
            if step >= lag:
                lines += churn.delete(step - lag)
                result.deleted.append(step - lag)
            pipe.write(lines)
        pipe.finish()
    except BaseException:
        pipe.kill()
        raise
    result.seconds = time.monotonic() - t0
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    result.ip_cpu_s = pipe.cpu_s
    result.ip_processes = pipe.processes
    result.ip_status = max(pipe.statuses, default=0)
    result.bench_cpu_s = (self_after.ru_utime - self_before.ru_utime) + (self_after.ru_stime - self_before.ru_stime)
    return result


def wait_teardown(links: LinkMonitor, names: NetnsMonitor, created: Sequence[int], timeout: float) -> float:
    """Wait until the kernel reported every created churn pair and namespace gone; seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if all(k in links.vanished for k in created if k in links.appeared) and \
                all(k in names.vanished for k in created if k in names.appeared):
            break
        time.sleep(0.2)
    return time.monotonic() - start


def stuck_namespaces(churn: Churn, links: LinkMonitor, created: Sequence[int]) -> Tuple[List[int], Dict[str, int]]:
    """Churn namespaces whose pair appeared but never vanished: deleted by name, yet still alive
    because something holds them. Also which processes hold them through an open nsfs file (a
    socket opened inside a namespace holds it too, invisibly from here): "pid comm" -> count."""
    stuck = [k for k in created if k in links.appeared and k not in links.vanished]
    inodes: Dict[int, int] = {}
    for inode, entries in links.inodes.history.items():
        for _, name in entries:
            k = churn.ns_index(name)
            if k is not None and k in stuck:
                inodes[inode] = k
    holders: Dict[str, int] = {}
    if not stuck:
        return stuck, holders
    nsfs_dev = os.stat("/proc/self/ns/net").st_dev
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        for fd in fds:
            try:  # an nsfs file opened through a /run/netns mount reads as its path, so stat it
                st = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if st.st_dev == nsfs_dev and st.st_ino in inodes:
                holders[f"{pid} {comm}"] = holders.get(f"{pid} {comm}", 0) + 1
    return stuck, holders


# ----------------------------------------------------------------------------- matching


class Inodes:
    """nsfs inode -> the namespace of ours that had it, and when: the kernel gives a freed namespace's
    inode to the next new one, within seconds under churn, and other tools on the host make
    namespaces too."""

    def __init__(self) -> None:
        self.history: Dict[int, List[Tuple[float, str]]] = {}
        self.freed: Dict[str, float] = {}

    def add(self, inode: int, name: str, since: float) -> None:
        self.history.setdefault(inode, []).append((since, name))

    def free(self, name: str, when: float) -> None:
        self.freed.setdefault(name, when)

    def name_at(self, inode: Any, when: float, vanished: bool) -> Optional[str]:
        """The namespace of ours that had `inode` at `when`: known by then (give or take INODE_SLACK_S,
        for the bench's monitor running later than the watcher) and freed at most INODE_LATE_S before
        (an event about a vanished namespace comes after it is gone). If two fit (the inode was
        reused), a vanished event is about the one already freed, any other about the newest.
        None: not ours."""
        fits = self.candidates(inode, when)
        if vanished:
            gone = [name for name in fits if self.freed.get(name, float("inf")) <= when]
            if gone:
                return gone[-1]
        return fits[-1] if fits else None

    def candidates(self, inode: Any, when: float) -> List[str]:
        """Every namespace of ours that `inode` may stand for at `when`, oldest first."""
        entries = self.history.get(inode) if isinstance(inode, int) else None
        return [name for since, name in entries or []
                if since - INODE_SLACK_S <= when <= self.freed.get(name, float("inf")) + INODE_LATE_S]


def netns_key(netns: Dict[str, Any], inodes: Inodes, when: float, vanished: bool = False) -> Tuple[str, bool]:
    """Which namespace a NETNS object is: by the name the watcher gives it; if it gives none (a
    namespace found only through a process holding it, or already unmounted), by its inode where
    the bench knows it; else by its label. And whether it was found by inode."""
    if netns.get("root"):
        return ROOT, True
    given = netns.get("name")
    if isinstance(given, str) and given:
        return given, True
    known = inodes.name_at(netns.get("inode"), when, vanished)
    if known is not None:
        return known, False
    return str(netns.get("label") or f"inode:{netns.get('inode')}"), True


def end_key(link: Dict[str, Any], inodes: Inodes, when: float, vanished: bool = False) -> EndKey:
    return (netns_key(link.get("netns") or {}, inodes, when, vanished)[0], str(link.get("ifname")))


@dataclass
class Matching:
    changes: Dict[ChangeKey, float]  # kernel time of every change the churn made
    latencies: Dict[str, List[float]]  # per kind: line read time - kernel time
    stamp_latencies: List[float]  # the event's own "time" - kernel time
    missed: List[ChangeKey]
    duplicates: int
    wrong: List[str]
    spurious: List[str]
    unmatched: int  # churn events for which the kernel clock saw no change (monitor overrun?)
    misnamed: int  # events naming a namespace of ours other than by its name (found by inode)
    other_kinds: Dict[str, int]  # other events about our objects, by kind
    other_examples: List[str]
    foreign: int  # lines since the churn began about no namespace or interface of ours
    all_kinds: Dict[str, int]  # every event line by kind
    not_json: int
    late: int = 0  # missed changes whose event came after the grace period


def kernel_changes(churn: Churn, links: LinkMonitor, names: NetnsMonitor) -> Dict[ChangeKey, float]:
    changes: Dict[ChangeKey, float] = {}
    for kind, source in (("netns-appeared", names.appeared), ("netns-vanished", names.vanished),
                         ("pair-appeared", links.appeared), ("pair-vanished", links.vanished)):
        for k, t in source.items():
            changes[(kind, k)] = t
    return changes


def parse_stamp(text: Any) -> Optional[float]:
    if not isinstance(text, str):
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", text)
    if not match:
        return None
    import calendar

    whole = calendar.timegm(time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S"))
    return whole + float(match.group(2) or 0.0)


def churn_key(churn: Churn, kind: str, doc: Dict[str, Any], inodes: Inodes, when: float) -> Optional[int]:
    """The churn index an event is about, if it is one of the four churn kinds about a churn object."""
    vanished = kind.endswith("-vanished")
    if kind in ("netns-appeared", "netns-vanished"):
        return churn.ns_index(netns_key(doc.get("netns") or {}, inodes, when, vanished)[0])
    if kind in ("pair-appeared", "pair-vanished"):
        # The root end <prefix>d<k> names k; the other end must be eth0 in <prefix>c<k>: by its name,
        # or, when the watcher gives the namespace none, by an inode that namespace had.
        links = [doc.get(side) or {} for side in ("a", "b")]
        roots = [link for link in links if (link.get("netns") or {}).get("root")]
        if len(roots) != 1:
            return None
        k = churn.host_index(roots[0].get("ifname"))
        other = links[1] if roots[0] is links[0] else links[0]
        netns = other.get("netns") or {}
        if k is None or other.get("ifname") != "eth0":
            return None
        if netns.get("name") == churn.ns(k) or (
                not netns.get("name") and churn.ns(k) in inodes.candidates(netns.get("inode"), when)):
            return k
    return None


def match(plan: bench_scale.Plan, churn: Churn, lines: Sequence[Line], changes: Dict[ChangeKey, float],
          since: float, issued: Set[int], inodes: Inodes, until: float = float("inf")) -> Matching:
    """Judge the lines read after `since` against the kernel's changes; an event read after `until`
    (the end of the grace period) does not count, but is counted as late."""
    built = {frozenset(pair) for pair in bench_scale.expected_pairs(plan)}
    made = built | {churn.pair(k) for k in issued}
    seen: Set[ChangeKey] = set()
    late: Set[ChangeKey] = set()
    result = Matching(changes, {kind: [] for kind in CHURN_KINDS}, [], [], 0, [], [], 0, 0, {}, [], 0, {}, 0)
    for line in lines:
        if line.doc is None:
            result.not_json += 1
            continue
        kind = str(line.doc.get("event"))
        result.all_kinds[kind] = result.all_kinds.get(kind, 0) + 1
        if line.read_at < since or kind in ("state", "synced"):
            continue
        about, misnamed, mine = describe(line.doc, inodes, line.read_at, plan.prefix)
        if not mine:
            result.foreign += 1
            continue  # another tool's namespaces and pairs: not ours to judge
        result.misnamed += misnamed
        k = churn_key(churn, kind, line.doc, inodes, line.read_at) if kind in CHURN_KINDS else None
        if kind == "pair-appeared" and k is None and frozenset(about) not in made:
            result.wrong.append(" <-> ".join(sorted(bench_scale.fmt(e) for e in about)))
        if k is None:
            if all(key[0].startswith(plan.prefix) or key[1].startswith(plan.prefix) for key in about) and \
                    not any(churn.ns_index(key[0]) is not None or churn.host_index(key[1]) is not None
                            or key[1] == churn.bridge for key in about):
                result.spurious.append(f"{kind} {', '.join(bench_scale.fmt(e) for e in sorted(about))}")
            else:
                result.other_kinds[kind] = result.other_kinds.get(kind, 0) + 1
                if len(result.other_examples) < MAX_LISTED:
                    result.other_examples.append(f"{kind} {', '.join(bench_scale.fmt(e) for e in sorted(about))}")
            continue
        if (kind, k) in seen or (kind, k) in late:
            result.duplicates += 1
            continue
        if line.read_at > until:
            late.add((kind, k))  # after the grace period: still missed, counted as late
            continue
        seen.add((kind, k))
        when = changes.get((kind, k))
        if when is None:
            result.unmatched += 1
            continue
        result.latencies[kind].append(line.read_at - when)
        stamp = parse_stamp(line.doc.get("time"))
        if stamp is not None:
            result.stamp_latencies.append(stamp - when)
    result.missed = sorted(key for key in changes if key not in seen)
    result.late = sum(1 for key in result.missed if key in late)
    return result


def describe(doc: Dict[str, Any], inodes: Inodes, when: float, prefix: str) -> Tuple[List[EndKey], int, bool]:
    """The (namespace, ifname) keys an event is about (a namespace event as (name, "")); how many of
    its namespaces the watcher gave no name (found by inode); and whether the event is about something
    of ours: an interface or a namespace named with the prefix, or a namespace event whose inode was
    one of ours (an inode alone does not make a pair ours: other tools' namespaces reuse it)."""
    keys: List[EndKey] = []
    by_inode = 0
    vanished = str(doc.get("event")).endswith("-vanished")
    netns_objects = [(doc[name].get("netns") or {}, str(doc[name].get("ifname")))
                     for name in ("a", "b", "link") if isinstance(doc.get(name), dict)]
    if isinstance(doc.get("netns"), dict):
        netns_objects.append((doc["netns"], ""))
    mine = False
    for netns, ifname_ in netns_objects:
        key, named = netns_key(netns, inodes, when, vanished)
        keys.append((key, ifname_))
        by_inode += not named
        mine = mine or ifname_.startswith(prefix) or (named and key.startswith(prefix))
    if not mine and isinstance(doc.get("netns"), dict):
        mine = keys[-1][0].startswith(prefix)
    return keys, by_inode, mine


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def latency_text(values: Sequence[float]) -> str:
    if not values:
        return "no events"
    return (f"p50 {quantile(values, 0.5) * 1000:.0f} ms, p95 {quantile(values, 0.95) * 1000:.0f} ms, "
            f"max {max(values) * 1000:.0f} ms, min {min(values) * 1000:.0f} ms ({len(values)} events)")


def wait_matched(plan: bench_scale.Plan, churn: Churn, watcher: Watcher, links: LinkMonitor, names: NetnsMonitor,
                 since: float, issued: Set[int], grace: float) -> None:
    """Wait until every kernel change has its event, at most `grace` s after the last change."""
    while True:
        changes = kernel_changes(churn, links, names)
        last = max(changes.values(), default=time.time())
        if not match(plan, churn, list(watcher.lines), changes, since, issued, links.inodes).missed:
            return
        if time.time() > max(last, since) + grace or watcher.eof.is_set():
            return
        time.sleep(0.2)


# ----------------------------------------------------------------------------- report


def by_kind(keys: Sequence[ChangeKey]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for kind, _ in keys:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


@dataclass
class Figures:
    n: int
    host_namespaces: int
    synced_after: float
    idle_before: float
    idle_after: float
    idle_lines: Tuple[int, int]  # lines the watcher printed during each idle window
    churn: ChurnResult
    rate: int
    teardown_wait: float
    stuck: List[int]
    holders: Dict[str, int]
    matching: Matching
    rss_start: int
    rss_peak: int
    rss_after_churn: int
    rss_end: int
    flat_spread: float
    flat_window: float
    watcher_status: Optional[int]
    overruns: int


def report(fig: Figures) -> Tuple[str, bool]:
    m = fig.matching
    everything = [v for values in m.latencies.values() for v in values]
    p95 = quantile(everything, 0.95) if everything else float("inf")
    flat = fig.flat_spread <= FLAT_TOLERANCE
    lines = [f"N={fig.n} namespaces built ({fig.host_namespaces} named namespaces on the host at start); "
             f"watcher synced after {fig.synced_after:.1f} s",
             f"churn: {len(fig.churn.created)} namespaces created and {len(fig.churn.deleted)} deleted at "
             f"{fig.rate}/s in {fig.churn.seconds:.1f} s (driver at worst {fig.churn.late_max * 1000:.0f} ms "
             f"behind schedule); kernel teardown done {fig.teardown_wait:.1f} s after the last command; "
             f"kernel saw {len(m.changes)} changes",
             f"churn driver CPU: {fig.churn.ip_processes} ip -batch processes {fig.churn.ip_cpu_s:.2f} s "
             f"({100 * fig.churn.ip_cpu_s / max(fig.churn.seconds, 1e-9):.1f}% of a core), bench process "
             f"{fig.churn.bench_cpu_s:.2f} s ({100 * fig.churn.bench_cpu_s / max(fig.churn.seconds, 1e-9):.1f}%)",
             "latency, kernel change -> line read by the bench:"]
    lines += [f"  {kind:15s} {latency_text(m.latencies[kind])}" for kind in CHURN_KINDS]
    lines += [f"  {'all':15s} {latency_text(everything)}",
              f"  (the event's own \"time\" - kernel change: {latency_text(m.stamp_latencies)})",
              f"churn namespaces deleted but never torn down (something holds them): {len(fig.stuck)}"
              + (f"; held through nsfs files by (pid comm: count) {fig.holders}" if fig.stuck else ""),
              f"missed events: {len(m.missed)}"
              + (f" {by_kind(m.missed)}, e.g. {m.missed[:MAX_LISTED]}; {m.late} of them came later, after the "
                 f"grace period" if m.missed else ""),
              f"events read more than {EARLY_SLACK_S:.1f} s before the bench saw their change (premature): "
              f"{sum(v < -EARLY_SLACK_S for v in everything)}",
              f"wrong pairs: {len(m.wrong)}" + (f" e.g. {m.wrong[:MAX_LISTED]}" if m.wrong else ""),
              f"events about namespaces/pairs the bench did not change: {len(m.spurious)}"
              + (f" e.g. {m.spurious[:MAX_LISTED]}" if m.spurious else ""),
              f"duplicate events: {m.duplicates}; namespaces of ours without a name (found by inode): {m.misnamed}; "
              f"churn events without a kernel change seen: {m.unmatched}; "
              f"other events about churn objects: {m.other_kinds or 'none'}; lines not JSON: {m.not_json}",
              f"every line by kind: {m.all_kinds}",
              *([f"other events about churn objects, e.g.: {m.other_examples}"] if m.other_examples else []),
              f"watcher CPU idle: before churn {fig.idle_before:.2f}% of a core ({fig.idle_lines[0]} lines printed "
              f"meanwhile), after {fig.idle_after:.2f}% ({fig.idle_lines[1]} lines)",
              *(["  the host was NOT idle: the watcher printed events during an idle window (other tools' "
                 "namespaces changing?), so its idle CPU is not the idle figure"] if any(fig.idle_lines) else []),
              f"lines about other tools' namespaces since the churn began: {m.foreign}",
              f"watcher RSS: start {fig.rss_start / 1024:.1f} MB, peak {fig.rss_peak / 1024:.1f} MB, "
              f"after churn {fig.rss_after_churn / 1024:.1f} MB, end {fig.rss_end / 1024:.1f} MB; "
              f"last {fig.flat_window:.0f} s spread {100 * fig.flat_spread:.1f}%",
              f"watcher exit status after SIGINT: {fig.watcher_status} (contract: 130)"]
    if fig.overruns:
        lines.append(f"WARNING: the bench's own rtnetlink socket overran {fig.overruns} times (ENOBUFS)")
    checks = [
        (f"event latency p95 < {TARGET_P95_S:.0f} s", bool(everything) and p95 < TARGET_P95_S),
        ("missed events == 0", not m.missed and bool(m.changes)),
        ("wrong pairs == 0", not m.wrong),
        ("every deleted churn namespace torn down (none kept alive)", not fig.stuck),
        ("no event about what the bench did not change", not m.spurious),
        (f"idle CPU < {TARGET_IDLE_CPU_PCT:.0f}% of a core (before and after churn)"
         + ("" if fig.n == 1000 else f"; the target is for N=1000, this is N={fig.n}"),
         max(fig.idle_before, fig.idle_after) < TARGET_IDLE_CPU_PCT),
        (f"RSS flat once the churn stops (last {fig.flat_window:.0f} s within {100 * FLAT_TOLERANCE:.0f}%)", flat),
    ]
    lines.append(f"Targets (issue 8; this machine has {os.cpu_count()} cores):")
    lines += [f"  {name}: {verdict(ok)}" for name, ok in checks]
    return "\n".join(lines), all(ok for _, ok in checks)


def rss_figures(samples: Sequence[Tuple[float, int, int]], synced_at: float, churn_end: float,
                end: float) -> Tuple[int, int, int, int, float, float]:
    """start, peak, after churn, end (KiB); spread (max-min)/min over the last FLAT_WINDOW_S s (or the
    whole after-churn idle if shorter) and that window's length."""
    after = [s for s in samples if s[0] >= synced_at] or list(samples)
    if not after:
        return 0, 0, 0, 0, float("inf"), 0.0
    start = after[0][2]
    peak = max(s[2] for s in after)
    post = [s for s in after if s[0] >= churn_end] or after[-1:]
    window_start = max(churn_end, end - FLAT_WINDOW_S)
    window = [s[2] for s in after if window_start <= s[0] <= end] or [after[-1][2]]
    spread = (max(window) - min(window)) / max(min(window), 1)
    return start, peak, post[0][2], after[-1][2], spread, end - window_start


# ----------------------------------------------------------------------------- main


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1000, help="namespaces on the host being watched (default 1000)")
    parser.add_argument("--rate", type=int, default=20, help="churn namespaces created (and deleted) a second")
    parser.add_argument("--churn-seconds", type=int, default=60, help="seconds of creating (default 60)")
    parser.add_argument("--lifetime", type=float, default=3.0,
                        help="seconds a churn namespace lives before it is deleted (default 3)")
    parser.add_argument("--idle-seconds", type=float, default=30.0,
                        help="idle CPU window before and after the churn (default 30)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds after 'synced' before the first idle window (default 2)")
    parser.add_argument("--grace", type=float, default=5.0,
                        help="seconds after the last kernel change an event may still come (default 5)")
    parser.add_argument("--cmd", help="the watcher command line (default: python -m vethpeer watch --json "
                                      "--events-only, with this interpreter)")
    parser.add_argument("--src", help="a source tree's src/ directory, put on PYTHONPATH for the watcher")
    parser.add_argument("--save-events", metavar="FILE",
                        help="write every line the watcher printed to FILE, each prefixed with the time "
                             "the bench read it, for debugging")
    parser.add_argument("--keep", action="store_true", help="do not clean up (debugging); prints the prefix")
    parser.add_argument("--probes", type=int, default=60, metavar="ROUNDS",
                        help="after the churn, ROUNDS rounds of single changes on the quiet host, each followed "
                             "at once by another: latency per event kind and per kind before it (default 60; "
                             "0: none)")
    parser.add_argument("--probe-gap", type=float, default=1.0,
                        help="quiet seconds before each probe round (default 1)")
    parser.add_argument("--probes-only", action="store_true",
                        help="skip the idle windows and the churn: build, sync, probe, report")
    parser.add_argument("--seed", type=int, help="the probes' random seed (default: random, printed)")
    args = parser.parse_args(argv)
    if args.n < 2 or args.rate < 1 or args.churn_seconds < 1 or args.lifetime <= 1 or args.idle_seconds <= 0:
        parser.error("--n must be at least 2, --lifetime above 1 s; --rate, --churn-seconds, --idle-seconds "
                     "positive")
    return args


def watcher_env(src: Optional[str]) -> Dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if src:
        env["PYTHONPATH"] = os.path.abspath(src)
    return env


def run(plan: bench_scale.Plan, churn: Churn, args: argparse.Namespace, workdir: str) -> Tuple[str, bool]:
    cmd = shlex.split(args.cmd) if args.cmd else [sys.executable, "-m", "vethpeer", "watch", "--json",
                                                   "--events-only"]
    host_namespaces = len(bench_scale.netns_names())
    inodes = Inodes()
    for i in range(plan.n):
        inodes.add(os.stat(os.path.join(NETNS_DIR, plan.ns(i))).st_ino, plan.ns(i), 0.0)
    links, names = LinkMonitor(churn, inodes), NetnsMonitor(churn)
    links.start()
    names.start()
    err_path = os.path.join(workdir, "watch.err")
    with open(err_path, "wb") as err, open(os.path.join(workdir, "churn.err"), "wb") as churn_err:
        print(f"watcher: {' '.join(cmd)}", flush=True)
        started = time.time()
        watcher = Watcher(cmd, watcher_env(args.src), err)
        status: Optional[int] = None
        try:
            while not watcher.synced.wait(0.5):
                if watcher.eof.is_set() or time.time() - started > SYNC_TIMEOUT_S:
                    raise RuntimeError("the watcher ended or did not print 'synced' in time")
            synced_at = time.time()
            print(f"  synced after {synced_at - started:.1f} s; settling {args.settle:.0f} s, "
                  f"then {args.idle_seconds:.0f} s idle", flush=True)
            time.sleep(args.settle)
            if args.probes_only:
                text, ok = probe(plan, watcher, args)
                links.stop()
                names.stop()
                return f"{text}\n  watcher synced after {synced_at - started:.1f} s", ok

            window_before = time.time()
            idle_before = measure_idle(watcher, args.idle_seconds)
            print(f"  idle CPU before churn: {idle_before:.2f}% of a core", flush=True)
            since = time.time()
            print(f"  churn: {args.rate}/s for {args.churn_seconds} s (each lives {args.lifetime:.0f} s)", flush=True)
            result = drive_churn(churn, args.rate, args.churn_seconds, args.lifetime, churn_err)
            print(f"  churn done in {result.seconds:.1f} s (ip exit {result.ip_status}); waiting for teardown",
                  flush=True)
            teardown = wait_teardown(links, names, result.created, TEARDOWN_WAIT_S)
            stuck, holders = stuck_namespaces(churn, links, result.created)
            wait_matched(plan, churn, watcher, links, names, since, set(result.created), args.grace)
            churn_end = time.time()
            idle_after = measure_idle(watcher, args.idle_seconds)
            end = time.time()
            print(f"  idle CPU after churn: {idle_after:.2f}% of a core", flush=True)
            judged_lines = len(watcher.lines)  # the probes' lines are judged by the probes alone
            probed = probe(plan, watcher, args) if args.probes else ("", True)
        finally:
            status = watcher.stop()
            with open(err_path, errors="replace") as f:
                tail = f.read()[-500:].strip()
            if tail:
                print(f"watcher stderr (tail): {tail}")
    matching = match(plan, churn, watcher.lines[:judged_lines], kernel_changes(churn, links, names), since,
                     set(result.created), links.inodes, until=churn_end)
    links.stop()
    names.stop()
    if args.save_events:
        with open(args.save_events, "w") as out:
            out.writelines(f"{line.read_at:.6f} {line.raw.decode(errors='replace').rstrip()}\n"
                           for line in watcher.lines)
    rss = rss_figures(watcher.samples, synced_at, churn_end, end)
    in_window = [sum(1 for line in watcher.lines if t0 <= line.read_at <= t1)
                 for t0, t1 in ((window_before, since), (churn_end, end))]
    fig = Figures(plan.n, host_namespaces, synced_at - started, idle_before, idle_after,
                  (in_window[0], in_window[1]), result, args.rate,
                  teardown, stuck, holders, matching, *rss, status, links.overruns)
    text, ok = report(fig)
    if probed[0]:
        text += "\n" + probed[0]
        ok = ok and probed[1]
    if result.ip_status != 0:
        text += f"\nchurn driver: ip -batch exited {result.ip_status} (see its errors above)"
        ok = False
    return text, ok


def probe(plan: bench_scale.Plan, watcher: Watcher, args: argparse.Namespace) -> Tuple[str, bool]:
    """Single changes on the quiet host (see watch_probes): latency per event kind."""
    seed = args.seed if args.seed is not None else secrets.randbelow(1 << 30)
    print(f"  probes: {args.probes} rounds, {args.probe_gap:.1f} s apart (seed {seed})", flush=True)
    spaces = [plan.ns(i) for i in range(min(plan.n, 4))]
    results = watch_probes.run(plan.prefix, spaces, watch_probes.Lines(watcher.lines), args.probes,
                               args.probe_gap, seed, lambda text: print(text, flush=True))
    text, ok = watch_probes.report(results, TARGET_KIND_P95_S)
    return f"{text}\n  (N={plan.n}, seed {seed})", ok


def cleanup(plan: bench_scale.Plan, churn: Churn) -> bool:
    """The churn bridge, then bench_scale's cleanup (every namespace with the prefix, the bridges, any
    interface with the prefix left in the root namespace), with SIGINT/SIGTERM ignored meanwhile."""
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        if churn.bridge in bench_scale.root_links():
            bench_scale.run_ip_batch([f"link del {churn.bridge}"], force=True)
        return bench_scale.cleanup(plan)
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench_watch.py needs root (it creates namespaces); run: sudo python bench/bench_watch.py",
              file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_interrupt)
    prefix = make_prefix()
    plan, churn = bench_scale.Plan(prefix, args.n), Churn(prefix)
    longest = max(plan.longest_ifname(), len(churn.host(args.rate * args.churn_seconds)), len(churn.bridge))
    if longest > bench_scale.IFNAMSIZ:
        print(f"these sizes make interface names longer than {bench_scale.IFNAMSIZ} characters", file=sys.stderr)
        return 2
    print(f"prefix {prefix}: building N={plan.n} namespaces ...", flush=True)
    text: Optional[str] = None
    status = 1
    cleaned = True
    try:
        if bench_scale.build(plan):
            bench_scale.run_ip_batch([f"link add {churn.bridge} type bridge"], force=False)
            with tempfile.TemporaryDirectory(prefix="vethpeer-bench-watch-") as workdir:
                text, ok = run(plan, churn, args, workdir)
                with open(os.path.join(workdir, "churn.err"), errors="replace") as f:
                    errors = f.read().strip()
            if errors:
                print(f"churn driver stderr (tail): {errors[-500:]}")
            status = 0 if ok else 1
    except KeyboardInterrupt:
        # A Ctrl-C or `timeout` signals the whole process group, sometimes twice: ignore the rest.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\ninterrupted; cleaning up", file=sys.stderr)
        status = 130
    except RuntimeError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        status = 1
    finally:
        if args.keep:
            print(f"--keep: left everything in place; prefix {prefix}")
        else:
            cleaned = cleanup(plan, churn)
    if text is not None:
        print("\n" + text)
    if not cleaned and status == 0:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
