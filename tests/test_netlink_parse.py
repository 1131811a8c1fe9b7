"""Parsing rtnetlink replies: recorded kernel captures, and hand-built edge cases."""

from __future__ import annotations

import json
import os
import struct
from typing import List, Optional

import pytest

from vethpeer.host import netlink
from vethpeer.host.netlink import AddressRecord, LinkRecord, NetlinkError
from vethpeer.resolve import decode_name, format_address, format_mac, operstate_name

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def replay(name: str, expect: int, parse) -> list:  # type: ignore[no-untyped-def]
    with open(os.path.join(DATA, name)) as handle:
        capture = json.load(handle)
    out: list = []
    chunks = [bytes.fromhex(chunk) for chunk in capture["chunks"]]
    for i, chunk in enumerate(chunks):
        done = netlink.parse_stream(chunk, capture["seq"], expect, parse, out).done
        assert done == (i == len(chunks) - 1)
    return out


@pytest.fixture(scope="module")
def links() -> List[LinkRecord]:
    return replay("kinds.links.json", netlink.RTM_NEWLINK, netlink.parse_link)


@pytest.fixture(scope="module")
def by_name(links: List[LinkRecord]) -> dict:
    return {link.name: link for link in links}


def test_recorded_dump_matches_what_ip_showed(links: List[LinkRecord]) -> None:
    with open(os.path.join(DATA, "kinds.ip.json")) as handle:
        shown = json.load(handle)
    ours = {link.ifindex: link for link in links}
    for item in shown:
        link = ours[item["ifindex"]]
        assert decode_name(link.name) == item["ifname"]
        assert link.mtu == item["mtu"]
        assert operstate_name(link.operstate) == item["operstate"]
        assert format_mac(link.mac) == item["address"]
        assert link.kind == item.get("linkinfo", {}).get("info_kind")
        assert link.link_netnsid == item.get("link_netnsid")
        if "link_index" in item:
            assert link.link == item["link_index"]
        if "master" in item:
            assert ours[link.master].name.decode() == item["master"]
        assert [n.decode() for n in link.alt_names] == item.get("altnames", [])


def test_recorded_dump_kinds_and_relations(by_name: dict) -> None:
    assert by_name[b"br0"].kind == "bridge"
    assert by_name[b"v0"].slave_kind == "bridge" and by_name[b"v0"].master == by_name[b"br0"].ifindex
    assert by_name[b"v0"].link == by_name[b"v1"].ifindex and by_name[b"v0"].link_netnsid is None
    assert by_name[b"mv0"].kind == "macvlan" and by_name[b"mv0"].link == by_name[b"v1"].ifindex
    assert by_name[b"out0"].link_netnsid is not None and by_name[b"out0"].link_netnsid >= 0
    assert by_name[b"lo"].kind is None and by_name[b"lo"].link is None
    assert by_name[b"br0"].alt_names == (b"bridge-zero",)


def test_recorded_names_come_back_byte_for_byte(by_name: dict) -> None:
    evil, odd = by_name[b"e\x1b[31mred"], by_name[b"o\xff\xfe"]
    assert evil.link == odd.ifindex and odd.link == evil.ifindex
    assert decode_name(odd.name).encode("utf-8", "surrogateescape") == b"o\xff\xfe"


def test_recorded_address_dump() -> None:
    addresses = replay("kinds.addrs.json", netlink.RTM_NEWADDR, netlink.parse_address)
    shown = {format_address(a.family, a.address, a.prefixlen) for a in addresses}
    assert {"192.0.2.1/24", "2001:db8::1/64"} <= shown


# --- hand-built messages -------------------------------------------------------------------------


def attr(atype: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, atype) + payload + b"\0" * ((4 - length % 4) % 4)


def message(mtype: int, body: bytes, seq: int = 1, flags: int = netlink.NLM_F_MULTI) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), mtype, flags, seq, 0) + body


def link_message(index: int, *attrs: bytes, seq: int = 1, flags: int = netlink.NLM_F_MULTI) -> bytes:
    return message(netlink.RTM_NEWLINK, struct.pack("=BxHiII", 0, 1, index, 0x1003, 0) + b"".join(attrs),
                   seq=seq, flags=flags)


def done(seq: int = 1, error: int = 0) -> bytes:
    return message(netlink.NLMSG_DONE, struct.pack("=i", error), seq=seq)


def parse(data: bytes, seq: int = 1) -> List[LinkRecord]:
    out: List[LinkRecord] = []
    netlink.parse_stream(data, seq, netlink.RTM_NEWLINK, netlink.parse_link, out)
    return out


