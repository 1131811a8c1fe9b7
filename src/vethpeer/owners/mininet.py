"""Mininet: a host is a shell in a namespace of its own, started as ``bash ... -is mininet:h1``.

Mininet (``mnexec -cdn env PS1=... bash --norc --noediting -is mininet:<host>``; before 2.3
without ``--noediting``) keeps no state on disk: the shell's argv is the only word for the host's
name. Anyone can start a shell with that argv, and Mininet runs only as root, so it counts only
from a process running as root (real and effective uid 0). Its switches (Linux bridges, Open
vSwitch) live in the root namespace and need no owner.
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Tuple

from .base import Owner, Scan, pairs

#: Its rows of ``owners.SOURCES``: the owner kinds it names and the prefix a label shows each
#: with; the ``--netns WORD:NAME`` words and the owner kinds each selects; directories whose
#: entries coming and going mean a namespace may have come or gone (``watch``): none, it has no state.
LABELS: Dict[str, str] = {"mininet": "mininet: "}
SELECTORS: Dict[str, Tuple[str, ...]] = {"mininet": ("mininet",)}
WATCHED: Tuple[str, ...] = ()

_TITLE = "mininet:"
_SHELL_FLAGS = frozenset(("--norc", "--noediting"))


def from_member(pid: int, scan: Scan) -> Optional[Owner]:
    """A Mininet host's shell, run by root, inside the namespace: the host it is."""
    argv = scan.cmdline(pid)
    if len(argv) < 3 or os.path.basename(argv[0]) != "bash" or argv[-2] != "-is":
        return None
    name = argv[-1][len(_TITLE):] if argv[-1].startswith(_TITLE) else ""
    if not name or not _SHELL_FLAGS.issuperset(argv[1:-2]) or scan.process_uid(pid) != 0:
        return None
    return Owner("mininet", name, None, pairs(("shell", str(pid))), f"shell pid {pid}")
