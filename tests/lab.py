"""Building throwaway namespaces and veth pairs for live tests, and removing them again.

Everything a Lab makes carries its unique prefix and is remembered, and ``cleanup()`` removes it
whatever state the test left it in. Interfaces in the root namespace are only ever ones the lab
created (names start with the prefix).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

HOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "holder.py")
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

Arg = Union[str, bytes]


def can_run_live() -> Optional[str]:
    """None when live tests can run here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "live tests need root (CI runs them as root)"
    if shutil.which("ip") is None:
        return "live tests need iproute2's ip"
    return None


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m vethpeer ARGS`` from this tree, text out, as a user would run it."""
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "vethpeer", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


class Holder:
    """A holder.py process; ``info`` is what it printed after 'ready'."""

    def __init__(self, args: Sequence[str], executable: Optional[str] = None) -> None:
        self.process = subprocess.Popen([executable or sys.executable, HOLDER, *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "ready":
            self.stop()
            problem = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"holder {args} failed: {problem}")
        self.info = line[1:]
        self.pid = self.process.pid

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class Lab:
    def __init__(self, prefix: Optional[str] = None) -> None:
        self.prefix = prefix or "vpt" + secrets.token_hex(2)
        self.namespaces: List[str] = []
        self.root_links: List[str] = []
        self.holders: List[Holder] = []
        self.mounts: List[str] = []
        self.tmpdir = tempfile.mkdtemp(prefix=f"{self.prefix}-")

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- building -------------------------------------------------------------------------------
    def ip(self, *args: Arg, check: bool = True) -> str:
        result = subprocess.run(["ip", *args], capture_output=True, check=False)
        if check and result.returncode != 0:
            shown = [a.decode("utf-8", "backslashreplace") if isinstance(a, bytes) else a for a in args]
            raise RuntimeError(f"ip {' '.join(shown)}: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout.decode("utf-8", "surrogateescape")

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def netns(self, suffix: str) -> str:
        name = self.name(suffix)
        self.ip("netns", "add", name)
        self.namespaces.append(name)
        return name

    def link_name(self, suffix: str) -> str:
        name = f"{self.prefix}{suffix}"
        assert len(name) <= 15, name
        return name

    def veth(self, a: Arg, a_ns: Optional[str], b: Arg, b_ns: Optional[str]) -> None:
        """A veth pair: end ``a`` in namespace ``a_ns`` (None: root), ``b`` in ``b_ns``.

        ``b_ns`` may also be "pid:N" to put the peer into a process's namespace.
        """
        args: List[Arg] = ["link", "add", "name", a]
        if a_ns is not None:
            args += ["netns", a_ns]
        args += ["type", "veth", "peer", "name", b]
        if b_ns is not None:
            args += ["netns", b_ns[4:] if b_ns.startswith("pid:") else b_ns]
        if a_ns is None:
            assert (a.decode() if isinstance(a, bytes) else a).startswith(self.prefix)
            self.root_links.append(a.decode() if isinstance(a, bytes) else a)
        self.ip(*args)

    def holder(self, *args: str, executable: Optional[str] = None) -> Holder:
        """A holder.py process; ``executable`` runs it under another name (a symlink to Python)."""
        holder = Holder(args, executable)
        self.holders.append(holder)
        return holder

    def bind_mount(self, source: str, name: str) -> str:
        target = os.path.join(self.tmpdir, name)
        open(target, "w").close()
        subprocess.run(["mount", "--bind", source, target], check=True)
        self.mounts.append(target)
        return target

    def forget_name(self, name: str) -> None:
        """`ip netns del` a namespace whose only other holder the test set up."""
        self.ip("netns", "del", name)
        self.namespaces.remove(name)

    def links(self, netns: Optional[str]) -> List[Dict[str, Any]]:
        """`ip -j -d link show` in a namespace (None: root)."""
        args = (["-n", netns] if netns else []) + ["-j", "-d", "link", "show"]
        return list(json.loads(self.ip(*args)))

    @contextlib.contextmanager
    def channel(self, netns: str) -> Iterator[Any]:
        """A vethpeer ``Channel`` (unsubscribed) in namespace ``netns``, closed on leaving."""
        from vethpeer.host import ops
        from vethpeer.host.channel import Channel

        fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            (sock,) = ops.sockets_in([fd])
        finally:
            os.close(fd)
        assert not isinstance(sock, OSError)
        channel = Channel(sock)
        try:
            yield channel
        finally:
            channel.close()

    # -- removing -------------------------------------------------------------------------------
    def cleanup(self) -> None:
        for holder in self.holders:
            holder.stop()
        for target in reversed(self.mounts):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)
        for name in reversed(self.namespaces):
            self.ip("netns", "del", name, check=False)
        # Root-side ends normally die with their peer's namespace, but that happens
        # asynchronously; remove what is left of ours.
        deadline = time.monotonic() + 5
        for link in self.root_links:
            while self.ip("link", "show", "dev", link, check=False) and time.monotonic() < deadline:
                self.ip("link", "del", "dev", link, check=False)
                time.sleep(0.01)
        self.namespaces.clear()
        self.root_links.clear()
        self.holders.clear()
        self.mounts.clear()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def user_tree(base: Path, uid: int, login: str) -> Path:
    """A --root tree under ``base`` where user ``uid`` (``login``) has a home and a /run/user
    directory, both theirs."""
    root = base / "host"
    (root / "etc").mkdir(parents=True)
    passwd = f"root:x:0:0:root:/root:/bin/sh\n{login}:x:{uid}:{uid}:{login}:/home/{login}:/bin/sh\n"
    (root / "etc/passwd").write_text(passwd)
    for directory in (root / "home" / login, root / "run/user" / str(uid)):
        directory.mkdir(parents=True)
        os.chown(directory, uid, uid)
    return root
