"""The whole pipeline in one call: discover -> read -> resolve (and optionally save)."""

from __future__ import annotations

from typing import Optional, Sequence

from . import discover, ops, reader, resolve
from . import snapshot as snapshot_io
from .model import Topology
from .reader import Reading
from .snapshot import Snapshot


def read_host(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = False,
              proc: str = "/proc", mount_namespaces: Optional[bool] = None) -> Reading:
    """Discover and read every namespace; the pairing questions are asked and answered."""
    # Until the reader reopens namespaces it was not handed open, discovery keeps one fd each:
    # raise the soft limit first (the reader would raise it anyway).
    ops.raise_fd_limit()
    found = discover.discover(proc=proc, extra_paths=netns_paths, sockets=sockets,
                              mount_namespaces=mount_namespaces)
    try:
        return reader.read(found, addresses=addresses)
    finally:
        found.close()


def take_snapshot(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = False,
                  proc: str = "/proc") -> Snapshot:
    return read_host(netns_paths=netns_paths, addresses=addresses, sockets=sockets, proc=proc).snapshot


def scan(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = False,
         proc: str = "/proc", save: Optional[str] = None, mount_namespaces: Optional[bool] = None) -> Topology:
    reading = read_host(netns_paths=netns_paths, addresses=addresses, sockets=sockets, proc=proc,
                        mount_namespaces=mount_namespaces)
    if save is not None:
        with open(save, "w", encoding="utf-8") as handle:
            handle.write(snapshot_io.dumps(reading.snapshot))
    return resolve.resolve(reading.snapshot, reading.pairing)
