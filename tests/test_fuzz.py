"""Fuzzing the two parsers that take bytes from outside: netlink replies and --load snapshots.

Whatever they are fed, the answer is records, a skipped record, or one clear error
(NetlinkError / ValueError): never another exception, never a hang. Bounded so the whole module
runs in a few seconds on a shared 2-core machine.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

# A dev extra: the bare "pip install -e . pytest" run (CI's Python 3.9 one) skips this module.
pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vethpeer import resolve, snapshot
from vethpeer.host import netlink
from vethpeer.host.netlink import NetlinkError

FIXTURE = Path(__file__).resolve().parent / "data" / "host.snapshot.json"
# VETHPEER_FUZZ_EXAMPLES=5000 for a longer, randomised hunt; the suite runs a fixed, quick set.
_EXAMPLES = os.environ.get("VETHPEER_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(_EXAMPLES or 200), deadline=None if _EXAMPLES else 1000,
                derandomize=not _EXAMPLES, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PARSERS: Dict[str, Any] = {
    "link": (netlink.RTM_NEWLINK, netlink.parse_link),
    "address": (netlink.RTM_NEWADDR, netlink.parse_address),
    "nsid": (netlink.RTM_NEWNSID, netlink.parse_nsid),
}
SEQ = 7


def feed(data: bytes, kind: str) -> List[Any]:
    expect, parse = PARSERS[kind]
    out: List[Any] = []
    try:
        netlink.parse_stream(data, SEQ, expect, parse, out)
    except NetlinkError:
        return []
    return out


# Attribute types the parsers look at (with and without NLA_F_NESTED), and some they do not.
ATTR_TYPES = st.sampled_from([1, 2, 3, 4, 5, 10, 16, 18, 18 | 0x8000, 37, 52, 52 | 0x8000, 53, 0, 0x3FFF, 0xFFFF])


@st.composite
def attribute(draw: Callable[..., Any], depth: int = 0) -> bytes:
    atype = draw(ATTR_TYPES)
    if depth < 2 and draw(st.booleans()):
        payload = b"".join(draw(st.lists(attribute(depth + 1), max_size=3)))
    else:
        payload = draw(st.binary(max_size=24))
    honest = 4 + len(payload)
    # Mostly honest lengths; sometimes a lie (too short, zero, past the end, the largest u16).
    length = draw(st.one_of(st.just(honest), st.sampled_from([0, 1, 3, 4, 5, 0xFFFF]),
                            st.integers(0, 0xFFFF)))
    padding = b"\0" * ((4 - honest % 4) % 4) if draw(st.booleans()) else b""
    return struct.pack("=HH", length, atype) + payload + padding


@st.composite
def message(draw: Callable[..., Any]) -> bytes:
    header_body = draw(st.one_of(st.just(b"\0" * 16), st.binary(max_size=20)))
    body = header_body + b"".join(draw(st.lists(attribute(), max_size=5)))
    mtype = draw(st.sampled_from([netlink.RTM_NEWLINK, netlink.RTM_NEWADDR, netlink.RTM_NEWNSID,
                                  netlink.NLMSG_DONE, netlink.NLMSG_ERROR, 1234]))
    seq = draw(st.sampled_from([SEQ, SEQ + 1]))
    flags = draw(st.sampled_from([0, netlink.NLM_F_MULTI, netlink.NLM_F_DUMP_INTR]))
    length = draw(st.one_of(st.just(16 + len(body)), st.integers(0, 16 + len(body) + 8)))
    return struct.pack("=IHHII", length, mtype, flags, seq, 0) + body


@pytest.mark.parametrize("kind", list(PARSERS))
@FUZZ
@given(data=st.binary(max_size=256))
def test_netlink_random_bytes(kind: str, data: bytes) -> None:
    feed(data, kind)


@FUZZ
@given(messages=st.lists(message(), min_size=1, max_size=4))
def test_netlink_structured_messages(messages: List[bytes]) -> None:
    stream = b"".join(messages)
    types = {"link": netlink.LinkRecord, "address": netlink.AddressRecord, "nsid": int}
    for kind, expected in types.items():
        for item in feed(stream, kind):
            assert isinstance(item, expected)


@pytest.mark.parametrize("length", [0xFFFF, 5, 4])
def test_truncated_attributes_are_one_netlink_error(length: int) -> None:
    """Fuzzing found these: struct.error / IndexError escaping from parse_link and parse_address."""
    for kind, attr_type in (("link", netlink.IFLA_MTU), ("link", netlink.IFLA_OPERSTATE),
                            ("link", netlink.IFLA_LINKINFO), ("address", netlink.IFA_LOCAL)):
        body = b"\0" * (16 if kind == "link" else 8) + struct.pack("=HH", length, attr_type)
        data = struct.pack("=IHHII", 16 + len(body), PARSERS[kind][0], 0, SEQ, 0) + body
        feed(data, kind)
    short = struct.pack("=IHHII", 18, netlink.RTM_NEWLINK, 0, SEQ, 0) + b"\0\0"
    with pytest.raises(NetlinkError):
        netlink.parse_stream(short, SEQ, netlink.RTM_NEWLINK, netlink.parse_link, [])
    error_without_code = struct.pack("=IHHII", 16, netlink.NLMSG_ERROR, 0, SEQ, 0)
    with pytest.raises(NetlinkError):
        netlink.parse_stream(error_without_code, SEQ, netlink.RTM_NEWLINK, netlink.parse_link, [])


# --- snapshots -------------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(allow_nan=False),
                         st.text(max_size=8), st.sampled_from(["00", "zz", "6c6f", "", "\udcff"]))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)), max_leaves=20)


def load_and_resolve(text: str) -> None:
    try:
        loaded = snapshot.loads(text)
    except ValueError:
        return
    resolve.resolve(loaded)  # what --load does next: a sound snapshot must also resolve


@FUZZ
@given(text=st.text(max_size=200))
def test_snapshot_random_text(text: str) -> None:
    load_and_resolve(text)


@FUZZ
@given(value=JSON_VALUES)
def test_snapshot_random_json(value: Any) -> None:
    load_and_resolve(json.dumps(value))


def _paths(node: Any, prefix: tuple = ()) -> List[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out += _paths(child, (*prefix, index))
    return out


BASE = json.loads(FIXTURE.read_text(encoding="utf-8"))
BASE["namespaces"] = BASE["namespaces"][:4]  # smaller: mutations land on every kind of field more often
PATHS = _paths(BASE)[1:]


def _replace(node: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = list(node) if isinstance(node, list) else dict(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], value)
    return copy


@FUZZ
@given(mutations=st.lists(st.tuples(st.sampled_from(PATHS), JSON_VALUES), min_size=1, max_size=3))
def test_snapshot_mutated_fixture(mutations: List[Any]) -> None:
    """A real snapshot with a few fields replaced by anything: refused with ValueError, or resolved."""
    document = BASE
    for path, value in mutations:
        try:
            document = _replace(document, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation changed the shape under this path
    load_and_resolve(json.dumps(document))


@FUZZ
@given(depth=st.integers(1, 100_000), opener=st.sampled_from(["[", '{"a":']))
def test_snapshot_nesting_is_refused_not_a_recursion_error(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    with pytest.raises(ValueError):
        snapshot.loads(opener * depth + "1" + closer * depth)


def test_fixture_still_loads() -> None:
    loaded: Optional[snapshot.Snapshot] = snapshot.loads(FIXTURE.read_text(encoding="utf-8"))
    assert loaded is not None and loaded.namespaces
