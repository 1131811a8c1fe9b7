"""containers/storage, shared by Podman and CRI-O: which containers exist, and their OCI specs.

- ``<graphroot>/<driver>-containers/containers.json``: a list of ``{"id", "names", "metadata"}``;
- ``<graphroot or runroot>/<driver>-containers/<id>/userdata/config.json``: the OCI spec the
  container runs with (Podman keeps it under the graphroot, CRI-O under the runroot), whose
  ``linux.namespaces`` network path is its namespace and whose ``io.container.manager``
  annotation says who made it ("libpod" or "cri-o");
- ``.../userdata/pidfile``: the container's pid, written by conmon.

Roots: rootful /var/lib/containers/storage and /run/containers/storage (or what
/etc/containers/storage.conf says); rootless, per user with a /run/user/<uid>:
``~/.local/share/containers/storage`` and ``/run/user/<uid>/containers``. A user's roots are
theirs to fill: below their home and their /run/user directory no symbolic link is followed, only
files they own are read, and all of it costs the scan at most ``USER_BUDGET`` (``Host.read``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from ..host.procfs import CAP_JSON, Host, decode, parse_json, pattern, read_int
from ..host.safefile import Beneath
from .base import Scan, per_scan

ROOTFUL = ("/var/lib/containers/storage", "/run/containers/storage")
_CONF = pattern(r'^\s*(graphroot|runroot)\s*=\s*"([^"]+)"', re.MULTILINE)
_ID = pattern(r"[0-9a-f]{64}")


class Root(NamedTuple):
    """One storage root: where its containers are listed, and whose it is."""

    graph: str
    run: str
    #: The user a rootless root belongs to; None for root's.
    uid: Optional[int]
    #: For a user's root: the directories of theirs below which nothing is trusted.
    graph_under: Optional[Beneath] = None
    run_under: Optional[Beneath] = None


class Stored(NamedTuple):
    id: str
    names: Tuple[str, ...]
    #: The user a rootless container belongs to; None for root's.
    uid: Optional[int]
    #: "libpod", "cri-o", or None when the spec could not be read.
    manager: Optional[str]
    annotations: Dict[str, str]
    #: The spec's network namespace path; "" when the spec asks for none (host network).
    netns: Optional[str]
    pid: Optional[int]

    @property
    def name(self) -> str:
        return self.names[0] if self.names else self.id[:12]


def roots(host: Host) -> List[Root]:
    """Root's storage, and every user's with a runtime directory."""
    graph, run = ROOTFUL
    conf = host.read_text("/etc/containers/storage.conf")
    if conf:
        for key, value in _CONF.findall(conf):
            if value.startswith("/"):
                graph, run = (value, run) if key == "graphroot" else (graph, value)
    found: List[Root] = [Root(graph, run, None)]
    users = [int(entry) for entry in host.listdir("/run/user") if entry.isdigit()]
    if users:
        homes = _homes(host)
        for uid in users:
            home = homes.get(uid)
            if home and home != "/":
                runtime = f"/run/user/{uid}"
                found.append(Root(f"{home}/.local/share/containers/storage", f"{runtime}/containers", uid,
                                  Beneath(home, uid), Beneath(runtime, uid)))
    return found


def _homes(host: Host) -> Dict[int, str]:
    homes: Dict[int, str] = {}
    text = host.read_text("/etc/passwd", 4 * 1024 * 1024)
    for line in (text or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 7 and fields[2].isdigit() and fields[5].startswith("/"):
            homes.setdefault(int(fields[2]), fields[5].rstrip("/"))
    return homes


def spec_netns(spec: Any) -> Optional[str]:
    """The OCI spec's network namespace path: a path to join, "" for a new one made by the runtime
    (or none at all: host network), None when the spec does not say."""
    linux = spec.get("linux") if isinstance(spec, dict) else None
    namespaces = linux.get("namespaces") if isinstance(linux, dict) else None
    if not isinstance(namespaces, list):
        return None
    for entry in namespaces:
        if isinstance(entry, dict) and entry.get("type") == "network":
            path = entry.get("path")
            return path if isinstance(path, str) else None
    return ""


_DECODER = json.JSONDecoder()


def read_spec(raw: Optional[bytes]) -> Optional[Tuple[Dict[str, str], Optional[str]]]:
    """(annotations, network namespace path as ``spec_netns`` gives it) from an OCI spec's bytes,
    or None when it is not JSON.

    A spec is 3-20 KB (mounts, capabilities, a seccomp profile) and parsing all of it costs
    40 us for a 10 KB one; only two small values are needed. In JSON text an unescaped
    ``"annotations":`` can only be a key (a quote inside a string is always escaped), so when
    each key occurs exactly once its value is decoded where it stands (12 us). A key seen twice
    (an annotation named "namespaces", say) falls back to the full parse.
    """
    if raw is None:
        return None
    text = decode(raw)
    values: List[Any] = []
    for key in ('"annotations":', '"namespaces":'):
        count = text.count(key)
        if count == 0 and key == '"annotations":':
            values.append({})
            continue
        if count != 1:
            break
        try:
            start = text.find(key) + len(key)
            while text[start : start + 1] in (" ", "\n", "\t", "\r"):  # an indented spec (`runc spec`)
                start += 1
            value, _ = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            break
        values.append(value)
    else:
        notes, namespaces = values
        if isinstance(notes, dict) and isinstance(namespaces, list):
            return annotations_of({"annotations": notes}), spec_netns({"linux": {"namespaces": namespaces}})
    spec = parse_json(raw)
    if spec is None:
        return None
    return annotations_of(spec), spec_netns(spec)


def annotations_of(spec: Any) -> Dict[str, str]:
    found = spec.get("annotations") if isinstance(spec, dict) else None
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


@per_scan
def read_all(scan: Scan) -> List[Stored]:
    """Every container in every storage root, read once per scan (Podman and CRI-O share it)."""
    host = scan.host
    listed: List[Tuple[str, Root, str, Any, Any]] = []
    seen = set()
    for root in roots(host):
        # A user's share of the scan is bounded (Host.charge): their listing may be as long as
        # they like, and each entry costs two look-ups.
        with host.charge(root.uid):
            for driver_dir in host.listdir(root.graph, root.graph_under):
                if not driver_dir.endswith("-containers"):
                    continue
                listing = host.read_json(f"{root.graph}/{driver_dir}/containers.json", 16 * CAP_JSON,
                                         root.graph_under)
                if not isinstance(listing, list):
                    continue
                for item in listing:
                    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                        continue
                    cid = item["id"]
                    if not _ID.fullmatch(cid) or cid in seen:
                        continue
                    seen.add(cid)
                    listed.append((cid, root, driver_dir, item.get("names"), item.get("metadata")))
    scan.register(cid for cid, _root, _dir, _names, _meta in listed)
    found: List[Stored] = []
    for cid, root, driver_dir, names, metadata in listed:
        with host.charge(root.uid):
            if host.over_budget(root.uid, root.graph):
                continue
            found.append(_stored(scan, cid, root, driver_dir, names, metadata))
    return found


def _stored(scan: Scan, cid: str, root: Root, driver_dir: str, names: Any, metadata: Any) -> Stored:
    host = scan.host
    spec = None
    places = ((root.graph, root.graph_under), (root.run, root.run_under))
    for base, under in places:
        spec = read_spec(host.read(f"{base}/{driver_dir}/{cid}/userdata/config.json", CAP_JSON, under))
        if spec is not None:
            break
    annotations, netns = spec if spec is not None else ({}, None)
    pid = None
    if scan.inode_of_path(netns) is None:  # the pid is only needed when the path says nothing
        for base, under in reversed(places):
            pid = read_int(host.read(f"{base}/{driver_dir}/{cid}/userdata/pidfile", under=under))
            if pid is not None:
                break
    clean = tuple(n for n in names if isinstance(n, str) and n) if isinstance(names, list) else ()
    if not clean and isinstance(metadata, str):  # CRI-O keeps the name in the metadata blob
        meta = parse_json(metadata.encode("utf-8", "surrogateescape"))
        if isinstance(meta, dict) and isinstance(meta.get("name"), str):
            clean = (meta["name"],)
    manager = annotations.get("io.container.manager")
    if manager is None and spec is not None:
        manager = "libpod" if any(k.startswith("io.podman.") for k in annotations) else None
    return Stored(cid, clean, root.uid, manager, annotations, netns, pid)
