"""Live edges (root): --netns by identity, an unreadable --netns, and the least-privilege set.

The minimal capability set was measured on Linux 6.x by dropping one capability at a time from a
non-root user (setpriv) and comparing `list --json` with root's: CAP_SYS_ADMIN (setns),
CAP_SYS_PTRACE (other users' /proc/PID/ns and task entries), CAP_DAC_READ_SEARCH (listing other
users' /proc/PID/fd), and with --sockets CAP_NET_ADMIN (SIOCGSKNS asks ns_capable(CAP_NET_ADMIN)).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

import pytest

from lab import Lab

pytestmark = pytest.mark.live

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
NOBODY = 65534
MINIMAL = ("sys_admin", "sys_ptrace", "dac_read_search")
FOR_SOCKETS = ("net_admin",)


def run_cli(*args: str, prefix: Sequence[str] = (), python: Optional[str] = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC)
    env.pop("NO_COLOR", None)
    return subprocess.run([*prefix, python or sys.executable, "-m", "vethpeer", *args], capture_output=True,
                          env=env, check=False, timeout=600)


def as_user(caps: Sequence[str]) -> List[str]:
    """setpriv: uid/gid nobody with exactly ``caps`` (effective through the ambient set)."""
    listed = "".join(f",+{cap}" for cap in caps)
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", f"--inh-caps=-all{listed}",
            f"--ambient-caps=-all{listed}", f"--bounding-set=-all{listed}", "--"]


@functools.lru_cache(maxsize=1)
def unprivileged_python() -> Optional[str]:
    """A Python >= 3.9 that user nobody may run (a pyenv under /root is out of its reach)."""
    if shutil.which("setpriv") is None:
        return None
    for candidate in (sys.executable, "/usr/bin/python3", shutil.which("python3")):
        if not candidate:
            continue
        probe = run_cli("--version", prefix=as_user(()), python=candidate)
        if probe.returncode == 0 and probe.stdout.startswith(b"vethpeer "):
            return candidate
    return None


@pytest.fixture
def nobody_python() -> str:
    python = unprivileged_python()
    if python is None:
        pytest.skip("needs setpriv and a Python that user nobody can run with this source tree")
    return python


def lab_pairs(document: Dict, names: Set[str]) -> FrozenSet[Tuple[Tuple[int, str], Tuple[int, str]]]:
    """The pairs with an end the lab made, as ((inode, ifname), (inode, ifname)): the host is
    not quiet, so other people's pairs may come and go between two runs."""
    out = set()
    for pair in document["pairs"]:
        ends = sorted((end["netns"]["inode"], end["ifname"]) for end in (pair["a"], pair["b"]))
        if any(name in names for _, name in ends):
            out.add((ends[0], ends[1]))
    return frozenset(out)


def held_every_way(lab: Lab) -> Set[str]:
    """A veth to the root namespace from namespaces held by a name, a process, a thread, an fd
    and a socket; returns the root-side names."""
    named = lab.netns("nm")
    lab.veth(lab.link_name("n"), None, "eth0", named)
    process = lab.holder("unshare")
    lab.veth(lab.link_name("p"), None, "eth0", f"pid:{process.pid}")
    for mode, letter in (("thread", "t"), ("fd", "f"), ("socket", "s")):
        name = lab.netns(f"h{letter}")
        lab.veth(lab.link_name(letter), None, "eth0", name)
        lab.holder(mode, f"/run/netns/{name}")
        lab.forget_name(name)
    return {lab.link_name(letter) for letter in "nptfs"}


