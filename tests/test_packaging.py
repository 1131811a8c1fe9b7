"""How vethpeer reaches a node (issue 22): the one-file zipapp, the installer, the man page and
the shell completions, each run for real (the Pythons, shells and man tools that are here)."""

from __future__ import annotations

import functools
import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from lab import Lab

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = str(ROOT / "tests" / "data" / "host.snapshot.json")
SRC = str(ROOT / "src")


@functools.lru_cache(maxsize=1)
def pythons() -> Dict[Tuple[int, int], str]:
    """Every CPython >= 3.9 found here, by version: on PATH, /usr/bin and pyenv's versions."""
    found: Dict[Tuple[int, int], str] = {}
    candidates = [shutil.which(f"python3.{minor}") for minor in range(9, 30)]
    candidates += glob.glob("/usr/bin/python3.*") + glob.glob("/root/.pyenv/versions/3.*/bin/python3.*")
    for path in candidates:
        if not path or not re.search(r"python3\.\d+\Z", path) or not os.access(path, os.X_OK):
            continue
        probe = subprocess.run([path, "-I", "-c", "import sys; print(*sys.version_info[:2])"],
                               capture_output=True, text=True, timeout=60, check=False)
        if probe.returncode == 0:
            major, minor = (int(part) for part in probe.stdout.split())
            if (major, minor) >= (3, 9):
                found.setdefault((major, minor), os.path.realpath(path))
    return found


def oldest_and_newest() -> List[str]:
    known = pythons()
    if not known:
        return [sys.executable]
    ordered = sorted(known)
    return list(dict.fromkeys([known[ordered[0]], known[ordered[-1]]]))


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("pyz") / "vethpeer.pyz"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build-pyz"), str(output)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return output


def clean_env() -> Dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}


def installed(*args: str) -> subprocess.CompletedProcess:
    """The command as installed in this environment (the package from src/)."""
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "vethpeer", *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


# --- one file -------------------------------------------------------------------------------------


def test_pyz_is_an_executable_zipapp_for_any_python3(pyz: Path) -> None:
    with open(pyz, "rb") as handle:
        assert handle.readline() == b"#!/usr/bin/env python3\n"
    assert os.stat(pyz).st_mode & 0o111 == 0o111
    import zipfile

    with zipfile.ZipFile(pyz) as archive:
        names = archive.namelist()
    assert "__main__.py" in names and "vethpeer/cli.py" in names
    assert not [name for name in names if name.endswith(".pyc") or "__pycache__" in name]


@pytest.mark.parametrize("python", oldest_and_newest())
def test_pyz_runs_isolated_where_the_package_is_not_importable(pyz: Path, tmp_path: Path, python: str) -> None:
    """`python3 -I vethpeer.pyz` in an empty directory answers as the installed command does."""
    gone = subprocess.run([python, "-I", "-c", "import vethpeer"], cwd=tmp_path, capture_output=True,
                          env=clean_env(), timeout=60, check=False)
    assert gone.returncode != 0, "the package is importable here: the test would prove nothing"
    version = subprocess.run([python, "-I", str(pyz), "-V"], cwd=tmp_path, capture_output=True, text=True,
                             env=clean_env(), timeout=60, check=False)
    assert version.returncode == 0, version.stderr
    assert version.stdout == installed("-V").stdout
    for args in (("--load", FIXTURE, "-j", "list"), ("--load", FIXTURE, "-j", "peer", "ns-39d60faa-aa"),
                 ("--load", FIXTURE, "graph", "--format", "mermaid")):
        ours = subprocess.run([python, "-I", str(pyz), *args], cwd=tmp_path, capture_output=True, text=True,
                              env=clean_env(), timeout=120, check=False)
        reference = installed(*args)
        assert (ours.returncode, ours.stdout) == (reference.returncode, reference.stdout), ours.stderr
        assert reference.returncode == 0 and reference.stdout, reference.stderr


@pytest.mark.live
@pytest.mark.parametrize("python", oldest_and_newest())
def test_pyz_lists_the_live_host_as_the_installed_command(pyz: Path, tmp_path: Path, python: str, lab: Lab) -> None:
    namespace = lab.netns("pz")
    lab.veth(lab.link_name("pz"), None, "eth0", namespace)
    ours = subprocess.run([python, "-I", str(pyz), "-j", "list"], cwd=tmp_path, capture_output=True, text=True,
                          env=clean_env(), timeout=300, check=False)
    reference = installed("-j", "list")
    assert ours.returncode == reference.returncode == 0, ours.stderr

    def lab_pairs(text: str) -> List[Tuple[str, str]]:
        return sorted((pair["a"]["ifname"], pair["b"]["ifname"]) for pair in json.loads(text)["pairs"]
                      if lab.prefix in pair["a"]["ifname"] + pair["b"]["ifname"])

    assert lab_pairs(ours.stdout) == lab_pairs(reference.stdout) == [("eth0", lab.link_name("pz"))]


def test_build_pyz_refuses_extra_arguments() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build-pyz"), "a", "b"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode != 0 and "usage" in result.stderr
