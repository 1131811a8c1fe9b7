"""Shared fixtures: the live-test lab, and the guard every live test runs under."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab import Lab, can_run_live


def _open_fds() -> set:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def guard() -> Iterator[None]:
    """Fail a test that leaks a file descriptor or leaves the thread in another namespace."""
    before_fds = _open_fds()
    before_ns = os.readlink("/proc/thread-self/ns/net")
    yield
    assert os.readlink("/proc/thread-self/ns/net") == before_ns, "thread left in another namespace"
    leaked = _open_fds() - before_fds
    details = {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in leaked
               if os.path.lexists(f"/proc/self/fd/{fd}")}
    assert not details, f"file descriptors leaked: {details}"


@pytest.fixture
def lab(guard: None) -> Iterator[Lab]:
    reason = can_run_live()
    if reason:
        pytest.skip(reason)
    with Lab() as made:
        yield made


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A directory other users can reach (pytest's own tmp_path is root's alone)."""
    made = Path(tempfile.mkdtemp(prefix="vethpeer-user-", dir="/var/tmp"))
    made.chmod(0o755)
    yield made
    shutil.rmtree(made, ignore_errors=True)
