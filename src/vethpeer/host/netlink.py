"""Raw rtnetlink messages: constants, building requests, parsing replies. Pure.

Holds no namespace logic and no socket (that is ``channel``): bytes in, records out, so recorded
captures can be replayed in tests without a kernel.
"""

from __future__ import annotations

import errno
import os
import struct
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, TypeVar

from .. import kinds
from ..kinds import DATA as KIND_DATA

# --- constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/net_namespace.h) ---
NETLINK_ROUTE = 0
SO_NETNS_COOKIE = 71

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
RTM_NEWNSID = 88
RTM_DELNSID = 89
RTM_GETNSID = 90

IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_MASTER = 10
IFLA_OPERSTATE = 16
IFLA_LINKINFO = 18
IFLA_EXT_MASK = 29
IFLA_LINK_NETNSID = 37
IFLA_TARGET_NETNSID = 46
IFLA_PROP_LIST = 52
IFLA_ALT_IFNAME = 53

IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
IFLA_INFO_SLAVE_KIND = 4


RTEXT_FILTER_SKIP_STATS = 1 << 3

IFA_ADDRESS = 1
IFA_LOCAL = 2

NETNSA_NSID = 1
NETNSA_FD = 3
NETNSA_TARGET_NSID = 4

#: rtnetlink multicast group mask for link changes (RTNLGRP_LINK = 1).
RTMGRP_LINK = 0x1
#: RTNLGRP_NSID (28): ids given to or taken from other namespaces in this one's table.
RTMGRP_NSID = 1 << (28 - 1)
SOL_NETLINK = 270
NETLINK_LISTEN_ALL_NSID = 8
NETLINK_GET_STRICT_CHK = 12

#: The kernel's answer for "this namespace has no id for that one".
NSID_NOT_ASSIGNED = -1

IFF_UP = 0x1

OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_S32 = struct.Struct("=i")
_U64 = struct.Struct("=Q")
_NLA_TYPE_MASK = 0x3FFF  # strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
_NLA_F_NESTED = 0x8000

# Twice the biggest dump skb the kernel builds (netlink caps them at 32 KiB). One buffer serves
# every channel: a thousand channels with a buffer each would cost a quarter of a GiB.
_RECV_SIZE = 1 << 16
_recv_buffer = bytearray(_RECV_SIZE)


#: A link kind's data fields: (field, value) in ``kinds.FIELDS`` order (``kinds.Kind.data``).
LinkData = Tuple[Tuple[str, Any], ...]


class LinkRecord(NamedTuple):
    """One RTM_NEWLINK message, as the kernel said it, uninterpreted."""

    ifindex: int
    name: bytes
    flags: int
    kind: Optional[str]
    slave_kind: Optional[str]
    mac: Optional[bytes]
    mtu: int
    operstate: int
    master: Optional[int]
    #: IFLA_LINK; None when the attribute was absent (some kernels omit it when it equals ifindex).
    link: Optional[int]
    #: IFLA_LINK_NETNSID, relative to the namespace of the socket that dumped; None when absent.
    link_netnsid: Optional[int]
    alt_names: Tuple[bytes, ...]
    #: What its kind's IFLA_INFO_DATA held worth keeping (``kinds.Kind.data``): (field, value)
    #: in ``kinds.FIELDS`` order; integers in host order, addresses raw (4 or 16 bytes). Empty
    #: for most kinds.
    data: LinkData = ()

    def value(self, field: str) -> Any:
        """A field of ``data`` (``vni``, ``tunnel_local``, ...), or None."""
        for name, value in self.data:
            if name == field:
                return value
        return None

    @property
    def peer_index(self) -> int:
        """A veth or netkit end's peer's ifindex: IFLA_LINK, or the end's own ifindex where the
        kernel left IFLA_LINK out because the two are equal."""
        return self.link if self.link is not None else self.ifindex




class AddressRecord(NamedTuple):
    ifindex: int
    family: int
    prefixlen: int
    address: bytes


class NetlinkError(OSError):
    """An error the kernel returned in NLMSG_ERROR or in the NLMSG_DONE payload."""


