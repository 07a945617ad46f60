"""Canonical codec: round trips, one encoding per value, and total rejection of bad input.

Why so thorough: block ids are hashes of encodings, so a second accepted encoding of a value
would fork ids; and the decoder faces untrusted peers, so anything but RemoteProtocolError
escaping it would crash a phone's network loop.
"""

from __future__ import annotations

import dataclasses
import enum
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from peoplenet.runtime.errors import EncodeError, LocalError, RemoteProtocolError
from peoplenet.runtime.wire.codec import (
    MAX_CONTAINER_LEN,
    MAX_DEPTH,
    MAX_MESSAGE_SIZE,
    RECORD_EXT,
    Record,
    Value,
    decode,
    decode_as,
    encode,
    encode_many_nested,
    encode_nested,
    registered_tags,
    wire_type,
)
from peoplenet.runtime.wire.fast_parsers import (
    decode_prefix,
    read_array_header,
    read_bin,
    record_body_at,
)
from peoplenet.runtime.wire.tags import TAG_RANGES
from tests.strategies import canonical_values

INT_MIN = -(2**63)
UINT_MAX = 2**64 - 1

# -- test-only records (tags far above anything the project assigns) --------------------------

POINT_TAG = 1_337_001
SAMPLE_TAG = 1_337_002


@wire_type(POINT_TAG)
@dataclass(frozen=True, slots=True)
class Point(Record):
    x: int
    y: int
    label: str


@wire_type(SAMPLE_TAG)
@dataclass(frozen=True, slots=True)
class Sample(Record):
    name: str
    amount: int
    blob: bytes
    flag: bool
    at: Point
    maybe: Point | None
    tags: tuple[str, ...]
    pair: tuple[int, bytes]
    meta: dict[str, int]
    extra: Value
    cache: int = dataclasses.field(default=0, init=False, compare=False)


# -- strategies -------------------------------------------------------------------------------

INT_BOUNDARIES = (
    0, 1, -1, 127, 128, 255, 256, 65_535, 65_536, 2**31 - 1, 2**31, 2**32 - 1, 2**32,
    2**63 - 1, 2**63, UINT_MAX, -32, -33, -128, -129, -32_768, -32_769, -(2**31),
    -(2**31) - 1, INT_MIN + 1, INT_MIN,
)  # fmt: skip
"""Every msgpack integer width changes at one of these."""

ints = st.integers(min_value=INT_MIN, max_value=UINT_MAX) | st.sampled_from(INT_BOUNDARIES)
texts = st.text(max_size=40) | st.sampled_from(
    ["", "é", "日本語", "🙂", "\x00", "a" * 31, "b" * 32]
)
blobs = st.binary(max_size=40) | st.sampled_from([b"", b"\x00", b"\xff" * 32])
keys = st.text(max_size=10) | st.sampled_from(["a", "b", "é", "z", "\uffff", "\U00010000"])
scalars = st.none() | st.booleans() | ints | texts | blobs

points = st.builds(Point, ints, ints, texts)


def _extend(children: st.SearchStrategy[Value]) -> st.SearchStrategy[Value]:
    samples = st.builds(
        Sample,
        texts,
        ints,
        blobs,
        st.booleans(),
        points,
        st.none() | points,
        st.lists(texts, max_size=4).map(tuple),
        st.tuples(ints, blobs),
        st.dictionaries(keys, ints, max_size=4),
        children,
    )
    return (
        st.lists(children, max_size=6).map(tuple)
        | st.dictionaries(keys, children, max_size=6)
        | points
        | samples
    )


values: st.SearchStrategy[Value] = st.recursive(scalars, _extend, max_leaves=20)

