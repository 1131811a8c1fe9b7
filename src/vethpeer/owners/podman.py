"""Podman, root and rootless: container names, and the pod where the state on disk tells it.

- containers/storage (see ``storage``) lists every container with its names; its spec's network
  path is ``/run/netns/netns-<uuid>`` (rootless: ``/run/user/<uid>/netns/netns-<uuid>``), or
  ``/proc/<pid>/ns/net`` for a container that joins another's (every container of a pod joins
  the infra container's), and conmon's ``pidfile`` gives its pid.
- A pod's infra container is named ``<pod id[:12]>-infra``. The pod's name is only in Podman's
  database (BoltDB ``libpod/bolt_state.db`` up to 4.x, SQLite ``db.sql`` from 4.8): both store
  the pod's config as JSON text starting ``{"id":"<64 hex>","name":"<name>"``, which is found by
  scanning the file's bytes, without a database library or lock.
- cgroups: ``libpod-<id>(.scope)``; in a pod ``/libpod_parent/<pod id>/libpod-<id>`` (cgroupfs)
  or ``machine-libpod_pod_<pod id>.slice/libpod-<id>.scope`` (systemd).
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Tuple

from ..host.procfs import CAP_DB, decode, pattern
from . import storage
from .base import Owner, Scan, pairs, per_scan

#: Its rows of ``owners.SOURCES``: the owner kinds it names and the prefix a label shows each
#: with (``model.owner_label``); the ``--netns WORD:NAME`` words and the owner kinds each selects;
#: directories whose entries coming and going mean a namespace may have come or gone (``watch``).
LABELS: Dict[str, str] = {"podman": "podman: "}
SELECTORS: Dict[str, Tuple[str, ...]] = {"podman": ("podman",)}
WATCHED: Tuple[str, ...] = ("/run/user",)  # rootless: /run/user/<uid>/netns

_INFRA = pattern(r"([0-9a-f]{12})-infra")
_DB_CONFIG = pattern(rb'\{"id":"([0-9a-f]{64})","name":("(?:[^"\\]|\\.){1,512}")')
_CGROUP = pattern(r"(?:^|/)libpod-([0-9a-f]{64})(?:\.scope)?(?:/|$)")
_CGROUP_POD = pattern(r"(?:libpod_parent/|libpod_pod_)([0-9a-f]{64})")
DATABASES = ("libpod/bolt_state.db", "db.sql")


@per_scan
def db_names(scan: Scan) -> Dict[str, str]:
    """Pod and container names by id from Podman's databases, read once per scan."""
    names: Dict[str, str] = {}
    for root in storage.roots(scan.host):
        for database in DATABASES:
            raw = scan.host.read(f"{root.graph}/{database}", CAP_DB, root.graph_under)
            if not raw:
                continue
            for match in _DB_CONFIG.finditer(raw):
                try:
                    name = json.loads(decode(match.group(2)))
                except ValueError:
                    continue
                if isinstance(name, str) and name:
                    names.setdefault(decode(match.group(1)), name)
    return names


def _pod_name(scan: Scan, pod_id: str) -> Optional[str]:
    names = db_names(scan)
    if len(pod_id) == 64:
        return names.get(pod_id)
    return next((name for full, name in names.items() if full.startswith(pod_id)), None)


def owner(stored: storage.Stored, how: str, scan: Scan, pod_id: Optional[str] = None) -> Owner:
    pod_name = _pod_name(scan, pod_id) if pod_id else None
    return Owner(
        "podman",
        stored.name,
        stored.id,
        pairs(
            ("pod", pod_name),
            ("pod_id", pod_id),
            ("infra", "true" if _INFRA.fullmatch(stored.name) else None),
            ("rootless_uid", str(stored.uid) if stored.uid is not None else None),
        ),
        how,
    )


def from_state(scan: Scan) -> None:
    placed: Dict[int, List[Tuple[storage.Stored, str]]] = {}
    for stored in storage.read_all(scan):
        if stored.manager not in ("libpod", None):
            continue
        inode = scan.inode_of_path(stored.netns)
        how = f"storage userdata config.json netns {stored.netns}"
        if inode is None and stored.pid is not None:
            inode, how = scan.inode_of_pid(stored.pid, stored.id), "storage userdata pidfile"
        if inode is not None:
            placed.setdefault(inode, []).append((stored, how))
    for inode, members in placed.items():
        # Containers sharing a namespace with an infra container are that pod's.
        pod_id = next((m.group(1) for s, _ in members for m in [_INFRA.fullmatch(s.name)] if m), None)
        members.sort(key=lambda item: (bool(_INFRA.fullmatch(item[0].name)), item[0].name))
        for stored, how in members:
            scan.add(inode, owner(stored, how, scan, pod_id), 2 if _INFRA.fullmatch(stored.name) else 0,
                     by=stored.uid)  # a user's storage names only a namespace they could have made


def from_cgroup(path: str, scan: Scan) -> Optional[Owner]:
    match = _CGROUP.search(path)
    if match is None:
        return None
    cid = match.group(1)
    pod = _CGROUP_POD.search(path)
    known = _storage_index(scan).get(cid)
    if known is None:
        known = storage.Stored(cid, (), None, "libpod", {}, None, None)
    return owner(known, f"cgroup {path}", scan, pod.group(1) if pod else None)


@per_scan
def _storage_index(scan: Scan) -> Dict[str, storage.Stored]:
    """Every stored container by id."""
    return {stored.id: stored for stored in storage.read_all(scan)}
