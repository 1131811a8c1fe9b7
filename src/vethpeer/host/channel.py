"""The rtnetlink socket of one namespace (``Channel``): requests out, replies and notifications in.

``netlink`` says what the messages are (constants, requests, pure parsers); this is the socket that
carries them, bound to whatever namespace it was created in (see ``ops.sockets_in``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import os
import select
import socket
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple, TypeVar

from .netlink import (
    _NLA_TYPE_MASK,
    _NSID_REPLY,
    _RECV_SIZE,
    _S32,
    _U64,
    NETLINK_GET_STRICT_CHK,
    NETLINK_LISTEN_ALL_NSID,
    NETLINK_ROUTE,
    NETNSA_NSID,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWNSID,
    RTMGRP_LINK,
    RTMGRP_NSID,
    SO_NETNS_COOKIE,
    SOL_NETLINK,
    AddressRecord,
    LinkEvent,
    LinkRecord,
    NetlinkError,
    _recv_buffer,
    address_dump_request,
    link_by_name_request,
    link_dump_request,
    link_filtered_request,
    link_get_request,
    link_request,
    nsid_by_fd_request,
    nsid_via_request,
    parse_address,
    parse_link,
    parse_nsid,
    parse_stream,
)

T = TypeVar("T")

# --- the socket --------------------------------------------------------------------------------


def new_socket() -> socket.socket:
    """A NETLINK_ROUTE socket in the calling thread's current network namespace."""
    # No NETLINK_GET_STRICT_CHK: it only matters for filtered dumps, which are not used, and it is
    # one more syscall per namespace.
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)


class NetlinkTimeout(OSError):
    """The namespace's socket gave no answer within the bound."""


class DumpTooLong(OSError):
    """A dump had more answers than its caller's limit; the socket is left in the middle of it
    (the kernel makes the rest only as it is read): close the channel."""


#: How long one answer may take before the namespace is given up (a stuck rtnl lock, a namespace
#: being torn down). Kernel answers normally take microseconds.
ANSWER_TIMEOUT_S = 2.0

#: A dump flagged NLM_F_DUMP_INTR is asked again this often; after that its last result is used as
#: it is (each record is still something the kernel said; the change that cut it is a watched event).
DUMP_ATTEMPTS = 8

# Plain ints: or-ing the socket module's enum members costs more than the recv they are for.
_MSG_TRUNC = int(socket.MSG_TRUNC)
_MSG_DONTWAIT = int(socket.MSG_DONTWAIT)
_ANCILLARY_SIZE = socket.CMSG_SPACE(4)
_SO_RCVBUFFORCE = 33
_HUB_RCVBUF = 4 << 20
#: Questions sent in one go on one socket before their answers are read (each answer is an skb
#: in the socket's receive queue: a few dozen stay far below its size).
PIPELINE = 32


class Dump(NamedTuple):
    records: List[LinkRecord]
    #: Every attempt was cut by a change (NLM_F_DUMP_INTR).
    interrupted: bool


_portids = itertools.count()


def _bind(sock: socket.socket, groups: int = RTMGRP_LINK) -> int:
    """Subscribe to link notifications (or ``groups``) and return the socket's portid.

    Choosing the portid ourselves spares a getsockname per namespace. Portids are per network
    namespace and ours sit in a range autobind never hands out (it counts down from -4096); should
    one still be taken there, the kernel picks.
    """
    portid = 0x40000000 | (os.getpid() & 0xFFFFF) << 10 | next(_portids) & 0x3FF
    try:
        sock.bind((portid, groups))
        return portid
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
    sock.bind((0, groups))
    return int(sock.getsockname()[0])