# --- building requests -------------------------------------------------------------------------


def _attr(atype: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return _RTATTR.pack(length, atype) + payload + b"\0" * ((4 - length % 4) % 4)


def _message(mtype: int, flags: int, seq: int, body: bytes) -> bytes:
    return _NLMSGHDR.pack(16 + len(body), mtype, flags, seq, 0) + body


def link_dump_request(seq: int) -> bytes:
    body = _IFINFOMSG.pack(0, 0, 0, 0, 0) + _attr(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS))
    return _message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, body)


def link_filtered_request(seq: int, kind: Optional[str] = None, master: int = 0) -> bytes:
    """A link dump the kernel filters (Linux >= 4.15) to the devices of one ``kind``
    (IFLA_LINKINFO/IFLA_INFO_KIND) or enslaved to ``master`` (IFLA_MASTER). A kind no module has
    registered filters nothing: every device comes back."""
    body = _IFINFOMSG.pack(0, 0, 0, 0, 0) + _attr(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS))
    if kind is not None:
        body += _attr(IFLA_LINKINFO | _NLA_F_NESTED, _attr(IFLA_INFO_KIND, kind.encode("ascii")))
    if master:
        body += _attr(IFLA_MASTER, _U32.pack(master))
    return _message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, body)


def link_get_request(seq: int, ifindex: int, target_nsid: int) -> bytes:
    """RTM_GETLINK for one ifindex in the namespace the asking socket calls ``target_nsid``."""
    body = (
        _IFINFOMSG.pack(0, 0, ifindex, 0, 0)
        + _attr(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS))
        + _attr(IFLA_TARGET_NETNSID, _S32.pack(target_nsid))
    )
    return _message(RTM_GETLINK, NLM_F_REQUEST, seq, body)


def link_request(seq: int, ifindex: int) -> bytes:
    """RTM_GETLINK for one ifindex in the asking socket's own namespace."""
    body = _IFINFOMSG.pack(0, 0, ifindex, 0, 0) + _attr(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS))
    return _message(RTM_GETLINK, NLM_F_REQUEST, seq, body)


#: The longest name IFLA_IFNAME carries (IFNAMSIZ - 1); longer ones can only be altnames.
IFNAME_MAX = 15
#: The longest altname (ALTIFNAMSIZ - 1).
ALTIFNAME_MAX = 127


def link_by_name_request(seq: int, name: bytes) -> bytes:
    """RTM_GETLINK for the device called ``name`` (its name or an altname: the kernel looks both
    up) in the asking socket's namespace; a name too long for IFLA_IFNAME goes as IFLA_ALT_IFNAME."""
    attr = IFLA_IFNAME if len(name) <= IFNAME_MAX else IFLA_ALT_IFNAME
    body = (_IFINFOMSG.pack(0, 0, 0, 0, 0) + _attr(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS))
            + _attr(attr, name + b"\0"))
    return _message(RTM_GETLINK, NLM_F_REQUEST, seq, body)


def address_dump_request(seq: int, ifindex: int = 0) -> bytes:
    """Every address; with ``ifindex``, only that device's where the socket asks strictly
    (NETLINK_GET_STRICT_CHK: Linux >= 4.20 filters on it; without, it is ignored)."""
    return _message(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, _IFADDRMSG.pack(0, 0, 0, 0, ifindex))


# nlmsghdr, struct rtgenmsg (one byte, padded to 4 by NLMSG_ALIGN), one u32 attribute: asked once
# per pair, so it is packed in one go.
_NSID_BY_FD = struct.Struct("=IHHII4xHHI")
# The reply: nlmsghdr, rtgenmsg, NETNSA_NSID (an s32).
_NSID_REPLY = struct.Struct("=IHHII4xHHi")


def nsid_by_fd_request(seq: int, netns_fd: int) -> bytes:
    return _NSID_BY_FD.pack(_NSID_BY_FD.size, RTM_GETNSID, NLM_F_REQUEST, seq, 0, 8, NETNSA_FD, netns_fd)


