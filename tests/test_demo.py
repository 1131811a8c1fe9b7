"""`vethpeer demo` (root): builds its picture, shows it, and leaves nothing behind, even on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from typing import List

import pytest

from lab import can_run_live

pytestmark = pytest.mark.live

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
ENV = dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1")


@pytest.fixture(autouse=True)
def live(guard: None) -> None:
    reason = can_run_live()
    if reason:
        pytest.skip(reason)


def demo_namespaces() -> List[str]:
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return []
    return [n for n in names if n.startswith("vethpeer-demo-")]


def holder_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie already reaped by nobody still answers kill(0): check its state.
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split(")")[-1].split()[0] != "Z"


def test_demo_shows_the_picture_and_removes_it() -> None:
    before = set(demo_namespaces())
    result = subprocess.run([sys.executable, "-m", "vethpeer", "demo"], capture_output=True, text=True,
                            env=ENV, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    port = re.search(r"\b(ns-[0-9a-f]{8}-[0-9a-f]{2})\b", out)
    tap = re.search(r"\b(tap[0-9a-f]{8}-[0-9a-f]{2})\b", out)
    assert port and tap and port.group(1)[3:] == tap.group(1)[3:]
    qdhcp = re.search(r"\b(qdhcp-[0-9a-f-]{36})\b", out)
    bridge = re.search(r"\b(brq[0-9a-f]{8}-[0-9a-f]{2})\b", out)
    assert qdhcp and bridge and bridge.group(1)[3:] == qdhcp.group(1)[6:17]
    assert "10.10.100.2/24" in out and "169.254.169.254/16" in out
    pid = re.search(r"pid (\d+) \(", out)
    assert pid, "the process-held namespace is shown by its pid"
    peer_line = next(line for line in out.splitlines() if line.startswith("peer "))
    assert tap.group(1) in peer_line and bridge.group(1) in peer_line
    assert set(demo_namespaces()) == before
    assert not os.path.exists(f"/run/netns/{qdhcp.group(1)}")
    assert not holder_alive(int(pid.group(1)))


def test_demo_cleans_up_on_ctrl_c() -> None:
    before = set(demo_namespaces())  # another demo may be running on this host: not ours
    process = subprocess.Popen([sys.executable, "-m", "vethpeer", "demo", "--wait"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if "stays up" in line or not line:
            break
    created = [name for name in demo_namespaces() if name not in before]
    assert created, "".join(seen)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    if process.stdin:
        process.stdin.close()
    assert process.returncode == 0, err
    assert "removed" in out
    assert not set(created) & set(demo_namespaces())


def test_demo_without_privilege_says_what_it_needs() -> None:
    drop = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"]
    before = set(demo_namespaces())  # another demo may be running on this host: not ours
    result = subprocess.run([*drop, sys.executable, "-m", "vethpeer", "demo"], capture_output=True, text=True,
                            env=ENV, check=False, timeout=60)
    assert result.returncode == 2
    assert "CAP_SYS_ADMIN" in result.stderr and result.stderr.count("\n") == 1
    assert not set(demo_namespaces()) - before
