"""Opening files that someone else may have put there, as root, without being led astray.

vethpeer runs as root and reads state files in directories other users can write, or under a
``--root`` tree a container controls. Three rules, for every such read:

1. **Nothing but a regular file (or a directory to list) is ever opened.** A path is first
   resolved with ``O_PATH``, which opens nothing (a FIFO's blocked writer is not woken, a device's
   driver is not called, inotify sees no open); ``fstat`` on that says what it is; only a regular
   file of bounded size is then opened for reading, through ``/proc/self/fd`` of the very inode
   that was checked.
2. **A root is a root.** Every path is resolved inside ``root`` as if it were ``/``: ``openat2``
   with ``RESOLVE_IN_ROOT`` where the kernel has it (Linux >= 5.6), else an equivalent walk, one
   component at a time with ``O_NOFOLLOW``. An absolute symbolic link means the same path inside
   the root; ``..`` never climbs out of it; magic links (``/proc/PID/root``) are not followed.
3. **Below a directory another user owns, no symbolic link is followed at all**, and what is
   read must belong to that user (``Beneath``): otherwise their link would make root read a file
   they could not.

Failures are values, not exceptions: ``Refused`` carries the reason a caller may warn about;
a path that does not exist is ``None``.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any, Dict, List, NamedTuple, Optional, Union

O_PATH = getattr(os, "O_PATH", 0o10000000)
_PATH_FLAGS = O_PATH | os.O_CLOEXEC
# O_NONBLOCK and O_NOCTTY change nothing for a regular file or a directory; they are the net under
# the net, should the type checked a moment before not be what the reopen finds.
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY

SYS_OPENAT2 = 437  # the same number on every architecture
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

#: Symbolic links followed in one resolution before giving up (the kernel's own limit is 40).
MAX_LINKS = 40

#: Whether to use openat2; None until first tried. Tests set it False to exercise the walk.
use_openat2: Optional[bool] = None


class Refused(NamedTuple):
    """Why a path was not read: it exists but is not what may be read."""

    path: str
    reason: str


class Beneath(NamedTuple):
    """A directory owned by one user (a home directory, /run/user/UID): below it no symbolic link
    is followed and only that user's files are read."""

    directory: str
    uid: int


_call: Any = None


def _openat2_call() -> Any:
    """The syscall and its argument record, made once (a ctypes Structure class costs about
    20 us to define: per call it would cost more than the open itself)."""
    global _call
    if _call is None:
        import ctypes

        from . import ops

        class OpenHow(ctypes.Structure):
            _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64))

        syscall = ops._load_libc().syscall
        syscall.restype = ctypes.c_long
        _call = (syscall, OpenHow, ctypes.sizeof(OpenHow), ctypes.byref, ctypes.get_errno)
    return _call


def _openat2(dirfd: int, path: str, flags: int, resolve: int) -> int:
    """openat2(2); raises OSError (ENOSYS where the kernel lacks it)."""
    syscall, how_type, size, byref, get_errno = _openat2_call()
    how = how_type(flags, 0, resolve)
    fd = syscall(SYS_OPENAT2, dirfd, os.fsencode(path), byref(how), size)
    if fd < 0:
        code = get_errno()
        raise OSError(code, os.strerror(code), path)
    return int(fd)


