"""LXD: a manager that runs its containers with LXC under lxcpaths of its own.

Its containers are found by ``owners/lxc.py`` (a payload cgroup, an ``[lxc monitor]``): one whose
lxcpath is one of ``LXCPATHS`` (named by the monitor's title, or the only such directory that
lists the name) is LXD's. A container of a project other than "default" is the LXC container
``<project>_<name>``: its owner is named ``PROJECT/NAME`` (``lxd: blog/db``), selectable as
``lxd:blog/db`` or ``lxd:blog_db``.
"""

from __future__ import annotations

from typing import Dict, Tuple

#: Its rows of ``owners.SOURCES`` (through ``lxc.MANAGERS``): the owner kinds it names and the
#: prefix a label shows each with; the ``--netns WORD:NAME`` words and the owner kinds each
#: selects; directories whose entries coming and going mean a namespace may have come or gone.
LABELS: Dict[str, str] = {"lxd": "lxd: "}
SELECTORS: Dict[str, Tuple[str, ...]] = {"lxd": ("lxd",)}
WATCHED: Tuple[str, ...] = ()

#: The owner kind of its containers, and the lxcpaths it runs them under (snap, then deb).
KIND = "lxd"
LXCPATHS: Tuple[str, ...] = ("/var/snap/lxd/common/lxd/containers", "/var/lib/lxd/containers")
