"""vethpeer: the other end of any veth, across every network namespace.

    >>> import vethpeer
    >>> topology = vethpeer.scan()
    >>> for link in topology.find("eth0"):
    ...     peer = topology.peer_of(link.ref)

``scan()`` finds every network namespace on the host, reads each one once over rtnetlink, and
pairs veth and netkit ends by the kernel's own evidence (IFLA_LINK + IFLA_LINK_NETNSID checked with
RTM_GETNSID). Ends whose peer cannot be proven come back in ``Topology.unresolved`` with a reason;
masters, lower devices and vxlan underlays are ``Topology.relations`` (``ports_of``, ``lower_of``,
``relations_of``), proven the same way, and every
namespace carries its owners (container, pod, machine, router) named from the host's local state.
Everything returned is immutable. This module only documents and delegates.
"""

from __future__ import annotations

# Not from typing: importing typing costs ~10 ms before the command line's Ctrl-C guard is up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Generator, Optional, Sequence

    from .events import Event
    from .model import (
        REASONS,
        RELATION_KINDS,
        RELATION_REASONS,
        Holder,
        Link,
        LinkRef,
        Namespace,
        NamespaceId,
        Pair,
        PeerHint,
        Relation,
        Topology,
        TunHolder,
        Tunnel,
        Unresolved,
    )

#: Loaded from ``model`` when first asked for: importing the package stays cheap, so that the
#: command line's Ctrl-C guard (``__main__``) is in place before anything slow is imported.
_FROM_MODEL = frozenset((
    "REASONS", "RELATION_KINDS", "RELATION_REASONS", "Holder", "Link", "LinkRef", "Namespace",
    "NamespaceId", "Pair", "PeerHint", "Relation", "Topology", "TunHolder", "Tunnel", "Unresolved",
))


def __getattr__(name: str) -> Any:
    if name in _FROM_MODEL:
        from . import model

        value = getattr(model, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "REASONS",
    "RELATION_KINDS",
    "RELATION_REASONS",
    "Holder",
    "Link",
    "LinkRef",
    "Namespace",
    "NamespaceId",
    "Pair",
    "PeerHint",
    "Relation",
    "Topology",
    "TunHolder",
    "Tunnel",
    "Unresolved",
    "__version__",
    "scan",
    "watch",
]


def scan(
    *,
    netns_paths: Sequence[str] = (),
    addresses: bool = True,
    sockets: bool = False,
    proc: Optional[str] = None,
    save: Optional[str] = None,
    mount_namespaces: Optional[bool] = None,
    root: str = "/",
) -> Topology:
    """Scan the host and return its Topology.

    netns_paths: namespace files to include even if discovery would not find them.
    addresses:   also read IP addresses (one more dump per namespace).
    sockets:     also look for namespaces held only by another process's socket (pidfd_getfd +
                 SIOCGSKNS). Off by default: the kernel re-tags a socket copied that way with the
                 caller's cgroup-v1 net_cls classid and net_prio index.
    proc:        where the host's procfs is mounted (default: ``root``/proc).
    root:        where the host's filesystem is mounted (``/host`` from a debug container): the
                 netns directories and every runtime's state are read under it.
    save:        write the raw snapshot to this file (JSON) for ``vethpeer --load`` or a bug report.
    mount_namespaces: also look for bind mounts that only another mount namespace has. None (the
                 default): until about 20 ms of reading mount tables, with a warning for the rest.

    Raises OSError when nothing can be read at all (no /proc, no netlink), ValueError when a path in
    ``netns_paths`` is not a namespace file. Everything else (a namespace that vanishes, one that
    may not be entered) becomes a warning in the result.
    """
    from . import scanner

    return scanner.scan(netns_paths=netns_paths, addresses=addresses, sockets=sockets, proc=proc, save=save,
                        mount_namespaces=mount_namespaces, root=root)


def watch(
    *,
    netns_paths: Sequence[str] = (),
    addresses: bool = True,
    sockets: bool = False,
    proc: Optional[str] = None,
    mount_namespaces: Optional[bool] = None,
    root: str = "/",
    include_initial: bool = True,
    timeout: Optional[float] = None,
    hangup_fd: Optional[int] = None,
) -> Generator[Event, None, None]:
    """Watch the host: yield the current state, ``synced``, then one immutable ``Event`` per change.

    Options are ``scan()``'s. ``include_initial=False`` skips the ``state`` events (``synced`` still
    comes, to say when watching began); ``timeout`` ends the generator after that many seconds (None:
    never); ``hangup_fd`` (an output such as stdout's fd) ends it when its reader goes away, even on
    a quiet host where nothing is written. Every change is found by a full scan, so every pair in
    an event carries the same proof as ``scan()``'s; scans are triggered by rtnetlink, mount-table
    and inotify signals, a pass over new processes and a periodic safety rescan (see
    ``vethpeer.watcher`` and the README). Each event has ``time``, ``kind``
    (``vethpeer.watcher.KINDS``), ``topology`` (the scan its refs resolve in) and the fields of its
    kind. Close the generator (or let it end) to free its file descriptors.
    """
    from . import watcher

    return watcher.watch(netns_paths=netns_paths, addresses=addresses, sockets=sockets, proc=proc,
                         mount_namespaces=mount_namespaces, root=root, include_initial=include_initial,
                         timeout=timeout, hangup_fd=hangup_fd)
