"""A file read in a thread of its own while the interpreter is still importing what will use it.

A targeted question spends about 40 ms importing the pipeline before discovery reads the mount
table, and the kernel takes about 21 ms to write a mount table of 10,000 /run/netns names: read
meanwhile, on the other core, that is no longer on the answer's path. The thread does nothing but
open, read and close (the GIL is let go for each read), and its result is taken once.
"""

from __future__ import annotations

import os
import threading
from typing import List, Optional


class EarlyRead:
    """``path``'s bytes, read from now on in a daemon thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._data: Optional[bytes] = None
        self._error: Optional[OSError] = None
        self._thread = threading.Thread(target=self._read, name="vethpeer-early-read", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                self._data = read_all(fd)
            finally:
                os.close(fd)
        except OSError as error:
            self._error = error

    def text(self) -> str:
        """What was read, as ``open(path, encoding="utf-8", errors="surrogateescape").read()``
        would give it (waiting for the read to end); the OSError it met, raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._data is not None
        return self._data.decode("utf-8", "surrogateescape")


def read_all(fd: int) -> bytes:
    """All of a /proc file. The kernel hands a mount table out a page per read(), and each read
    lets the GIL go and waits to have it back from the importing thread: copied by sendfile into
    a memory file instead, it is one system call. Where that is refused (an older kernel's procfs,
    no memfd), read by read."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        try:
            copy = memfd_create("vethpeer-early", getattr(os, "MFD_CLOEXEC", 1))
        except OSError:
            copy = -1
        if copy >= 0:
            try:
                total = 0
                while True:
                    sent = os.sendfile(copy, fd, None, 1 << 26)
                    if not sent:
                        break
                    total += sent
                return os.pread(copy, total, 0) if total else b""
            except OSError:
                os.lseek(fd, 0, os.SEEK_SET)  # (nothing was taken, or it is read again from the start)
            finally:
                os.close(copy)
    chunks: List[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
