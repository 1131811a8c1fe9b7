"""Where the host's files are, and reads of them that never raise and never read without bound.

Every path is given as it is on the host (``/var/lib/docker``) and resolved inside ``Host.root``
as if that were ``/`` (``safefile``: an absolute symbolic link stays inside it, nothing but a
regular file is ever opened); /proc paths go under ``Host.proc``. A read returns None for anything
that is not a regular file of at most ``cap`` bytes that could be opened: missing, unreadable, a
directory, a FIFO, a device, a file that grew past the cap. Callers treat None as "no evidence",
never as an error; what was refused for being something else, or too big, is kept in
``Host.refused`` for the scan's warnings.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import time
from typing import Any, AnyStr, Dict, Iterator, List, Optional, Pattern, Set, cast

from . import safefile
from .safefile import Beneath, Refused

#: Caps by what is read: one /proc line file, a runtime's JSON state, a whole state database.
CAP_SMALL = 64 * 1024
CAP_JSON = 4 * 1024 * 1024
CAP_DB = 64 * 1024 * 1024
#: Directory listings are bounded too: a state directory with more entries than this is cut short.
MAX_ENTRIES = 200_000
#: What one unprivileged user's files may cost a scan, in seconds of reading and parsing them
#: (their rootless containers' state): past it, the rest of that user's state is skipped, with a
#: warning. Measured: 720-850 rootless containers of one user fit in it (each a spec read and two
#: pid file look-ups, through openat2 below the user's directory: about 60 us).
USER_BUDGET = 0.050
#: A file in a user's directory is read up to this size (root's own state up to the CAP_ its
#: source gives): 4 MB is a containers.json of about 8000 containers.
USER_CAP = CAP_JSON

# O_NONBLOCK: opening a FIFO planted where a state file should be must not hang the scan.
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class _LazyPattern:
    """A regular expression compiled when it is first used."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: Any, flags: int) -> None:
        self._args = (pattern, flags)
        self._compiled: Optional[Pattern[Any]] = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return getattr(self._compiled, name)


def pattern(text: AnyStr, flags: int = 0) -> Pattern[AnyStr]:
    """``re.compile`` on first use: the sources hold 26 patterns, 1.9 ms to compile at every
    start, and a host runs one or two of the runtimes they are for."""
    return cast("Pattern[AnyStr]", _LazyPattern(text, flags))


def decode(raw: bytes) -> str:
    """Bytes as text; bytes that are not UTF-8 survive as surrogate escapes."""
    return raw.decode("utf-8", "surrogateescape")


#: TASK_COMM_LEN is 16; a bigger /proc/PID/comm is no comm.
COMM_CAP = 64


def parse_comm(raw: Optional[bytes]) -> Optional[str]:
    """/proc/PID/comm as text (at most 15 bytes, not escaped): None for no file or one too big."""
    if raw is None or len(raw) > COMM_CAP:
        return None
    return decode(raw[:-1] if raw.endswith(b"\n") else raw)


def normpath(path: str) -> str:
    """A runtime's path as the mount table shows it: /var/run is a symlink to /run on every
    distribution that has both, and runtimes write either spelling."""
    if "//" in path or "/." in path or path.endswith("/"):
        path = os.path.normpath(path)
    if path.startswith("/var/run") and (len(path) == 8 or path[8] == "/"):
        return path[4:]
    return path


