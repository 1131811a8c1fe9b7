"""The README's set-up commands, exactly as printed, on a fresh Debian 12 (issue 22).

A `debootstrap --variant=minbase` root from Debian's packages, with `python3` (as a fresh server
has) and `sudo`, is built once and cached as a tar file (VETHPEER_FRESH_DEBIAN, default
/var/cache/vethpeer-tests/bookworm-minbase.tar; about a minute to build, seconds to unpack). Each
test unpacks a new copy, puts this checkout in it, and enters it with chroot in a mount namespace
of its own (its /proc, /dev and /run go away with it). Skipped, with the reason, where
debootstrap cannot run; .ci/run installs it.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from lab import Lab

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("VETHPEER_FRESH_DEBIAN", "/var/cache/vethpeer-tests/bookworm-minbase.tar"))
SUITE = "bookworm"
CHECKOUT = "/root/vethpeer"
#: What a root login shell on Debian gets before /etc/profile runs: nothing of this host's.
CLEAN_ENV = {"HOME": "/root", "TERM": "dumb", "LANG": "C.UTF-8", "USER": "root", "LOGNAME": "root"}


def readme_setup_commands() -> List[str]:
    """The command lines of the first code block under 'Install and run', comments removed."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Install and run"):]
    block = re.search(r"```[a-z]*\n(.*?)```", section, re.S)
    assert block, "README: no code block under 'Install and run'"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    return [re.sub(r"\s+#\s.*\Z", "", line).strip() for line in lines]


def test_readme_opens_with_exactly_two_setup_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.findall(r"^## .*", text, re.M)[0] == "## Install and run"  # what a newcomer reads first
    commands = readme_setup_commands()
    assert len(commands) == 2, commands
    assert "install" in commands[0] and commands[0].endswith("vethpeer")
    assert "test" in commands[1]


def _mirror() -> str:
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError:
            continue
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or re.search(
            r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)\s", text, re.M)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


@functools.lru_cache(maxsize=1)
def fresh_debian() -> Optional[str]:
    """The cached root as a tar file, built when missing; None with the reason in SKIP."""
    if CACHE.is_file():
        return str(CACHE)
    if os.geteuid() != 0:
        SKIP.append("needs root to debootstrap and chroot")
        return None
    if shutil.which("debootstrap") is None:
        SKIP.append("needs debootstrap (Debian: apt install debootstrap; .ci/run installs it)")
        return None
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    build = tempfile.mkdtemp(prefix="vethpeer-debootstrap-", dir="/var/tmp")
    try:
        target = os.path.join(build, "root")
        result = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,sudo", SUITE, target,
                                 _mirror()], capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            SKIP.append(f"debootstrap failed: {(result.stderr or result.stdout).strip()[-300:]}")
            return None
        partial = f"{CACHE}.partial"
        with tarfile.open(partial, "w") as archive:
            archive.add(target, arcname=".")
        os.replace(partial, CACHE)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return str(CACHE)


SKIP: List[str] = []


@pytest.fixture
def debian(tmp_path: Path) -> Iterator[Path]:
    """A new copy of the fresh Debian root, with this checkout at /root/vethpeer."""
    if shutil.which("unshare") is None or shutil.which("chroot") is None:
        pytest.skip("needs util-linux's unshare and coreutils' chroot")
    tar = fresh_debian()
    if tar is None:
        pytest.skip(SKIP[-1] if SKIP else "no fresh Debian root")
    root = tmp_path / "debian"
    root.mkdir()
    subprocess.run(["tar", "-xf", tar, "-C", str(root)], check=True, timeout=600)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True, timeout=60).stdout.split(b"\0")
    checkout = root / CHECKOUT.lstrip("/")
    for raw in listed:
        if not raw:
            continue
        relative = raw.decode()
        source = ROOT / relative
        if not os.path.lexists(source):
            continue  # deleted in the work tree
        destination = checkout / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), destination)
        else:
            shutil.copy2(source, destination)
    yield root
    # Nothing is mounted any more (the mount namespace died with the command); the copy goes with
    # tmp_path.
    shutil.rmtree(root, ignore_errors=True)