def nsid_via_request(seq: int, nsid: int, target_nsid: int) -> bytes:
    """Ask: what id does the namespace I call ``target_nsid`` give the one I call ``nsid``?"""
    body = b"\0\0\0\0" + _attr(NETNSA_NSID, _S32.pack(nsid))
    body += _attr(NETNSA_TARGET_NSID, _S32.pack(target_nsid))
    return _message(RTM_GETNSID, NLM_F_REQUEST, seq, body)


# --- parsing replies ---------------------------------------------------------------------------


def _cstring(data: bytes, start: int, end: int) -> bytes:
    nul = data.find(b"\0", start, end)
    return data[start : end if nul < 0 else nul]


def _parse_linkinfo(data: bytes, pos: int, end: int) -> Tuple[Optional[str], Optional[str], LinkData]:
    """(kind, slave kind, the kind's data fields). The kernel puts IFLA_INFO_KIND before
    IFLA_INFO_DATA (rtnl_link_info_fill), so the data is only parsed for the kinds that keep some
    (``kinds.DATA``)."""
    kind = slave_kind = None
    fields: LinkData = ()
    while pos + 4 <= end:
        alen, atype = _RTATTR.unpack_from(data, pos)
        if alen < 4:
            break
        atype &= _NLA_TYPE_MASK
        if atype == IFLA_INFO_KIND:
            kind = _cstring(data, pos + 4, pos + alen).decode("ascii", "replace")
        elif atype == IFLA_INFO_SLAVE_KIND:
            slave_kind = _cstring(data, pos + 4, pos + alen).decode("ascii", "replace")
        elif atype == IFLA_INFO_DATA and kind in KIND_DATA:
            fields = _parse_data(KIND_DATA[kind], data, pos + 4, pos + alen)
        pos += (alen + 3) & ~3
    return kind, slave_kind, fields


#: How each ``kinds`` integer is read, and the bytes it needs.
_INTEGERS = {kinds.U32: (struct.Struct("=I"), 4), kinds.U16: (struct.Struct("=H"), 2),
             kinds.BE16: (struct.Struct("!H"), 2)}


def _parse_data(wanted: Dict[int, Tuple[str, str]], data: bytes, pos: int, end: int) -> LinkData:
    out: Dict[str, Any] = {}
    while pos + 4 <= end:
        alen, atype = _RTATTR.unpack_from(data, pos)
        if alen < 4:
            break
        field = wanted.get(atype & _NLA_TYPE_MASK)
        if field is not None:
            name, how = field
            integer = _INTEGERS.get(how)
            # An attribute too short for its type is skipped, not read past its end.
            if integer is not None:
                if alen >= 4 + integer[1]:
                    out[name] = integer[0].unpack_from(data, pos + 4)[0]
            elif alen > 4:
                out[name] = bytes(data[pos + 4 : pos + alen])
        pos += (alen + 3) & ~3
    return kinds.in_order(out)


def _parse_alt_names(data: bytes, pos: int, end: int) -> Tuple[bytes, ...]:
    names = []
    while pos + 4 <= end:
        alen, atype = _RTATTR.unpack_from(data, pos)
        if alen < 4:
            break
        if atype & _NLA_TYPE_MASK == IFLA_ALT_IFNAME:
            names.append(_cstring(data, pos + 4, pos + alen))
        pos += (alen + 3) & ~3
    return tuple(names)


# Attribute types worth a look; nested ones appear both with and without NLA_F_NESTED.
_LINK_WANTED = frozenset(
    (IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_OPERSTATE, IFLA_LINK_NETNSID,
     IFLA_LINKINFO, IFLA_LINKINFO | 0x8000, IFLA_PROP_LIST, IFLA_PROP_LIST | 0x8000)
)
_unpack_attr = _RTATTR.unpack_from
_unpack_u32 = _U32.unpack_from
_unpack_s32 = _S32.unpack_from
_unpack_ifinfo = _IFINFOMSG.unpack_from