def test_link_attributes_are_read_and_nested_flags_ignored() -> None:
    linkinfo = attr(netlink.IFLA_LINKINFO | 0x8000, attr(netlink.IFLA_INFO_KIND, b"veth\0"))
    props = attr(netlink.IFLA_PROP_LIST | 0x8000, attr(netlink.IFLA_ALT_IFNAME, b"alt\0"))
    data = link_message(7, attr(netlink.IFLA_IFNAME, b"v7\0"), attr(netlink.IFLA_MTU, struct.pack("=I", 9000)),
                        attr(netlink.IFLA_LINK, struct.pack("=I", 3)),
                        attr(netlink.IFLA_LINK_NETNSID, struct.pack("=i", 4)), linkinfo, props,
                        attr(netlink.IFLA_OPERSTATE, b"\x06")) + done()
    [record] = parse(data)
    assert record == LinkRecord(7, b"v7", 0x1003, "veth", None, None, 9000, 6, None, 3, 4, (b"alt",))


def test_absent_ifla_link_is_none_not_zero() -> None:
    [record] = parse(link_message(3, attr(netlink.IFLA_IFNAME, b"x\0")) + done())
    assert record.link is None and record.link_netnsid is None


def test_error_inside_done_is_raised() -> None:
    with pytest.raises(NetlinkError) as caught:
        parse(link_message(1, attr(netlink.IFLA_IFNAME, b"lo\0")) + done(error=-16))
    assert caught.value.errno == 16


def test_nlmsg_error_is_raised() -> None:
    data = message(netlink.NLMSG_ERROR, struct.pack("=i", -1) + b"\0" * 16)
    with pytest.raises(NetlinkError) as caught:
        parse(data)
    assert caught.value.errno == 1


def test_interrupted_dump_is_flagged() -> None:
    out: List[LinkRecord] = []
    data = link_message(1, attr(netlink.IFLA_IFNAME, b"lo\0"), flags=netlink.NLM_F_MULTI | netlink.NLM_F_DUMP_INTR)
    chunk = netlink.parse_stream(data + done(), 1, netlink.RTM_NEWLINK, netlink.parse_link, out)
    assert chunk.interrupted and chunk.done


def test_answers_to_an_earlier_request_are_skipped() -> None:
    data = link_message(1, attr(netlink.IFLA_IFNAME, b"old\0"), seq=1) + link_message(
        2, attr(netlink.IFLA_IFNAME, b"new\0"), seq=2) + done(seq=2)
    assert [r.name for r in parse(data, seq=2)] == [b"new"]


@pytest.mark.parametrize("cut", [3, 17, 40])
def test_truncated_messages_raise_instead_of_misreading(cut: int) -> None:
    data = link_message(1, attr(netlink.IFLA_IFNAME, b"lo\0")) + done()
    with pytest.raises(NetlinkError):
        bad = bytearray(data)
        struct.pack_into("=I", bad, 0, len(data) + cut)  # a length beyond the buffer
        parse(bytes(bad))


def test_zero_length_attribute_does_not_loop_forever() -> None:
    body = struct.pack("=BxHiII", 0, 1, 5, 0, 0) + struct.pack("=HH", 0, 3) + b"\0" * 8
    [record] = parse(message(netlink.RTM_NEWLINK, body) + done())
    assert record.ifindex == 5 and record.name == b""


def test_ipv4_prefers_ifa_local_over_the_point_to_point_peer() -> None:
    body = struct.pack("=BBBBI", 2, 32, 0, 0, 4) + attr(netlink.IFA_ADDRESS, bytes([10, 0, 0, 2])) + attr(
        netlink.IFA_LOCAL, bytes([10, 0, 0, 1]))
    out: List[Optional[AddressRecord]] = []
    netlink.parse_stream(message(netlink.RTM_NEWADDR, body) + done(), 1, netlink.RTM_NEWADDR,
                         netlink.parse_address, out)
    [record] = out
    assert record is not None and format_address(record.family, record.address, record.prefixlen) == "10.0.0.1/32"


def test_nsid_reply() -> None:
    body = b"\0\0\0\0" + attr(netlink.NETNSA_NSID, struct.pack("=i", 5))
    assert netlink.parse_nsid(body, 0, len(body)) == 5
    assert netlink.parse_nsid(b"\0\0\0\0", 0, 4) == netlink.NSID_NOT_ASSIGNED


def test_requests_are_well_formed() -> None:
    request = netlink.nsid_by_fd_request(9, 42)
    length, mtype, flags, seq, _pid = struct.unpack_from("=IHHII", request)
    assert (length, mtype, flags, seq) == (len(request), netlink.RTM_GETNSID, netlink.NLM_F_REQUEST, 9)
    assert request[16:20] == b"\0\0\0\0"  # rtgenmsg, padded
    assert struct.unpack_from("=HHI", request, 20) == (8, netlink.NETNSA_FD, 42)
    dump = netlink.link_dump_request(3)
    assert struct.unpack_from("=H", dump, 6)[0] == netlink.NLM_F_REQUEST | netlink.NLM_F_DUMP
    assert struct.unpack_from("=HHI", dump, 32) == (8, netlink.IFLA_EXT_MASK, netlink.RTEXT_FILTER_SKIP_STATS)
    via = netlink.nsid_via_request(1, 3, 4)
    assert struct.unpack_from("=HHiHHi", via, 20) == (8, netlink.NETNSA_NSID, 3, 8, netlink.NETNSA_TARGET_NSID, 4)
