"""Mininet for real (root): Debian's ``mininet`` package, Linux bridges as switches, no controller.

tests/mininet_net.py builds a tree (depth 2, fanout 2) or a linear (3 switches) network whose
every host and switch name carries this test's prefix, and stops it when its stdin closes.
Whatever is left of ours afterwards (interfaces named with the prefix, shells titled with it) is
removed; ``mn -c`` is never run. Skipped when Mininet or brctl is not installed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import string
import subprocess
from typing import Any, Dict, Iterator, List, Optional

import pytest

from lab import can_run_live, run_cli

pytestmark = pytest.mark.live

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3"


def missing() -> Optional[str]:
    reason = can_run_live()
    if reason:
        return reason
    if shutil.which("brctl") is None or shutil.which("mnexec") is None:
        return "Mininet is not installed: apt-get install --no-install-recommends mininet bridge-utils"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import mininet.net"], capture_output=True, check=False)
    return None if probe.returncode == 0 else "the system python3 cannot import mininet"


class Network:
    """One Mininet network of this test; ``hosts`` (name -> shell pid), ``switches``, ``links``."""

    def __init__(self, shape: str) -> None:
        # Letters only before Mininet's own names: it takes a switch's dpid from the first number.
        self.prefix = "mn" + "".join(random.choice(string.ascii_lowercase) for _ in range(4))
        self.process = subprocess.Popen([SYSTEM_PYTHON, os.path.join(HERE, "mininet_net.py"), shape, self.prefix],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"Mininet did not start: {self.errors}")
        built: Dict[str, Any] = json.loads(line)
        self.hosts: Dict[str, int] = built["hosts"]
        self.switches: List[str] = built["switches"]
        self.links: List[List[str]] = built["links"]

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.errors = self.process.stderr.read() if self.process.stderr else ""
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    argv = handle.read().split(b"\0")
            except OSError:
                continue
            if f"mininet:{self.prefix}".encode() in argv:
                os.kill(int(pid), signal.SIGKILL)
        shown = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
        for line in shown.splitlines():
            name = line.split(": ", 2)[1].split("@", 1)[0]
            if name.startswith(self.prefix):
                subprocess.run(["ip", "link", "del", "dev", name], capture_output=True, check=False)


@pytest.fixture(params=["tree", "linear"])
def network(request: pytest.FixtureRequest, guard: None) -> Iterator[Network]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    net = Network(request.param)
    try:
        yield net
    finally:
        net.stop()


def test_mininet_hosts_are_named_and_paired_with_their_switch_ports(network: Network) -> None:
    """Before: each host's namespace was 'pid N (bash)', the shell in it."""
    result = run_cli("list", "--json")
    assert result.returncode == 0, result.stderr
    ours = {}
    for pair in json.loads(result.stdout)["pairs"]:
        ends = {pair["a"]["ifname"]: pair["a"], pair["b"]["ifname"]: pair["b"]}
        if any(name.startswith(network.prefix) for name in ends):
            ours[frozenset(ends)] = ends
    # Every link Mininet made is a proven pair, and nothing else of ours is.
    assert set(ours) == {frozenset(link) for link in network.links}
    switch_of = {name: name.split("-eth")[0] for link in network.links for name in link
                 if name.split("-eth")[0] in network.switches}
    for host, pid in network.hosts.items():
        (ends,) = [ends for ends in ours.values() if f"{host}-eth0" in ends]
        mine = ends[f"{host}-eth0"]
        (port,) = [end for name, end in ends.items() if name != f"{host}-eth0"]
        assert mine["netns"]["label"] == f"mininet: {host}"
        (owner,) = mine["netns"]["owners"]
        assert (owner["kind"], owner["name"], owner["how"]) == ("mininet", host, f"shell pid {pid}")
        assert port["netns"]["root"] and port["master"] == switch_of[port["ifname"]]
    # The switches' shells run in the root namespace: they name nothing (others on the host may
    # own it: a host-network container).
    roots = [end["netns"] for ends in ours.values() for end in ends.values() if end["netns"]["root"]]
    assert roots and all(ns["label"] == "root" and all(o["kind"] != "mininet" for o in ns["owners"])
                         for ns in roots)


def test_a_mininet_host_is_selected_by_its_name(network: Network) -> None:
    host = sorted(network.hosts)[0]
    (link,) = [link for link in network.links if f"{host}-eth0" in link]
    (port,) = [name for name in link if name != f"{host}-eth0"]
    result = run_cli("peer", f"{host}-eth0", "--netns", f"mininet:{host}")
    assert result.returncode == 0, result.stderr
    assert port in result.stdout and f"mininet: {host}" in result.stdout
    shown = run_cli("namespaces")
    assert shown.returncode == 0 and all(f"mininet: {name}" in shown.stdout for name in network.hosts)