FAST = settings(max_examples=300, deadline=None)
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_SLOW = settings(
    max_examples=25_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def same(a: object, b: object) -> bool:
    """Structural equality that also compares types (``True == 1`` must not pass)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        assert isinstance(b, tuple)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, Record):
        return all(
            same(getattr(a, f.name), getattr(b, f.name))
            for f in dataclasses.fields(a)  # type: ignore[arg-type]
            if f.init
        )
    return a == b


def lists_for_tuples(value: object) -> object:
    """The same value with every array outside records as a list (encode accepts both)."""
    if isinstance(value, tuple):
        return [lists_for_tuples(v) for v in value]
    if isinstance(value, dict):
        return {k: lists_for_tuples(v) for k, v in value.items()}
    return value


def shuffled(value: object, rnd: random.Random) -> object:
    """The same value with every dict (outside records) rebuilt in a random key order."""
    if isinstance(value, tuple):
        return tuple(shuffled(v, rnd) for v in value)
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: shuffled(v, rnd) for k, v in items}
    return value


def packb(obj: object) -> bytes:
    """Raw msgpack, for crafting inputs the canonical encoder would never produce."""
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


def raw_record(*items: object) -> msgpack.ExtType:
    """An ext 0x50 whose body is the array ``items`` (tag first), as a peer could send."""
    return msgpack.ExtType(RECORD_EXT, packb(list(items)))


def rejects(data: bytes, reason: str, **kw: Any) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        decode(data, **kw)
    assert info.value.reason == reason, info.value
    return info.value


def sample(**changes: Any) -> Sample:
    base = Sample("s", 5, b"\x01", True, Point(1, 2, "p"), None, ("t",), (3, b"b"), {"k": 1}, None)
    return dataclasses.replace(base, **changes)


def sample_items(**changes: Any) -> list[Any]:
    """The wire items of a valid Sample, with some replaced (by field name)."""
    fields = [f.name for f in dataclasses.fields(Sample) if f.init]
    s = sample()
    items = [raw_point(s.at), None, list(s.tags), list(s.pair), s.meta, s.extra]
    wire = dict(zip(fields, [s.name, s.amount, s.blob, s.flag, *items], strict=True))
    wire.update(changes)
    return [SAMPLE_TAG, *wire.values()]


def raw_point(p: Point) -> msgpack.ExtType:
    return raw_record(POINT_TAG, p.x, p.y, p.label)


# -- round trips ------------------------------------------------------------------------------


@FAST
@given(values)
def test_round_trip(value: Value) -> None:
    data = encode(value)
    back = decode(data)
    assert same(back, value)
    assert encode(back) == data


@FAST
@given(values)
def test_lists_come_back_as_tuples(value: Value) -> None:
    data = encode(lists_for_tuples(value))
    assert data == encode(value)
    assert same(decode(data), value)


@FAST
@given(values, st.randoms(use_true_random=False))
def test_encoding_is_deterministic_and_ignores_dict_order(value: Value, rnd: random.Random) -> None:
    assert encode(value) == encode(value)
    assert encode(shuffled(value, rnd)) == encode(value)


@FAST
@given(values)
def test_valid_bytes_re_encode_to_themselves(value: Value) -> None:
    data = encode(value)
    assert encode(decode(data)) == data


@pytest.mark.parametrize("n", INT_BOUNDARIES)
def test_int_boundaries_round_trip(n: int) -> None:
    assert same(decode(encode(n)), n)
    assert same(decode(encode((n, -1, n))), (n, -1, n))


@pytest.mark.parametrize("size", [0, 31, 32, 255, 256, 65_535, 65_536])
def test_str_and_bin_width_boundaries(size: int) -> None:
    for value in ("é" * (size // 2) + "a" * (size % 2), b"\x00" * size):
        data = encode(value)
        assert same(decode(data), value)
        rejects(data[:-1], "truncated")


@pytest.mark.parametrize("size", [15, 16, 65_535, 65_536])
def test_container_width_boundaries(size: int) -> None:
    array = tuple(range(size))
    mapping = {f"{i:06d}": i for i in range(size)}
    for value in (array, mapping):
        assert same(decode(encode(value)), value)


GOLDEN: list[tuple[object, bytes]] = [
    (None, b"\xc0"),
    (False, b"\xc2"),
    (True, b"\xc3"),
    (0, b"\x00"),
    (127, b"\x7f"),
    (128, b"\xcc\x80"),
    (-32, b"\xe0"),
    (-33, b"\xd0\xdf"),
    (2**63, b"\xcf\x80" + b"\x00" * 7),
    (UINT_MAX, b"\xcf" + b"\xff" * 8),
    (INT_MIN, b"\xd3\x80" + b"\x00" * 7),
    ("", b"\xa0"),
    ("é", b"\xa2\xc3\xa9"),
    (b"", b"\xc4\x00"),
    ((), b"\x90"),
    ({}, b"\x80"),
    ({"b": 1, "a": 2}, b"\x82\xa1a\x02\xa1b\x01"),
    ({"é": 1, "z": 2}, b"\x82\xa1z\x02\xa2\xc3\xa9\x01"),
    ({"\U00010000": 1, "\uffff": 2}, b"\x82\xa3\xef\xbf\xbf\x02\xa4\xf0\x90\x80\x80\x01"),
    (Point(1, 2, "p"), b"\xc7\x0a\x50\x94\xce\x00\x14\x66\xa9\x01\x02\xa1p"),
]


@pytest.mark.parametrize(("value", "wire"), GOLDEN)
def test_golden_encodings(value: object, wire: bytes) -> None:
    """Pins the wire format: a change here changes every block id."""
    assert encode(value) == wire
    assert same(decode(wire), value)


def test_bytes_like_inputs_are_accepted() -> None:
    data = encode(("x", b"y"))
    assert decode(bytearray(data)) == ("x", b"y")  # type: ignore[arg-type]
    assert decode(memoryview(data)) == ("x", b"y")  # type: ignore[arg-type]
    assert encode(bytearray(b"ab")) == encode(b"ab") == encode(memoryview(b"ab"))


def test_decode_as() -> None:
    p = Point(1, -2, "q")
    assert decode_as(Point, encode(p)) == p
    with pytest.raises(RemoteProtocolError) as info:
        decode_as(Point, encode(sample()))
    assert info.value.reason == "wrong_type"
    with pytest.raises(RemoteProtocolError) as info:
        decode_as(Point, encode(3))
    assert info.value.reason == "wrong_type"


def test_init_false_fields_do_not_travel() -> None:
    s = sample()
    object.__setattr__(s, "cache", 99)
    back = decode(encode(s))
    assert isinstance(back, Sample)
    assert back.cache == 0
    assert encode(back) == encode(s)


def test_decode_of_non_bytes_is_a_local_error() -> None:
    with pytest.raises(LocalError):
        decode("c0")  # type: ignore[arg-type]


# -- rejections -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"\xcb" + b"\x00" * 8,
        b"\xcb?\xf8\x00\x00\x00\x00\x00\x00",
        b"\xca" + b"\x00" * 4,
        packb(1.5),
        msgpack.packb(0.25, use_single_float=True),
        packb([1, 2.0]),
        packb({"a": float("nan")}),
    ],
)
def test_floats_are_rejected(data: bytes) -> None:
    rejects(data, "not_canonical")


def test_float_in_a_record() -> None:
    rejects(packb(raw_record(*sample_items(amount=1.0))), "bad_field")
    rejects(packb(raw_record(*sample_items(extra=1.0))), "not_canonical")


@pytest.mark.parametrize(
    "data",
    [
        b"\xcc\x01",
        b"\xcc\x7f",
        b"\xcd\x00\x01",
        b"\xcd\x00\xff",
        b"\xce\x00\x00\xff\xff",
        b"\xcf\x00\x00\x00\x00\xff\xff\xff\xff",
        b"\xd0\x01",  # positive as int8
        b"\xd0\xe0",  # -32 fits a negative fixint
        b"\xd1\xff\x80",  # -128 fits int8
        b"\xd2\xff\xff\x80\x00",  # -32768 fits int16
        b"\xd3\xff\xff\xff\xff\x80\x00\x00\x00",  # -2**31 fits int32
        b"\xd3\x00\x00\x00\x00\x00\x00\x00\x01",  # positive as int64
        b"\xd3\x7f\xff\xff\xff\xff\xff\xff\xff",  # 2**63-1 is canonical as uint64
    ],
)
def test_non_minimal_ints_are_rejected(data: bytes) -> None:
    rejects(data, "not_canonical")


@pytest.mark.parametrize(
    "data",
    [
        b"\xd9\x01a",  # str8 where fixstr fits
        b"\xd9\x1f" + b"a" * 31,
        b"\xda\x00\x01a",  # str16
        b"\xdb\x00\x00\x00\x01a",  # str32
        b"\xda\x00\xffa" + b"a" * 254,  # str16 where str8 fits
        b"\xc5\x00\x01a",  # bin16 where bin8 fits
        b"\xc6\x00\x00\x00\x01a",  # bin32
        b"\xdc\x00\x01\x01",  # array16 where fixarray fits
        b"\xdd\x00\x00\x00\x01\x01",  # array32
        b"\xde\x00\x01\xa1a\x01",  # map16 where fixmap fits
        b"\xdf\x00\x00\x00\x01\xa1a\x01",  # map32
    ],
)
def test_wider_than_needed_headers_are_rejected(data: bytes) -> None:
    rejects(data, "not_canonical")


def test_record_body_header_width() -> None:
    canonical = encode(Point(1, 2, "p"))
    assert canonical == b"\xc7\x0a\x50\x94\xce\x00\x14\x66\xa9\x01\x02\xa1p"
    body16 = b"\xdc\x00\x04" + canonical[4:]
    rejects(bytes([0xC7, len(body16), RECORD_EXT]) + body16, "not_canonical")
    rejects(b"\xc8\x00\x0a\x50" + canonical[3:], "not_canonical")  # ext16 where ext8 fits
    # A body of exactly 16 bytes must travel as fixext16, not ext8.
    body = packb([POINT_TAG, 1, 2, "abcdefg"])
    assert len(body) == 16
    assert encode(Point(1, 2, "abcdefg")) == bytes([0xD8, RECORD_EXT]) + body
    rejects(bytes([0xC7, 16, RECORD_EXT]) + body, "not_canonical")


def test_bin_and_str_are_distinct() -> None:
    assert same(decode(encode("a")), "a")
    assert same(decode(encode(b"a")), b"a")
    assert encode("a") != encode(b"a")
    rejects(packb(raw_record(*sample_items(blob="x"))), "bad_field")
    rejects(packb(raw_record(*sample_items(name=b"x"))), "bad_field")
    rejects(packb(raw_record(POINT_TAG, 1, 2, b"p")), "bad_field")
    rejects(packb(raw_record(*sample_items(tags=[b"t"]))), "bad_field")


def test_map_keys_must_be_sorted_and_distinct() -> None:
    rejects(b"\x82\xa1b\x01\xa1a\x02", "not_canonical")  # unsorted
    rejects(b"\x82\xa2\xc3\xa9\x01\xa1z\x02", "not_canonical")  # sorted by bytes, not locale
    rejects(b"\x82\xa1a\x01\xa1a\x02", "not_canonical")  # duplicate (last wins in msgpack)
    rejects(b"\x82\xa1a\x01\xa1a\x01", "not_canonical")  # duplicate, same value


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x81\x01\xc0", "malformed"),  # int key: msgpack refuses it itself
        (b"\x81\xc0\xc0", "malformed"),  # nil key
        (b"\x81\xc3\xc0", "malformed"),  # bool key
        (b"\x81\x91\x01\xc0", "malformed"),  # array key
        (b"\x81\xc4\x01a\xc0", "not_canonical"),  # bytes key: decoded, then refused
    ],
)
def test_map_keys_must_be_str(data: bytes, reason: str) -> None:
    rejects(data, reason)


@FAST
@given(values, st.binary(min_size=1, max_size=8))
def test_trailing_bytes(value: Value, extra: bytes) -> None:
    rejects(encode(value) + extra, "trailing_bytes")


@FAST
@given(values)
def test_every_strict_prefix_is_truncated(value: Value) -> None:
    data = encode(value)
    for cut in range(len(data)):
        rejects(data[:cut], "truncated")


def test_prefix_where_array_count_exceeds_input() -> None:
    # The header promises more items than the input has bytes: still a truncation.
    rejects(encode((1, 2, 3))[:2], "truncated")
    rejects(encode(tuple(range(100)))[:3], "truncated")
    rejects(encode({"a": 1, "b": 2, "c": 3})[:2], "truncated")
    rejects(b"\xdd\xff\xff\xff\xff", "truncated")


def test_oversize_arrays_and_maps() -> None:
    # Declares more items than MAX_CONTAINER_LEN, in an input long enough to hold them.
    big = b"\xdd" + (MAX_CONTAINER_LEN + 1).to_bytes(4, "big") + b"\xc0" * (MAX_CONTAINER_LEN + 1)
    rejects(big, "malformed")
    big_map = b"\xdf" + (MAX_CONTAINER_LEN + 1).to_bytes(4, "big") + b"\xa0\xc0" * 70_000
    rejects(big_map, "malformed")


@pytest.mark.parametrize(
    "data",
    [
        b"\xd4\x05\x00",  # fixext1, code 5
        b"\xd4\x51\x00",  # one past ours
        b"\xd4\xfe\x00",  # code -2
        b"\xc7\x00\x05",  # ext8, empty body
        packb(msgpack.ExtType(0x4F, packb([POINT_TAG, 1, 2, "p"]))),
        packb([1, msgpack.ExtType(7, b"abc")]),
    ],
)
def test_unknown_ext_code(data: bytes) -> None:
    rejects(data, "unknown_ext")


@pytest.mark.parametrize(
    "data",
    [
        packb(msgpack.Timestamp(0)),
        packb(msgpack.Timestamp(2**34 + 1, 5)),
        packb({"at": msgpack.Timestamp(1)}),
        b"\xd4\xff\x00",  # ext -1 with a body no timestamp has
        packb(raw_record(*sample_items(extra=msgpack.Timestamp(1)))),
    ],
)
def test_ext_timestamp_is_rejected(data: bytes) -> None:
    rejects(data, "unknown_ext")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([199], "unknown_tag"),  # below the apps' range: never opaque
        ([0], "unknown_tag"),
        ([-5, 1], "unknown_tag"),
        ([], "bad_record"),
        (["Point", 1, 2, "p"], "bad_record"),
        ([True, 1, 2, "p"], "bad_record"),  # a bool is not a tag
        ([POINT_TAG], "bad_record"),
        ([POINT_TAG, 1, 2], "bad_record"),
        ([POINT_TAG, 1, 2, "p", 4], "bad_record"),
    ],
)
def test_bad_record_bodies(body: list[object], reason: str) -> None:
    rejects(packb(msgpack.ExtType(RECORD_EXT, packb(body))), reason)


def test_record_body_must_be_an_array() -> None:
    rejects(packb(msgpack.ExtType(RECORD_EXT, packb(POINT_TAG))), "bad_record")
    rejects(packb(msgpack.ExtType(RECORD_EXT, packb({"a": 1}))), "bad_record")
    rejects(packb(msgpack.ExtType(RECORD_EXT, b"")), "truncated")
    rejects(
        packb(msgpack.ExtType(RECORD_EXT, packb([POINT_TAG, 1, 2, "p"]) + b"\xc0")),
        "trailing_bytes",
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"blob": 5},  # int where bytes
        {"amount": True},  # bool where int
        {"amount": False},
        {"flag": 1},  # int where bool
        {"amount": None},
        {"at": None},  # None where a record is required
        {"at": 3},
        {"maybe": 3},  # neither Point nor None
        {"at": msgpack.ExtType(RECORD_EXT, packb(sample_items()))},  # wrong record class
        {"tags": "t"},
        {"tags": ["t", 1]},
        {"pair": [1]},
        {"pair": [1, b"x", 2]},
        {"pair": [b"x", 1]},
        {"meta": {"k": "v"}},
        {"meta": [1]},
    ],
)
def test_wrong_field_types(changes: dict[str, object]) -> None:
    rejects(packb(raw_record(*sample_items(**changes))), "bad_field")


def test_bool_in_place_of_int_in_nested_record() -> None:
    rejects(packb(raw_record(*sample_items(at=raw_record(POINT_TAG, True, 2, "p")))), "bad_field")
    rejects(packb(raw_record(POINT_TAG, 1, False, "p")), "bad_field")


def test_optional_record_field_accepts_both() -> None:
    for maybe in (None, Point(0, 0, "")):
        s = sample(maybe=maybe)
        assert same(decode(encode(s)), s)


def nested_arrays(n: int, leaf: object = 0) -> object:
    value: object = leaf
    for _ in range(n):
        value = [value]
    return value


def test_array_depth_limit() -> None:
    ok = nested_arrays(MAX_DEPTH)  # the leaf sits at depth MAX_DEPTH
    assert decode(encode(ok)) == decode(packb(ok))
    with pytest.raises(EncodeError):
        encode(nested_arrays(MAX_DEPTH + 1))
    rejects(packb(nested_arrays(MAX_DEPTH + 1)), "too_deep")
    rejects(packb(nested_arrays(200)), "too_deep")
    rejects(b"\x91" * 5000 + b"\x00", "too_deep")  # beyond msgpack's own stack
    maps: object = 0
    for _ in range(MAX_DEPTH + 1):
        maps = {"k": maps}
    rejects(packb(maps), "too_deep")


def nested_records(n: int) -> object:
    """``n`` Samples, each inside the previous one's ``extra``, built as raw msgpack."""
    inner: object = None
    for _ in range(n):
        inner = raw_record(*sample_items(extra=inner))
    return inner


def test_record_depth_limit() -> None:
    fine = packb(nested_records(MAX_DEPTH - 1))
    assert encode(decode(fine)) == fine
    rejects(packb(nested_records(MAX_DEPTH + 1)), "too_deep")
    rejects(packb(nested_records(100)), "too_deep")
    mixed = nested_records(MAX_DEPTH // 2)
    rejects(packb(nested_arrays(MAX_DEPTH // 2 + 2, mixed)), "too_deep")


def test_oversize() -> None:
    data = encode(b"x" * 100)
    assert decode(data, max_size=len(data)) == b"x" * 100
    rejects(data, "oversize", max_size=len(data) - 1)
    rejects(b"\xc0" * (MAX_MESSAGE_SIZE + 1), "oversize")


def test_ints_outside_range_have_no_wire_form() -> None:
    # msgpack's widest integers are uint64 and int64: the extremes decode, nothing lies beyond.
    assert decode(b"\xcf" + b"\xff" * 8) == UINT_MAX
    assert decode(b"\xd3\x80" + b"\x00" * 7) == INT_MIN
    for n in (UINT_MAX + 1, INT_MIN - 1, 2**100, -(2**100)):
        with pytest.raises(EncodeError):
            encode(n)


@pytest.mark.parametrize(
    "data",
    [
        b"\xa1\xff",
        b"\xa1\xc3",  # a lead byte with no continuation
        b"\xa2\xc0\x80",  # overlong NUL
        b"\xa3\xed\xa0\x80",  # an encoded surrogate
        b"\xa4\xf4\x90\x80\x80",  # beyond U+10FFFF
        b"\x81\xa1\xff\xc0",  # in a map key
    ],
)
def test_invalid_utf8(data: bytes) -> None:
    rejects(data, "malformed")


@pytest.mark.parametrize("data", [b"", b"\xc1", b"\xc1\x00"])
def test_reserved_and_empty(data: bytes) -> None:
    rejects(data, "truncated" if not data else "malformed")


# -- the encoding side ------------------------------------------------------------------------


class Colour(enum.IntEnum):
    RED = 1


@dataclass(frozen=True, slots=True)
class Unregistered(Record):
    x: int


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        float("nan"),
        [1, 0.5],
        {"a": 1.5},
        {1},
        frozenset({1}),
        ({1, 2},),
        {1: 2},
        {b"a": 1},
        {None: 1},
        {("a",): 1},
        UINT_MAX + 1,
        INT_MIN - 1,
        (UINT_MAX + 1,),
        Unregistered(1),
        Colour.RED,
        "\ud800",  # a lone surrogate has no UTF-8 form
        object(),
        tuple(range(MAX_CONTAINER_LEN + 1)),
        dict.fromkeys((str(i) for i in range(MAX_CONTAINER_LEN + 1)), 0),
    ],
)
def test_encode_refuses(value: object) -> None:
    with pytest.raises(EncodeError):
        encode(value)


def test_encode_errors_are_local() -> None:
    with pytest.raises(EncodeError) as info:
        encode(1.0)
    assert isinstance(info.value, LocalError)
    assert not isinstance(info.value, RemoteProtocolError)


# -- the tag table ----------------------------------------------------------------------------


def test_tag_table() -> None:
    table = registered_tags()
    assert table[POINT_TAG] is Point
    assert table[SAMPLE_TAG] is Sample
    assert POINT_TAG in TAG_RANGES["third_party"]
    table.clear()  # a copy: the registry is untouched
    assert registered_tags()[POINT_TAG] is Point


def test_registration_rules() -> None:
    assert wire_type(POINT_TAG)(Point) is Point  # idempotent
    with pytest.raises(LocalError):
        wire_type(POINT_TAG + 100)(Point)  # one class, one tag

    @dataclass(frozen=True)
    class Other(Record):
        x: int

    with pytest.raises(LocalError):
        wire_type(POINT_TAG)(Other)  # one tag, one class
    with pytest.raises(LocalError):
        wire_type(0)(Other)

    @dataclass
    class Thawed(Record):
        x: int

    with pytest.raises(LocalError):
        wire_type(1_337_090)(Thawed)

    @dataclass(frozen=True)
    class Floaty(Record):
        x: float

    with pytest.raises(LocalError):
        wire_type(1_337_091)(Floaty)

    class Plain(Record):
        pass

    with pytest.raises(LocalError):
        wire_type(1_337_092)(Plain)
    assert not {1_337_090, 1_337_091, 1_337_092, POINT_TAG + 100} & set(registered_tags())


# -- fuzzing ----------------------------------------------------------------------------------

_REASON = re.compile(r"[a-z_]+")


def check_decode_is_total(data: bytes) -> None:
    """Decode returns a value that re-encodes to ``data``, or raises RemoteProtocolError."""
    try:
        value = decode(data)
    except RemoteProtocolError as exc:
        reason = exc.reason
    else:
        assert encode(value) == data
        return
    assert _REASON.fullmatch(reason), reason


CORPUS: list[bytes] = [
    encode(v)
    for v in [
        *(value for value, _ in GOLDEN),
        INT_BOUNDARIES,
        {str(n): n for n in INT_BOUNDARIES},
        ("日本語", "a" * 31, "b" * 32, b"\x00" * 33, b"", "", None, True, False),
        sample(),
        sample(maybe=Point(-1, 2**40, "m"), extra={"deep": (sample(), [Point(0, 0, "")])}),
        {"z": {"y": {"x": ({"w": (1, (2, (3,)))},)}}, "a": sample(extra=(b"\xff", -33))},
        tuple(range(40)),
    ]
]
"""Valid encodings to mutate: every type and width, records, nesting."""

fuzz_bases = st.sampled_from(CORPUS) | st.recursive(
    scalars | points,
    lambda children: (
        st.lists(children, max_size=4).map(tuple) | st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=6,
).map(encode)
"""The corpus plus small generated values (drawing full ``values`` is too slow for fuzzing)."""


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid encoding with a few bit flips, insertions, deletions, cuts and splices."""
    data = bytearray(draw(fuzz_bases))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "set", "splice", "cut"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            i = min(at, len(data) - 1)
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 4))]
        elif op == "set" and data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == "splice":
            other = draw(fuzz_bases)
            lo = draw(st.integers(0, len(other)))
            hi = draw(st.integers(lo, len(other)))
            data[at : at + draw(st.integers(0, 8))] = other[lo:hi]
        elif op == "cut":
            del data[at:]
    return bytes(data)


fuzz_inputs = st.binary(max_size=300) | mutated()

_SEEDS: list[Callable[[Any], Any]] = [
    example(b"\xdd\xff\xff\xff\xff"),
    example(b"\xc7\x00\x50"),
    example(b"\xd5\x50\x91\x01"),  # a record claiming to be a Block, with no fields
    example(b"\x91" * 3000),
    example(b"\xdc\xff\xff" * 40),
]


def _seeded(test: Callable[[bytes], None]) -> Callable[[bytes], None]:
    for seed in _SEEDS:
        test = seed(test)
    return test


@FUZZ
@given(fuzz_inputs)
@_seeded
def test_fuzz_decode_is_total(data: bytes) -> None:
    check_decode_is_total(data)


@pytest.mark.slow
@FUZZ_SLOW
@given(fuzz_inputs)
def test_fuzz_decode_is_total_slow(data: bytes) -> None:
    check_decode_is_total(data)


@pytest.mark.slow
@FUZZ_SLOW
@given(mutated())
def test_fuzz_mutations_slow(data: bytes) -> None:
    check_decode_is_total(data)


# -- decode_prefix and the canonical header readers (the fast paths' building blocks) ---------


@settings(max_examples=300, deadline=None)
@given(fuzz_inputs, st.binary(max_size=8))
def test_decode_prefix_returns_a_canonical_prefix_or_refuses(data: bytes, tail: bytes) -> None:
    try:
        value, used = decode_prefix(data + tail)
    except RemoteProtocolError as exc:
        reason = exc.reason
    else:
        assert 0 < used <= len(data + tail)
        assert encode(value) == (data + tail)[:used]
        assert decode((data + tail)[:used]) == value  # the general decoder agrees
        return
    assert _REASON.fullmatch(reason), reason


@settings(max_examples=200, deadline=None)
@given(fuzz_bases, st.binary(max_size=8))
def test_decode_prefix_of_a_canonical_value_with_a_tail(data: bytes, tail: bytes) -> None:
    assert decode_prefix(data + tail) == (decode(data), len(data))


def test_decode_prefix_refuses_non_canonical_prefixes() -> None:
    for bad, reason in [
        (b"\xcc\x01", "not_canonical"),  # uint8 for 1
        (b"\xd9\x01a", "not_canonical"),  # str8 for a 1-byte string
        (b"\x82\xa1b\x01\xa1a\x02", "not_canonical"),  # unsorted map
        (b"\xcb" + bytes(8), "not_canonical"),  # a float
    ]:
        with pytest.raises(RemoteProtocolError) as info:
            decode_prefix(bad + b"\xc0\xc0")
        assert info.value.reason == reason
    for cut in (b"\x93\x01", b"\xa3ab", b""):
        with pytest.raises(RemoteProtocolError) as info:
            decode_prefix(cut)
        assert info.value.reason == "truncated"


def test_decode_prefix_counts_depth_from_where_the_value_sits() -> None:
    value: Value = 1
    for _ in range(MAX_DEPTH):
        value = (value,)
    data = encode(value)
    assert decode_prefix(data) == (value, len(data))
    with pytest.raises(RemoteProtocolError) as info:
        decode_prefix(data, depth=1)
    assert info.value.reason == "too_deep"


def test_decode_prefix_of_records_agrees_with_decode_near_the_depth_limit() -> None:
    """Records take a hand-read path in decode_prefix: same values, same refusals."""
    for levels in range(MAX_DEPTH - 3, MAX_DEPTH + 2):
        inner: Value = Point(1, 2, "p")
        for _ in range(levels):
            inner = (inner,)
        for value in (inner, sample(extra=inner)):
            try:
                data = encode(value)
            except EncodeError:
                continue
            for depth in (0, 1, 2):
                try:
                    expected: object = (decode_prefix_general(data, depth), len(data))
                except RemoteProtocolError as exc:
                    expected = exc.reason
                try:
                    got: object = decode_prefix(data + b"\xc0", depth=depth)
                except RemoteProtocolError as exc:
                    got = exc.reason
                assert got == expected, (levels, depth)


def decode_prefix_general(data: bytes, depth: int) -> Value:
    """What decode says of ``data`` nested ``depth`` tuples down (the general path)."""
    wrapped = data
    for _ in range(depth):
        wrapped = b"\x91" + wrapped
    value = decode(wrapped)
    for _ in range(depth):
        assert type(value) is tuple
        value = value[0]
    return value


def test_records_with_bad_fields_get_the_general_reasons() -> None:
    good = encode(Point(1, 2, "p"))
    body = good[good.index(b"\x94") :]
    for bad_body, reason in [
        (b"\x94\x63\x01\x02\xa1p", "unknown_tag"),  # tag 99: not an app's, not registered
        (body.replace(b"\xa1p", b"\xc4\x01p"), "bad_field"),  # label as bytes
        (b"\x93" + body[1:-2], "bad_record"),  # a field missing
        (body[:6] + b"\xcc\x01" + body[7:], "not_canonical"),  # x as uint8
    ]:
        data = msgpack.packb(msgpack.ExtType(RECORD_EXT, bad_body))
        with pytest.raises(RemoteProtocolError) as fast:
            decode_prefix(data + b"\xc0")
        with pytest.raises(RemoteProtocolError) as general:
            decode(data)
        assert fast.value.reason == general.value.reason == reason


def test_read_bin_accepts_only_the_smallest_header() -> None:
    for size in (0, 1, 255, 256, 65_535, 65_536):
        blob = bytes(size)
        data = encode(blob) + b"\xc0"
        assert read_bin(data, 0) == (blob, len(data) - 1)
    assert read_bin(b"\xc5\x00\x01\x00", 0) is None  # bin16 for one byte
    assert read_bin(b"\xc6\x00\x00\x00\x01\x00", 0) is None  # bin32 for one byte
    assert read_bin(b"\xc6\x00\x00\xff\xff" + bytes(65_535), 0) is None
    assert read_bin(b"\xc4\x02\x00", 0) is None  # runs past the end
    assert read_bin(b"\xc4", 0) is None
    assert read_bin(b"\xa1a", 0) is None  # a str is not a bin
    assert read_bin(b"", 0) is None


def test_read_array_header_accepts_only_the_smallest_header() -> None:
    for count in (0, 15, 16, 65_535, 65_536):
        data = encode((None,) * count)
        assert read_array_header(data, 0) == (count, len(data) - count)
    assert read_array_header(b"\xdc\x00\x0f", 0) is None  # array16 for 15 items
    assert read_array_header(b"\xdd\x00\x00\xff\xff", 0) is None
    assert read_array_header(b"\xdc\x00", 0) is None
    assert read_array_header(b"\x80", 0) is None  # a map
    assert read_array_header(b"", 0) is None


def test_record_body_at_accepts_only_the_smallest_ext_header() -> None:
    for size in (1, 2, 3, 4, 8, 16, 17, 255, 256, 65_535, 65_536):
        body = bytes(size)
        data = msgpack.packb(msgpack.ExtType(RECORD_EXT, body))
        assert record_body_at(data) == len(data) - size
    assert record_body_at(b"\xc7\x01\x50\x00") is None  # ext8 for a fixext size
    assert record_body_at(b"\xc8\x00\x03\x50\x00\x00\x00") is None
    assert record_body_at(b"\xc9\x00\x00\x00\x03\x50\x00\x00\x00") is None
    assert record_body_at(b"\xd5\x51\x00\x00") is None  # another ext code
    assert record_body_at(b"\xd5\x50\x00") is None  # shorter than it says
    assert record_body_at(b"\xd5\x50\x00\x00\x00") is None  # longer than it says
    assert record_body_at(b"\x93\x01\x02\x03") is None


@settings(max_examples=300, deadline=None)
@given(fuzz_inputs, st.integers(0, 8))
def test_header_readers_never_raise(data: bytes, at: int) -> None:
    for found in (read_bin(data, at), read_array_header(data, at)):
        assert found is None or at < found[1] <= len(data)
    head = record_body_at(data)
    assert head is None or 2 <= head <= len(data)


# -- encoding many values at a nesting depth --------------------------------------------------


def _encoded_or_refused(f: object) -> object:
    assert callable(f)
    try:
        return f()
    except EncodeError:
        return "refused"


@settings(max_examples=60, deadline=None)
@given(st.lists(canonical_values(), max_size=6), st.integers(0, MAX_DEPTH + 1))
def test_encode_many_nested_is_encode_nested_of_each(values: list[object], depth: int) -> None:
    many = _encoded_or_refused(lambda: encode_many_nested(values, depth))
    each = _encoded_or_refused(lambda: [encode_nested(v, depth) for v in values])
    assert many == each


def test_encode_many_nested_refuses_what_encode_refuses() -> None:
    for bad in [("x", 2**64), ("x", 1.5), (-(2**63) - 1,), 2**70, ("a", object())]:
        with pytest.raises(EncodeError):
            encode_many_nested([("ok", 1), bad], 3)
        with pytest.raises(EncodeError):
            encode_nested(bad, 3)
    # A flat tuple fits one level above the limit, not at it.
    assert encode_many_nested([(1, 2)], MAX_DEPTH - 1) == [encode((1, 2))]
    with pytest.raises(EncodeError):
        encode_many_nested([(1, 2)], MAX_DEPTH)