class Channel:
    """Request/response on one netlink socket (which stays bound to its namespace).

    A *watching* channel is also subscribed to link notifications before anything is dumped
    through it: every link change in its namespace from then on lands in ``events`` (or sets
    ``overflow`` when the kernel had to drop some), which is how a scan knows what changed while it
    read. Subscribing needs no privilege and changes nothing anyone else can see.

    A *listen_all* channel hears, besides its own namespace, every namespace its namespace has an
    id for (NETLINK_LISTEN_ALL_NSID; the kernel tags each such notification with that id, and
    delivers it only with CAP_NET_BROADCAST over the other namespace), and the ids its
    namespace's table gains or loses (``nsid_changes``). One such channel in the root namespace
    watches a whole host for the price of one subscription, where a subscription per namespace
    costs a walk over every subscribed socket on the host each (quadratic). ``listen_all`` is
    False after construction when the kernel refused it.
    """

    __slots__ = ("_datagram_nsid", "_seq", "_timeout_ms", "dump_attempts", "events", "listen_all", "nsid_changes",
                 "overflow", "portid", "sock")

    def __init__(self, sock: socket.socket, watch: bool = False, timeout: float = ANSWER_TIMEOUT_S,
                 listen_all: bool = False) -> None:
        self.sock = sock
        self._seq = 0
        self.events: List[LinkEvent] = []
        self.overflow = False
        self.portid: Optional[int] = None
        self.listen_all = False
        self.nsid_changes: Optional[List[int]] = None
        self._datagram_nsid: Optional[int] = None
        #: Link dumps made in all when each is cut by a change (see ``dump_links``).
        self.dump_attempts = DUMP_ATTEMPTS
        # The bound on waiting is applied only when a read would wait (see _receive_into): an
        # answer is nearly always queued by the time send() returns, since the kernel handles a
        # request in the sender's context, and a per-socket SO_RCVTIMEO costs a syscall per namespace.
        self._timeout_ms = max(1, int(timeout * 1000))
        if listen_all:
            self.portid = _bind(sock, RTMGRP_LINK | RTMGRP_NSID)
            try:
                sock.setsockopt(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, 1)
            except OSError:
                pass
            else:
                self.listen_all = True
                self.nsid_changes = []
                # Every namespace's news lands here: room for bursts between reads (our own
                # socket's buffer; needs CAP_NET_ADMIN beyond rmem_max, else the default stays).
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _HUB_RCVBUF)
        elif watch:
            self.portid = _bind(sock)

    def close(self) -> None:
        self.sock.close()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _receive(self, flags: int = 0) -> bytes:
        return bytes(_recv_buffer[: self._receive_into(flags)])

    def _recv_tagged(self, flags: int) -> int:
        """recvmsg, keeping the id a notification from another namespace is tagged with."""
        size, ancillary, _flags, _address = self.sock.recvmsg_into([_recv_buffer], _ANCILLARY_SIZE, flags)
        self._datagram_nsid = None
        for level, kind, data in ancillary:
            if level == SOL_NETLINK and kind == NETLINK_LISTEN_ALL_NSID and len(data) >= 4:
                self._datagram_nsid = int(_S32.unpack_from(data)[0])
        return int(size)

    def _receive_into(self, flags: int = 0) -> int:
        """One datagram into the shared buffer; returns its size."""
        while True:
            try:
                # MSG_TRUNC makes netlink return the datagram's real length, so truncation is detected.
                if self.listen_all:
                    size = self._recv_tagged(_MSG_TRUNC | _MSG_DONTWAIT)
                else:
                    size = self.sock.recv_into(_recv_buffer, _RECV_SIZE, _MSG_TRUNC | _MSG_DONTWAIT)
            except BlockingIOError:
                if flags:
                    raise
                # Nothing queued yet: wait, within the bound.
                poller = select.poll()
                poller.register(self.sock.fileno(), select.POLLIN)
                if not poller.poll(self._timeout_ms):
                    raise NetlinkTimeout(errno.ETIMEDOUT,
                                         f"no answer within {self._timeout_ms / 1000:g} s") from None
                continue
            except OSError as error:
                if error.errno != errno.ENOBUFS:
                    raise
                # Notifications were dropped because they came faster than they were read: what
                # changed is no longer known, so everything in this namespace counts as changed.
                self.overflow = True
                continue
            if size > _RECV_SIZE:
                raise NetlinkError(errno.EMSGSIZE, f"netlink message of {size} bytes truncated")
            return int(size)

    def drain(self) -> None:
        """Take in every notification already queued, without waiting."""
        unused: List[LinkRecord] = []
        while True:
            try:
                data = self._receive(_MSG_DONTWAIT)
            except BlockingIOError:
                return
            parse_stream(data, -1, -1, parse_link, unused, self.portid, self.events,
                         self._datagram_nsid, self.nsid_changes)

    def _exchange(self, request_for_seq: Callable[[int], bytes], expect: int,
                  parse: Callable[[bytes, int, int], Optional[T]],
                  attempts: int = DUMP_ATTEMPTS, limit: Optional[int] = None) -> Tuple[List[T], bool]:
        out: List[T] = []
        for _attempt in range(max(1, attempts)):
            seq = self._next_seq()
            self.sock.send(request_for_seq(seq))
            out = []
            interrupted = False
            while True:
                chunk = parse_stream(self._receive(), seq, expect, parse, out, self.portid, self.events,
                         self._datagram_nsid, self.nsid_changes)
                interrupted = interrupted or chunk.interrupted
                if limit is not None and len(out) > limit:
                    raise DumpTooLong(errno.E2BIG, f"more than {limit} answers")
                if chunk.done:
                    break
            if not interrupted:
                return out, False
        return out, True

    def dump_links(self) -> Dump:
        """Every link; a dump cut by a change (NLM_F_DUMP_INTR) is made again, ``dump_attempts``
        times in all, and the last one is returned marked ``interrupted``."""
        records, interrupted = self._exchange(link_dump_request, RTM_NEWLINK, parse_link, self.dump_attempts)
        return Dump(records, interrupted)

    def links_filtered(self, kind: Optional[str] = None, master: int = 0, limit: Optional[int] = None) -> Dump:
        """The links of one ``kind``, or enslaved to ``master``, by a dump the kernel filters
        (``link_filtered_request``): devices it does not match cost it nothing (a whole dump of
        a root namespace with ids for 10,000 namespaces walks that id table once per device).
        Whatever the kernel returns is filtered here too (a kind no module registered is not
        filtered by the kernel). Past ``limit`` links the dump is left unread: DumpTooLong."""
        records, interrupted = self._exchange(functools.partial(link_filtered_request, kind=kind, master=master),
                                              RTM_NEWLINK, parse_link, self.dump_attempts, limit)
        return Dump([record for record in records if (kind is None or record.kind == kind)
                     and (not master or record.master == master)], interrupted)

    def kind_filtered(self, kind: str) -> bool:
        """Whether the kernel filters a link dump by ``kind`` (a module registered it): asked of
        a namespace, every one of which holds ``lo``, that an unfiltered dump returns."""
        records, _ = self._exchange(functools.partial(link_filtered_request, kind=kind), RTM_NEWLINK, parse_link)
        return all(record.kind == kind for record in records)

    def dump_addresses(self) -> Tuple[List[AddressRecord], bool]:
        return self._exchange(address_dump_request, RTM_NEWADDR, parse_address)

    def addresses_of(self, indexes: Sequence[int]) -> Tuple[List[AddressRecord], bool]:
        """The addresses of these devices only: one dump filtered by the kernel per device (a
        strict socket, Linux >= 4.20), so that a few devices of a namespace with thousands cost
        what they hold. Where strict checking is refused, one whole dump, filtered here. A device
        gone meanwhile has none. Returns them and whether a dump was cut by a change."""
        wanted = set(indexes)
        try:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        except OSError:
            records, cut = self.dump_addresses()
            return [record for record in records if record.ifindex in wanted], cut
        out: List[AddressRecord] = []
        cut = False
        try:
            for index in sorted(wanted):
                try:
                    records, interrupted = self._exchange(functools.partial(address_dump_request, ifindex=index),
                                                          RTM_NEWADDR, parse_address)
                except NetlinkError as error:
                    if error.errno != errno.ENODEV:
                        raise
                    continue
                # (Where the kernel ignores the filter, it is applied here.)
                out.extend(record for record in records if record.ifindex == index)
                cut = cut or interrupted
        finally:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 0)
        return out, cut

    def _single(self, request: Callable[[int], bytes], expect: int,
                parse: Callable[[bytes, int, int], Optional[T]]) -> T:
        seq = self._next_seq()
        self.sock.send(request(seq))
        return self._reply(seq, expect, parse)

    def _reply(self, seq: int, expect: int, parse: Callable[[bytes, int, int], Optional[T]]) -> T:
        out: List[T] = []
        while not out:
            chunk = parse_stream(self._receive(), seq, expect, parse, out, self.portid, self.events,
                         self._datagram_nsid, self.nsid_changes)
            if chunk.done and not out:
                raise NetlinkError(errno.ENODATA, "no answer")
        return out[0]

    def _nsid_reply(self, seq: int) -> int:
        """The answer to an RTM_GETNSID: thousands are asked per scan, so the usual reply (one
        message, NETNSA_NSID first) is read straight from the buffer; anything else (an error,
        a notification in between) goes the general way."""
        size = self._receive_into()
        if size == _NSID_REPLY.size and self._datagram_nsid is None:
            mlen, mtype, _flags, mseq, mpid, alen, atype, nsid = _NSID_REPLY.unpack_from(_recv_buffer, 0)
            if (mlen == size and mtype == RTM_NEWNSID and mseq == seq and alen == 8
                    and atype & _NLA_TYPE_MASK == NETNSA_NSID and (self.portid is None or mpid == self.portid)):
                return int(nsid)
        out: List[int] = []
        chunk = parse_stream(bytes(_recv_buffer[:size]), seq, RTM_NEWNSID, parse_nsid, out, self.portid,
                             self.events, self._datagram_nsid, self.nsid_changes)
        if out:
            return out[0]
        if chunk.done:
            raise NetlinkError(errno.ENODATA, "no answer")
        return self._reply(seq, RTM_NEWNSID, parse_nsid)

    def nsid_of_fd(self, netns_fd: int) -> int:
        """The id this socket's namespace gives the namespace behind ``netns_fd`` (-1: none).

        RTM_GETNSID with NETNSA_FD only looks the id up; it never allocates one.
        """
        self._seq += 1
        self.sock.send(nsid_by_fd_request(self._seq, netns_fd))
        return self._nsid_reply(self._seq)

    def nsids_of_fds(self, netns_fds: List[int]) -> List[Optional[int]]:
        """``nsid_of_fd`` for many namespaces, pipelined: one send for up to ``PIPELINE`` questions.
        An answer that failed is None."""
        answers: List[Optional[int]] = []
        for start in range(0, len(netns_fds), PIPELINE):
            chunk = netns_fds[start : start + PIPELINE]
            first = self._seq + 1
            self._seq += len(chunk)
            self.sock.send(b"".join(nsid_by_fd_request(first + i, fd) for i, fd in enumerate(chunk)))
            for i in range(len(chunk)):
                try:
                    answers.append(self._nsid_reply(first + i))
                except NetlinkTimeout:
                    raise
                except OSError:
                    answers.append(None)
        return answers

    def nsid_via(self, nsid: int, target_nsid: int) -> int:
        """The id that namespace ``target_nsid`` gives namespace ``nsid`` (both ids ours)."""
        return self._single(lambda seq: nsid_via_request(seq, nsid, target_nsid), RTM_NEWNSID, parse_nsid)

    def link_in(self, target_nsid: int, ifindex: int) -> LinkRecord:
        """RTM_GETLINK of one link in another namespace, named by our id for it."""
        return self._single(lambda seq: link_get_request(seq, ifindex, target_nsid), RTM_NEWLINK, parse_link)

    def link(self, ifindex: int) -> Optional[LinkRecord]:
        """RTM_GETLINK of one link in this socket's namespace; None when there is none (ENODEV)."""
        try:
            return self._single(lambda seq: link_request(seq, ifindex), RTM_NEWLINK, parse_link)
        except NetlinkError as error:
            if error.errno == errno.ENODEV:
                return None
            raise

    def links_by(self, names: Sequence[bytes], indexes: Sequence[int]) -> List[Optional[LinkRecord]]:
        """RTM_GETLINK of the devices called each of ``names``, then at each of ``indexes``, in
        this socket's namespace, asked in one send (the replies come in order); None for each
        that is not there (ENODEV)."""
        requests = [*(functools.partial(link_by_name_request, name=name) for name in names),
                    *(functools.partial(link_request, ifindex=index) for index in indexes)]
        if not requests:
            return []  # (an empty send fails: ENODATA)
        first = self._seq + 1
        self._seq += len(requests)
        self.sock.send(b"".join(request(first + i) for i, request in enumerate(requests)))
        out: List[Optional[LinkRecord]] = []
        failed: Optional[NetlinkError] = None
        for i in range(len(requests)):
            try:
                out.append(self._reply(first + i, RTM_NEWLINK, parse_link))
            except NetlinkError as error:
                if error.errno != errno.ENODEV and failed is None:
                    failed = error  # (the other replies are still read, so none is left queued)
                out.append(None)
        if failed is not None:
            raise failed
        return out

    def cookie(self) -> Optional[int]:
        """The namespace's 64-bit cookie (SO_NETNS_COOKIE, Linux >= 5.14); never reused."""
        try:
            return int(_U64.unpack(self.sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8))[0])
        except OSError:
            return None
