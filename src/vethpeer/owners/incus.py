"""Incus: LXD's fork, a manager that runs its containers with LXC under ``/var/lib/incus``.

Laid out as LXD's (``/var/lib/incus/containers/<name>``, the payload cgroup
``lxc.payload.<name>``, the monitor ``[lxc monitor] /var/lib/incus/containers <name>``), and
found the same way by ``owners/lxc.py``. A container of a project other than "default" is the
LXC container ``<project>_<name>``: its owner is ``incus: PROJECT/NAME``, selectable as
``incus:PROJECT/NAME`` or ``incus:PROJECT_NAME``.
"""

from __future__ import annotations

from typing import Dict, Tuple

#: Its rows of ``owners.SOURCES`` (through ``lxc.MANAGERS``): the owner kinds it names and the
#: prefix a label shows each with; the ``--netns WORD:NAME`` words and the owner kinds each
#: selects; directories whose entries coming and going mean a namespace may have come or gone.
LABELS: Dict[str, str] = {"incus": "incus: "}
SELECTORS: Dict[str, Tuple[str, ...]] = {"incus": ("incus",)}
WATCHED: Tuple[str, ...] = ()

#: The owner kind of its containers, and the lxcpath it runs them under.
KIND = "incus"
LXCPATHS: Tuple[str, ...] = ("/var/lib/incus/containers",)