def parse_link(data: bytes, pos: int, end: int) -> LinkRecord:
    """Parse one RTM_NEWLINK payload (``pos`` at the ifinfomsg, ``end`` at the message end).

    The hot loop of a scan (about 40 attributes per link, thousands of links), so it is written
    for speed: no masking of attributes it skips, locals for everything it calls.
    """
    _family, _type, ifindex, flags, _change = _unpack_ifinfo(data, pos)
    pos += 16
    last = end - 4
    name = b""
    mac = None
    mtu = 0
    operstate = 0
    master = link = link_netnsid = None
    kind = slave_kind = None
    fields: LinkData = ()
    alt_names: Tuple[bytes, ...] = ()
    wanted = _LINK_WANTED
    unpack_attr = _unpack_attr
    while pos <= last:
        alen, atype = unpack_attr(data, pos)
        if atype in wanted:
            start = pos + 4
            if atype == IFLA_IFNAME:
                name = _cstring(data, start, pos + alen)
            elif atype == IFLA_ADDRESS:
                mac = data[start : pos + alen]
            elif atype == IFLA_MTU:
                mtu = _unpack_u32(data, start)[0]
            elif atype == IFLA_LINK:
                link = _unpack_u32(data, start)[0]
            elif atype == IFLA_MASTER:
                master = _unpack_u32(data, start)[0]
            elif atype == IFLA_OPERSTATE:
                operstate = data[start]
            elif atype == IFLA_LINK_NETNSID:
                link_netnsid = _unpack_s32(data, start)[0]
            elif atype & _NLA_TYPE_MASK == IFLA_LINKINFO:
                kind, slave_kind, fields = _parse_linkinfo(data, start, pos + alen)
            else:  # IFLA_PROP_LIST
                alt_names = _parse_alt_names(data, start, pos + alen)
        # A malformed zero length would never advance: step over it instead.
        pos += ((alen + 3) & -4) or 4
    if fields:
        return LinkRecord(ifindex, name, flags, kind, slave_kind, mac, mtu, operstate, master, link,
                          link_netnsid, alt_names, fields)
    return LinkRecord(ifindex, name, flags, kind, slave_kind, mac, mtu, operstate, master, link,
                      link_netnsid, alt_names)


def parse_address(data: bytes, pos: int, end: int) -> Optional[AddressRecord]:
    family, prefixlen, _flags, _scope, ifindex = _IFADDRMSG.unpack_from(data, pos)
    pos += 8
    address = local = None
    while pos + 4 <= end:
        alen, atype = _RTATTR.unpack_from(data, pos)
        if alen < 4:
            break
        atype &= _NLA_TYPE_MASK
        if atype == IFA_LOCAL:
            local = data[pos + 4 : pos + alen]
        elif atype == IFA_ADDRESS:
            address = data[pos + 4 : pos + alen]
        pos += (alen + 3) & ~3
    # For IPv4, IFA_LOCAL is the interface's own address and IFA_ADDRESS the far end of a
    # point-to-point link; IPv6 sends IFA_ADDRESS only.
    chosen = local if local is not None else address
    if chosen is None:
        return None
    return AddressRecord(ifindex, family, prefixlen, chosen)


def parse_nsid(data: bytes, pos: int, end: int) -> int:
    """Parse an RTM_NEWNSID payload: the NETNSA_NSID it carries (-1 when none is assigned)."""
    pos += 4  # rtgenmsg, aligned
    while pos + 4 <= end:
        alen, atype = _RTATTR.unpack_from(data, pos)
        if alen < 4:
            break
        if atype & _NLA_TYPE_MASK == NETNSA_NSID:
            return int(_S32.unpack_from(data, pos + 4)[0])
        pos += (alen + 3) & ~3
    return NSID_NOT_ASSIGNED


T = TypeVar("T")


class LinkEvent(NamedTuple):
    """A link change multicast to a watching socket: RTM_NEWLINK (``deleted`` False) or RTM_DELLINK."""

    deleted: bool
    link: LinkRecord
    #: On a channel hearing every namespace (``listen_all``): the id its namespace gives the
    #: namespace the change happened in; None for its own.
    nsid: Optional[int] = None


class Chunk(NamedTuple):
    """What one read of a reply stream gave: whether the stream ended, and whether it was cut."""

    done: bool
    interrupted: bool


