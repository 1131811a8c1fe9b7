"""The reader's tunables and its state for one namespace (``NsState``): record, watch, taint.
"""

from __future__ import annotations

import errno
import os
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from ..discover import FoundNamespace
from ..host import netlink, ops
from ..host.channel import Channel
from ..host.netlink import LinkRecord
from ..model import PEER_KINDS

#: How often ends that changed during the scan are read again before they are called ``changing``.
REREADS = 3

#: Attempts at a link dump of a namespace watched while it is dumped. A cut dump (NLM_F_DUMP_INTR:
#: the device list changed meanwhile) of a busy root namespace was made again up to 8 times, each
#: a thousand links, under steady churn. Watched, it can be kept: every device that changed during
#: the dump is in a notification (its ends are suspect as for any change); the kernel walks
#: devices by ifindex (since 6.7), so the others are each reported once; older kernels walk hash
#: chains and may skip or repeat an unchanged one: repeats are dropped, and an end whose peer is
#: missing from a cut dump has that namespace read again (``confirm``).
WATCHED_DUMP_ATTEMPTS = 2

#: A watched namespace with at least this many links, of which at most ``REFRESH_MAX`` changed,
#: has those read again one by one (RTM_GETLINK) instead of being dumped again: a busy root
#: namespace under churn was dumped again (a thousand links) in every reread round. The watch
#: says which links changed since the dump; the others are as read.
REFRESH_MIN_LINKS = 64
REFRESH_MAX = 64

_FOREVER = 1 << 62

#: The hub (below) is used when root's veths reach at least this share of the namespaces.
HUB_SHARE = 0.9


class Tuning(NamedTuple):
    """Choices a read otherwise makes by itself; tests and benchmarks make them instead."""

    #: Watch namespaces through the root namespace's socket: None decides by the host's wiring
    #: (root's veths reach at least ``HUB_SHARE`` of the namespaces), True/False force it.
    hub: Optional[bool] = None
    #: A watched namespace with at least this many links is read again link by link (``refresh``).
    refresh_min_links: int = REFRESH_MIN_LINKS


#: The choices a read makes by itself.
DEFAULT_TUNING = Tuning()

#: The kernel's fixed inode for the initial user namespace (PROC_USER_INIT_INO).
_INIT_USER_NS_INODE = 0xEFFFFFFD
_CAP_NET_BROADCAST = 11


def hub_allowed(proc: str = "/proc") -> bool:
    """Whether another namespace's notifications can reach us: NETLINK_LISTEN_ALL_NSID delivers
    them only to a socket whose opener has CAP_NET_BROADCAST in that namespace's user namespace,
    which holding it in the initial user namespace guarantees."""
    try:
        if os.stat(f"{proc}/self/ns/user").st_ino != _INIT_USER_NS_INODE:
            return False
    except OSError:
        return False
    effective = ops.effective_caps(f"{proc}/self/status")
    return effective is not None and bool(effective >> _CAP_NET_BROADCAST & 1)

#: Reasons that may be an artefact of reading while things changed.
_RETRY = frozenset(("peer-missing", "unproven", "peer-gone", "peer-netns-unreachable"))


def _enter_error(error: OSError) -> str:
    if error.errno == errno.EPERM:
        return "cannot enter it: operation not permitted (needs CAP_SYS_ADMIN)"
    if error.errno == errno.EINVAL:
        return "cannot enter it: not a network namespace (a stale file?)"
    return f"cannot enter it: {error.strerror}"


def _open_error(error: OSError) -> str:
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied opening it"
    if error.errno == errno.ENOENT:
        return "it went away during the scan"
    return f"cannot open it: {error.strerror}"


def _has_cross_ends(links: Sequence[LinkRecord]) -> bool:
    return any(link.kind in PEER_KINDS and link.link_netnsid is not None for link in links)


def _relevant(link: LinkRecord) -> Tuple[object, ...]:
    """What a notification must leave alone for a link's record to still hold (carrier, flags and
    counters change all the time and say nothing about what it is plugged into)."""
    return (link.name, link.kind, link.link, link.link_netnsid, link.master)


class NsState:
    """The reader's state for one namespace: its record so far and how it is being watched."""

    __slots__ = ("_by_index", "addresses", "channel", "cookie", "cut", "dumped", "error", "found", "inode",
                 "links", "overflow", "partial", "proxy", "read_at", "stuck", "taint", "until", "watching")

    def __init__(self, found: FoundNamespace) -> None:
        self.found = found
        self.inode = found.inode
        self.channel: Optional[Channel] = None
        #: The channel is subscribed since before the last dump (its events say what changed).
        self.watching = False
        self.links: List[LinkRecord] = []
        self._by_index: Optional[Dict[int, LinkRecord]] = None
        self.addresses: List[netlink.AddressRecord] = []
        self.cookie: Optional[int] = None
        self.error: Optional[str] = found.error
        if found.fd is None and not found.openers and found.error is None:
            self.error = "could not be opened"
        #: Ticks: when the last dump started, and when its watch ended (``_FOREVER`` while open).
        self.dumped = -1
        self.until = -1
        #: ifindex -> tick: links read again one by one since the last dump (``_Reader.refresh``).
        self.read_at: Dict[int, int] = {}
        #: ifindexes that notifications touched since the last dump; ``overflow``: some were lost.
        self.taint: Set[int] = set()
        self.overflow = False
        #: The last dump was cut by a change and kept (watched: see ``WATCHED_DUMP_ATTEMPTS``).
        self.cut = False
        #: Its socket stopped answering: no more questions go to it.
        self.stuck = False
        #: Not watched itself but through the hub, without a gap since its last dump (as of the
        #: last ``confirm``; ``taint`` then holds what the hub heard about it).
        self.proxy = False
        #: Read in part (None: whole): the ifindexes asked for one by one (``Dumps._read_part``);
        #: the record holds those of them that exist, and notifications about others are no news.
        self.partial: Optional[Set[int]] = None

    def tick_of(self, index: int) -> int:
        """When the record of the link at ``index`` was read (or found absent)."""
        return self.read_at.get(index, self.dumped) if self.read_at else self.dumped

    @property
    def by_index(self) -> Dict[int, LinkRecord]:
        """The links by ifindex (built only when a notification or a retry needs it)."""
        if self._by_index is None:
            self._by_index = {link.ifindex: link for link in self.links}
        return self._by_index


def _watched(ns: NsState) -> bool:
    return ns.watching or ns.proxy