@pytest.mark.parametrize("flags", [(), ("--sockets",)], ids=["default", "sockets"])
def test_minimal_capabilities_give_the_same_pairs_as_root(lab: Lab, nobody_python: str,
                                                          flags: Tuple[str, ...]) -> None:
    names = held_every_way(lab)
    caps = MINIMAL + (FOR_SOCKETS if flags else ())
    as_root = run_cli("--json", *flags, "list")
    assert as_root.returncode == 0, as_root.stderr
    minimal = run_cli("--json", *flags, "list", prefix=as_user(caps), python=nobody_python)
    assert minimal.returncode == 0, minimal.stderr
    expected = lab_pairs(json.loads(as_root.stdout), names)
    assert len(expected) == (5 if flags else 4)
    assert lab_pairs(json.loads(minimal.stdout), names) == expected
    assert b"without CAP_" not in minimal.stderr


@pytest.mark.parametrize("missing", MINIMAL + FOR_SOCKETS)
def test_a_missing_capability_is_named(lab: Lab, nobody_python: str, missing: str) -> None:
    """Without CAP_DAC_READ_SEARCH or CAP_NET_ADMIN a namespace was missed without a word."""
    names = held_every_way(lab)
    caps = [cap for cap in MINIMAL + FOR_SOCKETS if cap != missing]
    result = run_cli("--json", "--sockets", "list", prefix=as_user(caps), python=nobody_python)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    wanted = f"without CAP_{missing.upper()}"
    assert wanted.encode() in result.stderr
    assert [warning for warning in document["warnings"] if warning.startswith(wanted)]
    assert len(lab_pairs(document, names)) < 5  # it did miss something


def test_unreadable_netns_exits_4_and_says_why(lab: Lab, nobody_python: str) -> None:
    """Today: 'no interface named X in namespace NS', exit 1, although X is there."""
    name = lab.netns("ur")
    inside = lab.link_name("in")
    lab.veth(lab.link_name("ou"), None, inside, name)
    result = run_cli("peer", inside, "--netns", name, prefix=as_user(()), python=nobody_python)
    assert result.returncode == 4, result.stderr
    last = result.stderr.decode().splitlines()[-1]
    assert last.startswith("vethpeer: error: ") and name in last and "could not be read" in last
    assert "CAP_SYS_ADMIN" in last and "no interface" not in last
    assert b"Traceback" not in result.stderr and result.stdout == b""


def test_unreadable_pid_netns_exits_4(lab: Lab, nobody_python: str) -> None:
    holder = lab.holder("unshare")
    result = run_cli("peer", "eth0", "--netns", f"pid:{holder.pid}", prefix=as_user(()), python=nobody_python)
    assert result.returncode == 4, result.stderr
    assert result.stderr.count(b"\n") == 1 and b"CAP_SYS_PTRACE" in result.stderr


def test_netns_by_pid_keeps_the_namespace_label(lab: Lab) -> None:
    """Today: --netns pid:N labels the namespace '/proc/N/ns/net' as if it were bind-mounted there."""
    holder = lab.holder("unshare")
    held_end = lab.link_name("lb")
    lab.veth(held_end, None, "eth0", f"pid:{holder.pid}")
    named = lab.netns("lbn")
    named_end = lab.link_name("ln")
    lab.veth(named_end, None, "eth0", named)
    thread = lab.holder("thread", f"/run/netns/{named}")
    for root_end, specs in ((held_end, (f"pid:{holder.pid}", f"/proc/{holder.pid}/ns/net")),
                            (named_end, (named, f"/run/netns/{named}",
                                         f"/proc/{thread.pid}/task/{thread.info[0]}/ns/net"))):
        result = run_cli("--json", "peer", root_end)
        assert result.returncode == 0, result.stderr
        [match] = json.loads(result.stdout)["matches"]
        label = match["peer"]["netns"]["label"]
        assert not label.startswith("/proc/")
        for spec in specs:
            result = run_cli("--json", "peer", "eth0", "--netns", spec)
            assert result.returncode == 0, (spec, result.stderr)
            [match] = json.loads(result.stdout)["matches"]
            assert match["peer"]["ifname"] == root_end
            assert match["link"]["netns"]["label"] == label, spec
            assert not [path for path in match["link"]["netns"].get("paths", []) if path.startswith("/proc/")]
    result = run_cli("--json", "namespaces")
    namespaces = json.loads(result.stdout)["namespaces"]
    assert not [ns for ns in namespaces if any(path.startswith("/proc/") for path in ns["paths"])]