def parse_stream(data: bytes, seq: int, expect: int, parse: Callable[[bytes, int, int], Optional[T]],
                 out: List[T], portid: Optional[int] = None,
                 events: Optional[List[LinkEvent]] = None, nsid: Optional[int] = None,
                 nsid_changes: Optional[List[int]] = None) -> Chunk:
    """Parse the netlink messages in ``data`` (one recv's worth) into ``out``.

    Messages of type ``expect`` with sequence ``seq`` go through ``parse``; NLMSG_DONE ends the
    stream; NLMSG_ERROR raises. The error of a failed dump arrives inside the NLMSG_DONE payload
    (an int), so that is checked too. A message whose lengths point past the data raises
    NetlinkError(EBADMSG): the parsers trust lengths for speed, and fuzzing showed struct.error
    and IndexError escaping from them.

    On a watching socket (``portid`` known) a message is a reply only when it carries our portid:
    multicast notifications carry the portid and sequence number of whoever made the change (or
    0), so a sequence number alone could mistake one for a reply. Link notifications go to
    ``events``; everything else that is not the awaited reply is skipped. ``nsid`` is the id the
    datagram came tagged with (NETLINK_LISTEN_ALL_NSID), put on its events. ``nsid_changes``
    collects the ids of RTM_NEWNSID/RTM_DELNSID notifications (ids given or taken back); those
    a request of ours caused carry our portid and that request's sequence number.
    """
    try:
        return _parse_stream(data, seq, expect, parse, out, portid, events, nsid, nsid_changes)
    except (struct.error, IndexError) as error:
        raise NetlinkError(errno.EBADMSG, f"malformed netlink message: {error}") from None


def _parse_stream(data: bytes, seq: int, expect: int, parse: Callable[[bytes, int, int], Optional[T]],
                  out: List[T], portid: Optional[int], events: Optional[List[LinkEvent]],
                  nsid: Optional[int] = None, nsid_changes: Optional[List[int]] = None) -> Chunk:
    pos = 0
    size = len(data)
    done = interrupted = False
    while pos + 16 <= size:
        mlen, mtype, mflags, mseq, mpid = _NLMSGHDR.unpack_from(data, pos)
        if mlen < 16 or pos + mlen > size:
            raise NetlinkError(errno.EBADMSG, "truncated netlink message")
        if nsid is not None:
            # From another namespace (only notifications are): its link changes are news; its
            # own table's ids are not ours.
            if events is not None and mtype in (RTM_NEWLINK, RTM_DELLINK) and mlen >= 32:
                events.append(LinkEvent(mtype == RTM_DELLINK, parse_link(data, pos + 16, pos + mlen), nsid))
        elif (nsid_changes is not None and mtype in (RTM_NEWNSID, RTM_DELNSID)
                and not (mpid == portid and mseq == seq and expect == RTM_NEWNSID)):
            nsid_changes.append(parse_nsid(data, pos + 16, pos + mlen))
        elif portid is not None and mpid != portid:
            if events is not None and mtype in (RTM_NEWLINK, RTM_DELLINK) and mlen >= 32:
                events.append(LinkEvent(mtype == RTM_DELLINK, parse_link(data, pos + 16, pos + mlen)))
        elif mseq == seq:
            if mflags & NLM_F_DUMP_INTR:
                interrupted = True
            if mtype == expect:
                item = parse(data, pos + 16, pos + mlen)
                if item is not None:
                    out.append(item)
            elif mtype == NLMSG_DONE:
                if mlen >= 20:
                    code = _S32.unpack_from(data, pos + 16)[0]
                    if code < 0:
                        raise NetlinkError(-code, os.strerror(-code))
                done = True
            elif mtype == NLMSG_ERROR:
                code = _S32.unpack_from(data, pos + 16)[0] if mlen >= 20 else -errno.EBADMSG
                if code < 0:
                    raise NetlinkError(-code, os.strerror(-code))
                done = True  # an ACK
        # Messages with another sequence number are stale answers to an earlier request that was
        # abandoned (an error mid-dump); they are skipped.
        pos += (mlen + 3) & ~3
    return Chunk(done, interrupted)