def in_debian(root: Path, command: str, *, login: bool = True, extra_env: Optional[Dict[str, str]] = None,
              timeout: int = 300) -> subprocess.CompletedProcess:
    """``command`` run by bash inside the fresh root, as root, in a mount namespace of its own."""
    env = dict(CLEAN_ENV, **(extra_env or {}))
    env_args = [f"{key}={value}" for key, value in env.items()]
    shell = ["/bin/bash", "-lc" if login else "-c", command]
    mounts = (
        'set -e; R="$1"; shift; '
        'mount -t proc proc "$R/proc"; mount --rbind /dev "$R/dev"; mount -t tmpfs tmpfs "$R/run"; '
        'mkdir -p "$R/run/lock"; exec chroot "$R" "$@"'
    )
    argv = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", mounts, "sh", str(root),
            "/usr/bin/env", "-i", *env_args, *shell]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def test_readme_install_command_works_on_a_fresh_debian(debian: Path, lab: Lab) -> None:
    """The first command as printed; then vethpeer by name from a login shell and through sudo."""
    holder = lab.holder("unshare")
    lab.veth(lab.link_name("fd"), None, "eth0", f"pid:{holder.pid}")
    assert not (debian / "usr/bin/pip3").exists() and not (debian / "usr/lib/python3/dist-packages/pip").exists()
    command = readme_setup_commands()[0]
    ran = in_debian(debian, f"cd {CHECKOUT} && {command}")
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "installed vethpeer" in ran.stdout

    login = in_debian(debian, "command -v vethpeer && vethpeer -V")
    assert login.returncode == 0, login.stderr
    assert login.stdout.splitlines() == ["/usr/local/bin/vethpeer", f"vethpeer {_version()}"]

    # sudo runs what it finds on its secure_path, whatever PATH the caller had.
    found = in_debian(debian, "PATH=/nowhere /usr/bin/sudo sh -c 'command -v vethpeer'", login=False)
    assert found.stdout.strip() == "/usr/local/bin/vethpeer", found.stderr
    listed = in_debian(debian, "PATH=/nowhere /usr/bin/sudo vethpeer -j list", login=False)
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["version"] == 1
    ends = {(pair["a"]["ifname"], pair["b"]["ifname"]) for pair in document["pairs"]}
    assert ("eth0", lab.link_name("fd")) in ends  # it really looked at the host, from inside

    for path in ("usr/local/share/man/man1/vethpeer.1", "usr/local/share/bash-completion/completions/vethpeer",
                 "usr/local/share/zsh/site-functions/_vethpeer",
                 "usr/local/share/fish/vendor_completions.d/vethpeer.fish"):
        assert (debian / path).is_file(), path

    removed = in_debian(debian, f"cd {CHECKOUT} && python3 scripts/install --uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not (debian / "usr/local/bin/vethpeer").exists()
    assert not (debian / "usr/local/lib/vethpeer").exists()


def _version() -> str:
    import vethpeer

    return vethpeer.__version__


def test_readme_test_command_works_on_a_fresh_debian(debian: Path) -> None:
    """The second command: it installs python3-venv with apt (a fresh Debian lacks it), makes the
    venv from PyPI and runs pytest (collection only here: the suite itself runs on this host)."""
    if os.environ.get("VETHPEER_SKIP_FRESH_TESTS"):
        pytest.skip("VETHPEER_SKIP_FRESH_TESTS is set")
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    extra: Dict[str, str] = {}
    if bundle.is_file():
        # This workplace reaches PyPI through a proxy whose CA only the host trusts. Beside the
        # system bundle, not in it: installing python3-venv pulls in ca-certificates, which
        # writes /etc/ssl/certs/ca-certificates.crt anew.
        shutil.copy(bundle, debian / "root/host-ca-certificates.crt")
        extra = {"PIP_CERT": "/root/host-ca-certificates.crt"}
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "http_proxy", "https_proxy",
                "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        if os.environ.get(key):
            extra[key] = os.environ[key]
    shutil.copy("/etc/resolv.conf", debian / "etc/resolv.conf")
    probe = in_debian(debian, "python3 -c 'import ensurepip'")
    assert probe.returncode != 0, "this Debian root already has python3-venv: the test would prove nothing"
    command = readme_setup_commands()[1]
    ran = in_debian(debian, f"cd {CHECKOUT} && {command} --collect-only -q -p no:cacheprovider", extra_env=extra,
                    timeout=900)
    output = ran.stdout + ran.stderr
    if ran.returncode != 0 and re.search(r"(Temporary failure in name resolution|Could not resolve|"
                                         r"Network is unreachable|Failed to fetch)", output):
        pytest.skip(f"no package registry from the fresh root: {output.strip()[-300:]}")
    assert ran.returncode == 0, output[-3000:]
    assert re.search(r"^\d+ tests collected", ran.stdout, re.M), ran.stdout[-2000:]
