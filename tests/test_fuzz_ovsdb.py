"""Fuzzing what ovsdb's socket hands over: the framing of its byte stream and the reply parser.

Whatever arrives, the answer is a message, "need more bytes", a view, or one ValueError: never
another exception. Bounded like tests/test_fuzz.py (a fixed, quick set unless
VETHPEER_FUZZ_EXAMPLES asks for a longer randomised hunt).
"""

from __future__ import annotations

import json
import os
from typing import Any, List

import pytest

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovs_fake import reply
from vethpeer import ovsdb

_EXAMPLES = os.environ.get("VETHPEER_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(_EXAMPLES or 200), deadline=None if _EXAMPLES else 1000,
                derandomize=not _EXAMPLES, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.text(max_size=8)
    | st.sampled_from(["set", "uuid", "map", "rows", "name", "_uuid", "ports", "interfaces", "ifindex"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "result", "error", "rows", "name", "_uuid", "ports", "interfaces", "type",
                         "ifindex", "datapath_type", "method"]), inner, max_size=5),
    max_leaves=25)

VALID = json.loads(reply([("br0", "netdev", [("p0", [("i0", "internal", 3)]), ("b", [("x", "", 4), ("y", "", None)])]),
                          ("br1", "", [("br1", [("br1", "internal", 9)])])]))


@FUZZ
@given(st.binary(max_size=300))
def test_framing_of_any_bytes(data: bytes) -> None:
    try:
        value, used = ovsdb.split_message(data)
    except ValueError:
        return
    if used == 0:
        assert value is None
    else:
        assert isinstance(value, dict) and 0 < used <= len(data)


@FUZZ
@given(st.lists(st.dictionaries(st.text(max_size=4), JSON, max_size=3), min_size=1, max_size=4),
       st.lists(st.integers(0, 10_000), max_size=6), st.booleans())
def test_back_to_back_messages_come_out_whole_wherever_the_reads_end(
        messages: List[Any], cuts: List[int], spaced: bool) -> None:
    stream = (b"\n" if spaced else b"").join(json.dumps(m, ensure_ascii=False).encode() for m in messages)
    points = sorted({min(cut, len(stream)) for cut in cuts} | {len(stream)})
    buffer, got, start = b"", [], 0
    for point in points:
        buffer += stream[start:point]
        start = point
        while True:
            value, used = ovsdb.split_message(buffer)
            if used == 0:
                break
            got.append(value)
            buffer = buffer[used:]
    assert got == messages and buffer.strip() == b""


def mutate(value: Any, path: List[int], replacement: Any) -> Any:
    """``value`` with the node reached by following ``path`` (indexes taken modulo the sizes)
    replaced."""
    if not path or not isinstance(value, (list, dict)) or not value:
        return replacement
    if isinstance(value, list):
        i = path[0] % len(value)
        return [mutate(item, path[1:], replacement) if n == i else item for n, item in enumerate(value)]
    key = sorted(value)[path[0] % len(value)]
    return {k: (mutate(v, path[1:], replacement) if k == key else v) for k, v in value.items()}


def parses_or_refuses(message: Any) -> None:
    try:
        interfaces, datapaths = ovsdb.parse_reply(message)
    except ValueError:
        return
    assert all(isinstance(item.name, str) and isinstance(item.bridge, str) for item in interfaces)
    assert len({item.name for item in interfaces}) == len(interfaces)
    assert all(isinstance(name, str) and isinstance(kind, str) for name, kind in datapaths)


@FUZZ
@given(JSON)
def test_parser_on_any_json(message: Any) -> None:
    parses_or_refuses(message)


@FUZZ
@given(st.lists(st.integers(0, 50), max_size=8), JSON)
def test_parser_on_a_reply_with_one_part_replaced(path: List[int], replacement: Any) -> None:
    parses_or_refuses(mutate(VALID, path, replacement))


def test_the_valid_reply_parses() -> None:
    interfaces, datapaths = ovsdb.parse_reply(VALID)
    assert [i.name for i in interfaces] == ["br1", "i0", "x", "y"] and dict(datapaths) == {"br0": "netdev", "br1": ""}


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(ValueError):
        ovsdb.split_message(b'{"a":' + b"[" * 100_000)
    with pytest.raises(ValueError):
        ovsdb.split_message(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")


