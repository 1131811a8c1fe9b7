"""The standard streams: answers on stdout (a failed write is exit 5), warnings and errors on
stderr, each one escaped line; and what a run without privileges says first.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import TYPE_CHECKING, Any, Iterator, List, Optional, Sequence

from ..errors import OutputError
from ..render.text import escape, printable_in
from .codes import PROG

if TYPE_CHECKING:
    from .. import snapshot as snapshot_io
    from ..model import Topology

# Measured (README, "Privileges"): as a non-root user these give the same answer as root.
# (capability bit, what is missed without it)
_NEEDED_CAPS = (
    (21, "CAP_SYS_ADMIN", "no other network namespace can be entered and read"),
    (19, "CAP_SYS_PTRACE", "other users' processes, and the namespaces they hold, cannot be inspected"),
    (2, "CAP_DAC_READ_SEARCH", "other users' open files are not searched: a namespace held only by an "
                               "open file descriptor is missed"),
)

_SOCKET_CAPS = (
    (12, "CAP_NET_ADMIN", "a socket cannot be asked its namespace (SIOCGSKNS): a namespace held only "
                          "by a socket is missed"),
)


def guard_standard_fds() -> None:
    """Put /dev/null on fd 0, 1 and 2 where they are closed, and streams on sys.stdout/stderr.

    With fd 2 closed (``2>&-``) the first file the tool opens becomes fd 2, and Python sets
    sys.stderr to None, so that print(file=sys.stderr) writes to *stdout*: warnings would land in
    the JSON. A closed stdout gets /dev/null opened read-only, so writing the answer fails with
    EBADF and is reported (exit 5) as the shell's ``>&-`` asked.
    """
    for fd, flags in ((0, os.O_RDONLY), (1, os.O_RDONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            new = os.open(os.devnull, flags)  # the lowest free number: ``fd`` itself
        except OSError:
            continue
        if new != fd:
            os.dup2(new, fd)
            os.close(new)
    if sys.stdout is None:
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - lives as long as the process
    if sys.stderr is None:
        sys.stderr = open(2, "w", errors="backslashreplace", closefd=False)  # noqa: SIM115


def _say(line: str) -> None:
    """One line on stderr; a stderr that cannot be written (2>/dev/full) costs the line, not the answer."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    # What is left in stdout's buffer would be flushed again at exit, with a second error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


@contextlib.contextmanager
def _output_errors() -> Iterator[None]:
    """A write to stdout that fails becomes an OutputError (exit 5); a reader that went away stays
    a BrokenPipeError (exit 0, quietly)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:
        _silence_stdout()
        reason = getattr(error, "strerror", None) or str(error)
        raise OutputError(f"cannot write output: {reason}") from None


def _write_output(text: str) -> None:
    stream = sys.stdout
    # Names were escaped for the terminal already; what its encoding cannot show becomes \uXXXX
    # here (table cells got that before alignment: this is the net under everything else).
    text = printable_in(text, getattr(stream, "encoding", None))
    with _output_errors():
        stream.write(text)
        stream.flush()


# --- --netns --------------------------------------------------------------------------------------


# --- peer -----------------------------------------------------------------------------------------


def _write_bytes(data: bytes) -> None:
    stream = getattr(sys.stdout, "buffer", None)
    with _output_errors():
        if stream is None:
            raise OSError(errno.EBADF, "stdout takes no bytes")
        sys.stdout.flush()
        stream.write(data)
        stream.flush()


def _note(text: str) -> None:
    _say(f"{PROG}: note: {escape(text)}")


def _print_warnings(topology: Topology, quiet: bool, said: int = 0) -> None:
    """The scan's warnings on stderr, but for the first ``said`` ones, which were said already."""
    if quiet:
        return
    for warning in topology.warnings[said:]:
        _say(f"{PROG}: warning: {escape(warning)}")


def missing_capabilities(sockets: bool, status_path: str = "/proc/self/status") -> List[str]:
    """A warning per capability the scan needs and this process lacks (none when it cannot tell).

    Several of these losses are silent in discovery (an fd directory that cannot be listed looks
    like one without namespaces), so they are named from the capability set itself.
    """
    from ..host import ops

    effective = ops.effective_caps(status_path)
    if effective is None:
        return []
    wanted = _NEEDED_CAPS + (_SOCKET_CAPS if sockets else ())
    return [f"without {name}, {consequence}" for bit, name, consequence in wanted if not effective >> bit & 1]


def _unreadable(namespaces: Sequence[Any]) -> int:
    return sum(1 for ns in namespaces if ns.error is not None)


def _unprivileged(warnings: Sequence[str]) -> bool:
    """Whether this run lacked a capability the scan needs (missing_capabilities said so)."""
    return any(warning.startswith("without CAP_SYS_ADMIN") for warning in warnings)


def access_summary(snap: snapshot_io.Snapshot) -> Optional[str]:
    """What a run without the privileges to look at the host must say first: how much of it could
    not be read, and how to fix that. None when nothing is missing for lack of privileges."""
    unread = _unreadable([record.namespace for record in snap.namespaces])
    if not unread or not _unprivileged(snap.warnings):
        return None
    total = len(snap.namespaces)
    return (f"{unread} of {total} network namespaces could not be read without privileges: run as root "
            f"(sudo {PROG} ...), or give it CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH "
            "(see 'Privileges' in the README)")


def _unread_hint(topology: Topology) -> Optional[str]:
    """For the list table: '1 namespace could be read; 3 could not (run as root)', or None."""
    unread = _unreadable(topology.namespaces)
    if not unread:
        return None
    read = len(topology.namespaces) - unread
    fix = "run as root" if _unprivileged(topology.warnings) else "see the warnings"
    return f"{_count(read, 'namespace')} could be read; {unread} could not ({fix})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
