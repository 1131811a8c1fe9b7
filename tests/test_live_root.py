"""--root and --proc: the tool run from a "debug container" (a mount namespace of its own) that has
the host's filesystem at /host, as `kubectl debug node/...` gives it (root, real kernel)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lab import Lab
from test_live import SRC

pytestmark = pytest.mark.live


def test_root_reads_the_host_mounted_elsewhere(lab: Lab) -> None:
    name = lab.netns("rt")
    host_end = lab.link_name("rt")
    lab.veth(host_end, None, "eth0", name)
    host = os.path.join(lab.tmpdir, "host")
    os.mkdir(host)
    with_root = os.path.join(lab.tmpdir, "with-root.json")
    without = os.path.join(lab.tmpdir, "without.json")
    command = f"{sys.executable} -m vethpeer"
    # A private mount namespace: the host's tree is bound at HOST, then the container's own
    # /run/netns is an empty tmpfs, as in a container that only has the host at /host.
    script = (
        "set -e\n"
        "mount --make-rprivate /\n"
        f"mount --rbind / {host}\n"
        "mount -t tmpfs vethpeer-test /run/netns\n"
        f"{command} --root {host} list --json -q > {with_root}\n"
        f"{command} list --json -q > {without}\n"
    )
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=SRC), check=False, timeout=120)
    assert result.returncode == 0, result.stderr

    def lab_pair(path: str) -> dict:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        [pair] = [p for p in document["pairs"] if p["b"]["ifname"] == host_end]
        return dict(pair["a"]["netns"])

    found = lab_pair(with_root)
    assert found["name"] == name and found["label"] == name
    # Without --root the name is not where the tool looks: it only sees a bind mount somewhere.
    seen = lab_pair(without)
    assert seen["name"] is None and seen["label"].startswith(host)


def test_root_that_is_not_a_directory_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, "-m", "vethpeer", "--root", "/nonexistent-vethpeer", "list"],
                            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=SRC), check=False)
    assert result.returncode == 2 and "--root" in result.stderr and "Traceback" not in result.stderr