def test_a_named_namespace_keeps_its_name_while_a_process_runs_in_it(lab: Lab) -> None:
    """`ip netns exec NAME cmd`: the namespace was labelled `pid N (cmd)` (the process fallback
    owner came before the /run/netns name). The name is how people know it; the process is
    still listed among its owners."""
    named = lab.netns("exe")
    root_end = lab.link_name("ex")
    lab.veth(root_end, None, "eth0", named)
    runner = subprocess.Popen(["ip", "netns", "exec", named, "sleep", "60"])
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if os.stat(f"/proc/{runner.pid}/ns/net").st_ino == os.stat(f"/run/netns/{named}").st_ino:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        result = run_cli("--json", "peer", root_end)
        assert result.returncode == 0, result.stderr
        [match] = json.loads(result.stdout)["matches"]
        netns = match["peer"]["netns"]
        assert netns["label"] == named
        assert any(owner["kind"] == "process" for owner in netns["owners"]), netns
    finally:
        runner.kill()
        runner.wait()


# --- honest when it cannot look (issue 22) -----------------------------------------------------------


def unprivileged_lab(lab: Lab) -> Tuple[str, str]:
    """Two namespaces with a veth into the root one each (nobody can read neither); returns the
    name of an interface inside one of them and its namespace's name."""
    inside = lab.link_name("in")
    first = lab.netns("u1")
    lab.veth(lab.link_name("o1"), None, inside, first)
    second = lab.netns("u2")
    lab.veth(lab.link_name("o2"), None, "eth0", second)
    return inside, first


def test_unprivileged_list_says_first_what_it_could_not_read(lab: Lab, nobody_python: str) -> None:
    """Before: 'No veth pairs found.' and a wall of unresolved ends, the fix named nowhere."""
    unprivileged_lab(lab)
    result = run_cli("list", prefix=as_user(()), python=nobody_python)
    assert result.returncode == 0, result.stderr
    first = result.stderr.decode().splitlines()[0]
    assert first.startswith("vethpeer: warning: ") and "network namespaces could not be read" in first
    assert "sudo vethpeer" in first and "CAP_SYS_ADMIN" in first
    out = result.stdout.decode()
    assert "No veth pairs found" not in out
    assert "could not be read" in out.splitlines()[-1]
    document = json.loads(run_cli("-j", "list", prefix=as_user(()), python=nobody_python).stdout)
    assert "could not be read without privileges" in document["warnings"][0]


@pytest.mark.parametrize("command", ["peer", "show", "trace"])
def test_unprivileged_not_found_is_not_absent(lab: Lab, nobody_python: str, command: str) -> None:
    """Before: exit 1 ('found nowhere'), the code a script takes as proof of absence."""
    inside, _ = unprivileged_lab(lab)
    result = run_cli(command, inside, prefix=as_user(()), python=nobody_python)
    assert result.returncode == 7, result.stderr
    lines = result.stderr.decode().splitlines()
    assert "could not be read without privileges" in lines[0]
    assert any(f"no interface named {inside} in the 1 namespace that could be read; " in line
               and "could not be read (run as root)" in line for line in lines), lines
    quiet = run_cli("-q", command, inside, prefix=as_user(()), python=nobody_python)
    assert quiet.returncode == 7
    assert quiet.stderr.decode().splitlines() == [line for line in lines if "warning" not in line]


def test_root_not_found_is_still_1(lab: Lab) -> None:
    unprivileged_lab(lab)
    result = run_cli("peer", lab.link_name("absent"))
    assert result.returncode == 1, result.stderr
    assert b"could not be read" not in result.stderr
