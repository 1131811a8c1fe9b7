"""Signs that the host changed, shared by discovery (``ChangeWatch``) and ``watch`` (``Signals``).

Two cheap ones: this mount namespace's mount table (the kernel flags an open mountinfo file
POLLPRI at every mount and unmount: ``ip netns add``, a runtime's bind mount of a new sandbox), and
an rtnetlink socket subscribed to multicast groups (links, addresses, ids given to namespaces).
Only drained, never parsed: they say when to look, never what is there.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
from typing import Optional, Tuple

from .netlink import NETLINK_LISTEN_ALL_NSID, RTMGRP_NSID, SOL_NETLINK


def open_mount_table(proc: str = "/proc") -> Optional[int]:
    """An fd of our mount table to poll for POLLPRI; None when it cannot be opened."""
    try:
        return os.open(os.path.join(proc, "self/mountinfo"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def subscribed(groups: int, listen_all: bool = False,
               rcvbuf: Optional[int] = None) -> Tuple[Optional[socket.socket], bool]:
    """A non-blocking rtnetlink socket in our namespace subscribed to ``groups``, and whether it
    hears every namespace ours has an id for (``listen_all``: NETLINK_LISTEN_ALL_NSID, which needs
    CAP_NET_BROADCAST for the others' news). (None, False) when no socket can be had."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
    except OSError:
        return None, False
    hears_all = False
    try:
        sock.bind((0, groups))
        if listen_all:
            try:
                sock.setsockopt(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, 1)
                hears_all = True
            except OSError:
                pass
        if rcvbuf is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
    except OSError:
        sock.close()
        return None, False
    return sock, hears_all


def heard(sock: socket.socket) -> bool:
    """Whether anything came on ``sock`` (one message taken): True also for ENOBUFS, when so
    much came that some was dropped."""
    try:
        return bool(sock.recv(1 << 16, socket.MSG_DONTWAIT))
    except BlockingIOError:
        return False
    except OSError:
        return True


class ChangeWatch:
    """Whether a namespace may have been made since the watch was made, to be read with the rest.

    Two signs, both cheap to watch: this mount namespace's mount table changed (the kernel flags
    an open mountinfo file POLLPRI at every mount and unmount: ``ip netns add``, a runtime's bind
    mount of a new sandbox), or this network namespace gave an id to another one (RTNLGRP_NSID: a
    veth wired a new namespace to it, all a process-held one like an LXC container shows).
    """

    def __init__(self, proc: str = "/proc") -> None:
        self.mounts = open_mount_table(proc)
        self.ids, _all = subscribed(RTMGRP_NSID)

    def changed(self) -> bool:
        """True when either sign showed (or the mount table cannot be watched: then nobody can
        say that nothing was named)."""
        if self.mounts is None:
            return True
        poller = select.poll()
        poller.register(self.mounts, select.POLLPRI)
        if any(events & (select.POLLPRI | select.POLLERR) for _fd, events in poller.poll(0)):
            return True
        return self.ids is not None and heard(self.ids)

    def close(self) -> None:
        if self.mounts is not None:
            with contextlib.suppress(OSError):
                os.close(self.mounts)
            self.mounts = None
        if self.ids is not None:
            self.ids.close()
            self.ids = None
