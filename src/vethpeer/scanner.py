"""The whole pipeline in one call: discover -> read -> resolve (and optionally save)."""

from __future__ import annotations

from typing import Optional, Sequence

from . import discover, reader, resolve
from . import snapshot as snapshot_io
from .model import Topology
from .reader import Reading
from .snapshot import Snapshot


def read_host(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = True,
              proc: str = "/proc") -> Reading:
    """Discover and read every namespace; the pairing questions are asked and answered."""
    found = discover.discover(proc=proc, extra_paths=netns_paths, sockets=sockets)
    try:
        return reader.read(found, addresses=addresses)
    finally:
        found.close()


def take_snapshot(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = True,
                  proc: str = "/proc") -> Snapshot:
    return read_host(netns_paths=netns_paths, addresses=addresses, sockets=sockets, proc=proc).snapshot


def scan(*, netns_paths: Sequence[str] = (), addresses: bool = True, sockets: bool = True,
         proc: str = "/proc", save: Optional[str] = None) -> Topology:
    reading = read_host(netns_paths=netns_paths, addresses=addresses, sockets=sockets, proc=proc)
    if save is not None:
        with open(save, "w", encoding="utf-8") as handle:
            handle.write(snapshot_io.dumps(reading.snapshot))
    return resolve.resolve(reading.snapshot, reading.pairing)
