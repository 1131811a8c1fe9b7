"""What the reader asks of the kernel, in one place: sockets made inside namespaces and the
channels over them, namespace fds and cookies, and which channels have news waiting.

The reader's layers call only this (and the channels it makes), so a stand-in with the same
methods runs the reader's whole logic (watch ticks, taint, the hub, rereads) without a kernel:
``tests/sim.py``'s ``SimKernel``, whose world changes on a clock and notifies as the kernel does.
"""

from __future__ import annotations

import select
import socket
from typing import List, Optional, Sequence

from .. import discover
from ..discover import FoundNamespace
from ..host import ops
from ..host.channel import Channel
from .state import hub_allowed


class Kernel:
    """The host's kernel, as the reader uses it."""

    def hub_allowed(self) -> bool:
        """Whether a socket of ours can hear other namespaces' notifications (see ``state``)."""
        return hub_allowed()

    def sockets_in(self, fds: Sequence[Optional[int]]) -> List[ops.SocketOrError]:
        """A netlink socket made inside each namespace (None: our own), or why not."""
        return ops.sockets_in(fds)

    def channel(self, sock: socket.socket, watch: bool, listen_all: bool) -> Channel:
        """A channel over a socket from ``sockets_in``, subscribed when ``watch``; on OSError the
        caller closes ``sock``."""
        return Channel(sock, watch=watch, listen_all=listen_all)

    def netns_of(self, channel: Channel) -> int:
        """A new fd for the namespace a channel's socket is in (our own socket: no side effect)."""
        return ops.socket_netns(channel.sock.fileno())

    def reopen(self, found: FoundNamespace) -> int:
        """A new fd for a namespace whose handle discovery did not keep."""
        return discover.reopen(found)

    def cookie_of_fd(self, fd: int) -> Optional[int]:
        return ops.netns_fd_cookie(fd)

    def close_fd(self, fd: int) -> None:
        ops.close_quietly(fd)

    def ready(self, channels: Sequence[Channel]) -> List[bool]:
        """For each channel, whether anything is queued on it. One poll says which of thousands of
        sockets have anything at all."""
        poller = select.poll()
        position = {}
        for index, channel in enumerate(channels):
            fd = channel.sock.fileno()
            position[fd] = index
            poller.register(fd, select.POLLIN)
        out = [False] * len(channels)
        for fd, _event in poller.poll(0):
            out[position[fd]] = True
        return out


#: The kernel a read uses unless told otherwise.
HOST_KERNEL = Kernel()