class Host:
    """The filesystem to read: ``root`` is the host's / (``/host`` from a debug container),
    ``proc`` its /proc (default ``root + /proc``)."""

    __slots__ = ("_over", "_running", "_spent", "files", "proc", "refused", "root")

    def __init__(self, root: str = "/", proc: Optional[str] = None) -> None:
        self.root = os.path.normpath(root or "/")
        self.proc = os.path.normpath(proc) if proc else self.path("/proc")
        #: Files that were there but not read (not a regular file, too big, a link out of a
        #: user's directory), for the scan's warnings.
        self.refused: List[Refused] = []
        self._spent: Dict[int, float] = {}
        #: Per user being charged now: when the outermost charge began.
        self._running: Dict[int, float] = {}
        self._over: Set[int] = set()
        #: Resolves and reads inside ``root``; holds a few directory fds until ``close()``.
        self.files = safefile.Resolver(self.root)

    def close(self) -> None:
        self.files.close()

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one user's share of the scan ----------------------------------------------------------

    @contextlib.contextmanager
    def charge(self, uid: Optional[int]) -> Iterator[None]:
        """Count the time spent in the block against user ``uid`` (None: root's own, free). A
        charge inside another for the same user counts nothing more."""
        if uid is None or uid in self._running:
            yield
            return
        self._running[uid] = time.perf_counter()
        try:
            yield
        finally:
            self._spent[uid] = self._spent.get(uid, 0.0) + time.perf_counter() - self._running.pop(uid)

    def spent(self, uid: int) -> float:
        """Seconds user ``uid``'s files have cost this scan so far."""
        running = self._running.get(uid)
        return self._spent.get(uid, 0.0) + (time.perf_counter() - running if running is not None else 0.0)

    def over_budget(self, uid: Optional[int], what: str = "") -> bool:
        """Whether user ``uid`` has spent its USER_BUDGET; said once, as a refused entry."""
        if uid is None:
            return False
        if uid in self._over:
            return True
        if self.spent(uid) <= USER_BUDGET:
            return False
        self._over.add(uid)
        self.refused.append(Refused(what or f"user {uid}'s state", f"user {uid}'s files took more than "
                                    f"{USER_BUDGET * 1000:.0f} ms of this scan; the rest of them was skipped"))
        return True

    def __repr__(self) -> str:
        return f"Host(root={self.root!r}, proc={self.proc!r})"

    def path(self, host_path: str) -> str:
        """Where a host path is from here. /var/run is read as /run: its symlink is absolute and
        would point out of ``root``."""
        host_path = normpath(host_path)
        if self.root == "/":
            return host_path
        return self.root + host_path if host_path.startswith("/") else os.path.join(self.root, host_path)

    def pid_path(self, pid: int, leaf: str) -> str:
        return f"{self.proc}/{pid}/{leaf}"

    def unroot(self, seen_path: str) -> str:
        """A bind-mount path as this process sees it, turned back into the host's spelling."""
        if self.root != "/" and (seen_path == self.root or seen_path.startswith(self.root + "/")):
            seen_path = seen_path[len(self.root) :] or "/"
        return normpath(seen_path)

    # -- reads -------------------------------------------------------------------------------

    @staticmethod
    def read_at(path: str, cap: int = CAP_SMALL) -> Optional[bytes]:
        """The whole file at ``path`` (already resolved), or None (see the module docstring). For
        procfs only (``/proc/PID/cgroup``): the kernel's files, which no one can replace with a
        FIFO or a link; everything else goes through ``read``."""
        try:
            fd = os.open(path, _FLAGS)
        except (OSError, ValueError):  # ValueError: a NUL in a name taken from a state file
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > cap:
                return None
            return safefile.read_fd(fd, info.st_size, cap)
        except OSError:
            return None
        finally:
            os.close(fd)

    def read(self, host_path: str, cap: int = CAP_SMALL, under: Optional[Beneath] = None) -> Optional[bytes]:
        """A state file, resolved inside the root; ``under``: a directory of one user's, below
        which no symbolic link is followed, only their files are read, at most USER_CAP bytes
        each and USER_BUDGET seconds in all."""
        if under is not None:
            if self.over_budget(under.uid, under.directory):
                return None
            cap = min(cap, USER_CAP)
        with self.charge(under.uid if under is not None else None):
            found = self.files.read(normpath(host_path), cap, under)
        if isinstance(found, Refused):
            self.refused.append(found._replace(path=self.path(found.path)))
            return None
        return found

    def read_text(self, host_path: str, cap: int = CAP_SMALL, under: Optional[Beneath] = None) -> Optional[str]:
        raw = self.read(host_path, cap, under)
        return None if raw is None else decode(raw)

    def read_json(self, host_path: str, cap: int = CAP_JSON, under: Optional[Beneath] = None) -> Any:
        """Parsed JSON, or None when the file is missing, too big or not JSON."""
        return parse_json(self.read(host_path, cap, under))

    def isdir(self, host_path: str) -> bool:
        info = self.files.stat(normpath(host_path))
        return info is not None and stat.S_ISDIR(info.st_mode)

    def read_pid(self, pid: int, leaf: str, cap: int = CAP_SMALL) -> Optional[bytes]:
        return self.read_at(self.pid_path(pid, leaf), cap)

    def listdir(self, host_path: str, under: Optional[Beneath] = None) -> List[str]:
        """Entry names, sorted, or [] when it is not a readable directory."""
        if under is not None and self.over_budget(under.uid, under.directory):
            return []
        with self.charge(under.uid if under is not None else None):
            found = self.files.listdir(normpath(host_path), MAX_ENTRIES, under)
        if isinstance(found, Refused):
            self.refused.append(found._replace(path=self.path(found.path)))
            return []
        if found is None:
            return []
        found.sort()
        return found


def parse_json(raw: Optional[bytes]) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(decode(raw))
    except (ValueError, RecursionError):
        return None


def read_int(raw: Optional[bytes]) -> Optional[int]:
    """A pid file's number (decimal, whitespace around it allowed), or None."""
    if raw is None:
        return None
    text = raw.strip()
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value < 1 << 22 else None