def _components(path: str) -> List[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _walk(rootfd: int, path: str, no_symlinks: bool) -> int:
    """What openat2(RESOLVE_IN_ROOT) does, one component at a time: an O_PATH fd of ``path``
    resolved inside the directory ``rootfd``."""
    stack: List[int] = [os.dup(rootfd)]
    todo = _components(path)
    links = 0
    try:
        while todo:
            part = todo.pop(0)
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            fd = os.open(part, _PATH_FLAGS | os.O_NOFOLLOW, dir_fd=stack[-1])
            info = os.fstat(fd)
            if stat.S_ISLNK(info.st_mode):
                os.close(fd)
                links += 1
                if no_symlinks or links > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = os.readlink(part, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo[:0] = _components(target) or []
                continue
            if todo and not stat.S_ISDIR(info.st_mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(fd)
        found = stack.pop() if len(stack) > 1 else os.dup(stack[0])
        return found
    finally:
        for fd in stack:
            os.close(fd)


def _resolve(dirfd: int, path: str, no_symlinks: bool, beneath: bool) -> int:
    """An O_PATH fd of ``path`` resolved inside the directory ``dirfd`` (openat2, else the walk)."""
    global use_openat2
    resolve = RESOLVE_NO_MAGICLINKS | (RESOLVE_BENEATH if beneath else RESOLVE_IN_ROOT)
    if no_symlinks:
        resolve |= RESOLVE_NO_SYMLINKS
    if use_openat2 is not False:
        try:
            fd = _openat2(dirfd, path.lstrip("/") or ".", _PATH_FLAGS, resolve)
            use_openat2 = True
            return fd
        except OSError as error:
            if error.errno not in (errno.ENOSYS, errno.EPERM) or use_openat2:
                raise
            # ENOSYS: a kernel before 5.6; EPERM: a seccomp filter that refuses it (some
            # container runtimes' default profiles did).
            use_openat2 = False
    return _walk(dirfd, path, no_symlinks)


def _reopen(pathfd: int, flags: int) -> int:
    """A real open of exactly the inode an O_PATH fd holds."""
    return os.open(f"/proc/self/fd/{pathfd}", flags)


def _describe(info: os.stat_result) -> str:
    mode = info.st_mode
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"))
    for test, name in kinds:
        if test(mode):
            return name
    return "not a regular file"


class Resolver:
    """Reads inside one root, keeping the root's and each user directory's O_PATH fd for the
    reads that follow (a scan reads thousands of files); ``close()`` lets them go."""

    def __init__(self, root: str = "/") -> None:
        self.root = root
        self._rootfd: Optional[int] = None
        #: Per user directory: its O_PATH fd, or why nothing below it is read.
        self._bases: Dict[Beneath, Union[int, Refused, None]] = {}

    def close(self) -> None:
        for fd in [self._rootfd, *self._bases.values()]:
            if isinstance(fd, int):
                os.close(fd)
        self._rootfd = None
        self._bases = {}

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> Resolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, path: str, under: Optional[Beneath] = None) -> Union[int, Refused, None]:
        """An O_PATH fd of what ``path`` names inside the root, or why not (None: not there)."""
        try:
            if under is None:
                if self.root == "/":
                    # Nothing lies outside "/": the kernel's own resolution is the same, and cheaper.
                    return os.open(path, _PATH_FLAGS)
                return _resolve(self._root(), path, no_symlinks=False, beneath=False)
            base = self._base(under)
            if not isinstance(base, int):
                return base
            relative = os.path.relpath(path, under.directory)
            if relative.startswith(".."):
                return Refused(path, f"not under {under.directory}")
            return _resolve(base, relative, no_symlinks=True, beneath=True)
        except OSError as error:
            if error.errno == errno.ELOOP and under is not None:
                return Refused(path, f"a symbolic link below {under.directory}, which user {under.uid} controls")
            if error.errno in (errno.EXDEV, errno.ELOOP):
                return Refused(path, "it goes through a link that leads out of the root")
            return None
        except ValueError:  # a NUL in a name taken from a state file
            return None

    def _root(self) -> int:
        if self._rootfd is None:
            self._rootfd = os.open(self.root, _PATH_FLAGS | os.O_DIRECTORY)
        return self._rootfd

    def _base(self, under: Beneath) -> Union[int, Refused, None]:
        if under in self._bases:
            return self._bases[under]
        found: Union[int, Refused, None] = self.open(under.directory)
        if isinstance(found, int):
            info = os.fstat(found)
            if info.st_uid != under.uid or not stat.S_ISDIR(info.st_mode):
                os.close(found)
                found = Refused(under.directory, f"not a directory of user {under.uid}")
        self._bases[under] = found
        return found

    def read(self, path: str, cap: int, under: Optional[Beneath] = None) -> Union[bytes, Refused, None]:
        """The whole regular file at ``path``, at most ``cap`` bytes; Refused when it is something
        else or too big; None when it is not there or cannot be read."""
        opened = self.open(path, under)
        if not isinstance(opened, int):
            return opened
        try:
            info = os.fstat(opened)
            if not stat.S_ISREG(info.st_mode):
                return Refused(path, f"{_describe(info)}, not a regular file")
            if under is not None and info.st_uid != under.uid:
                return Refused(path, f"owned by uid {info.st_uid}, not by user {under.uid}")
            if info.st_size > cap:
                return Refused(path, f"{info.st_size} bytes, more than the {cap} read of such a file")
            # Through /proc/self/fd: exactly the inode just checked, whatever the path leads to now.
            fd = _reopen(opened, _READ_FLAGS)
            try:
                return read_fd(fd, info.st_size, cap)
            finally:
                os.close(fd)
        except OSError:
            return None
        finally:
            os.close(opened)

    def listdir(self, path: str, limit: int, under: Optional[Beneath] = None) -> Union[List[str], Refused, None]:
        """Entry names of the directory at ``path``, at most ``limit``, unsorted."""
        opened = self.open(path, under)
        if not isinstance(opened, int):
            return opened
        try:
            info = os.fstat(opened)
            if not stat.S_ISDIR(info.st_mode):
                return None
            if under is not None and info.st_uid != under.uid:
                return Refused(path, f"owned by uid {info.st_uid}, not by user {under.uid}")
            fd = _reopen(opened, _READ_FLAGS | os.O_DIRECTORY)
            names: List[str] = []
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        names.append(entry.name)
                        if len(names) >= limit:
                            break
            finally:
                os.close(fd)
            return names
        except OSError:
            return None
        finally:
            os.close(opened)

    def stat(self, path: str) -> Optional[os.stat_result]:
        """``os.stat`` of ``path`` resolved inside the root; None when it is not there."""
        opened = self.open(path)
        if not isinstance(opened, int):
            return None
        try:
            return os.fstat(opened)
        finally:
            os.close(opened)


def real_path(root: str, path: str) -> Optional[str]:
    """Where the host path ``path`` really is, resolved inside ``root`` (``R/var/run/netns`` with
    ``R/var/run -> /run`` is ``R/run/netns``, never the ``/run/netns`` outside R); None when it
    is not there or leads out."""
    with Resolver(root) as resolver:
        opened = resolver.open(path)
    if not isinstance(opened, int):
        return None
    try:
        return os.readlink(f"/proc/self/fd/{opened}")
    except OSError:
        return None
    finally:
        os.close(opened)


def read_fd(fd: int, size: int, cap: int) -> Optional[bytes]:
    """Up to ``cap`` bytes of an open file whose fstat said ``size``; None when there are more (it
    grew past the cap while being read). One read for a file whose size is known: asking for a
    byte more than it has and getting less proves the end; /proc files say 0 and are read in a loop."""
    chunk = os.read(fd, size + 1 if size else min(cap + 1, 1 << 16))
    if size and len(chunk) <= size:
        return chunk
    chunks: List[bytes] = [chunk]
    total = len(chunk)
    while chunk and total <= cap:
        chunk = os.read(fd, min(cap + 1 - total, 1 << 20))
        chunks.append(chunk)
        total += len(chunk)
    return None if total > cap else b"".join(chunks)


def read(root: str, path: str, cap: int, under: Optional[Beneath] = None) -> Union[bytes, Refused, None]:
    """One read with a Resolver of its own (see ``Resolver.read``)."""
    with Resolver(root) as resolver:
        return resolver.read(path, cap, under)
