"""App records a process has no class for travel as opaque records, byte for byte.

Why it matters: a node that does not run an app still stores and relays the app's lace, and
the node's trusted side must sign over app records without importing app code.
"""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, verify_block
from peoplenet.runtime.wire.codec import (
    OPAQUE_TAG_MIN,
    RECORD_EXT,
    OpaqueRecord,
    Value,
    decode,
    decode_as,
    encode,
    registered_tags,
)

UNUSED_APP_TAG = 7_777_001


def _ext(body: list[object]) -> bytes:
    inner = msgpack.packb(body, use_bin_type=True)
    return msgpack.packb(msgpack.ExtType(RECORD_EXT, inner), use_bin_type=True)  # type: ignore[no-any-return]


def test_an_unknown_app_record_round_trips_exactly() -> None:
    assert UNUSED_APP_TAG not in registered_tags()
    raw = _ext([UNUSED_APP_TAG, 1, b"x", [2, "a"], {"k": None}])
    value = decode(raw)
    assert value == OpaqueRecord(UNUSED_APP_TAG, (1, b"x", (2, "a"), {"k": None}))
    assert encode(value) == raw
    nested = encode({"outer": OpaqueRecord(UNUSED_APP_TAG, (value,))})
    assert decode(nested) == {"outer": OpaqueRecord(UNUSED_APP_TAG, (value,))}


def test_opaque_items_are_still_checked_canonical() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode(_ext([UNUSED_APP_TAG, {"b": 1, "a": 2}]))  # keys out of order
    assert info.value.reason == "not_canonical"
    widened = bytearray(_ext([UNUSED_APP_TAG, 1]))
    widened[-1:] = b"\xcc\x01"  # 1 as uint8: not the smallest form
    with pytest.raises(RemoteProtocolError):
        decode(bytes(widened))


def test_tags_below_the_apps_range_are_never_opaque() -> None:
    for tag in (0, 99, OPAQUE_TAG_MIN - 1):
        with pytest.raises(RemoteProtocolError) as info:
            decode(_ext([tag, 1]))
        assert info.value.reason == "unknown_tag"


def test_a_typed_field_does_not_take_an_opaque_record() -> None:
    block = Block.create(Identity.from_seed(b"\x01" * 32), b"a/" + b"\x00" * 32, "p")
    raw = encode(OpaqueRecord(UNUSED_APP_TAG, ()))
    with pytest.raises(RemoteProtocolError):
        decode_as(Block, raw)
    assert decode_as(Block, block.to_bytes()) == block


def test_a_block_with_an_opaque_payload_is_read_and_verified() -> None:
    identity = Identity.from_seed(b"\x02" * 32)
    payload = OpaqueRecord(UNUSED_APP_TAG, (30, b"\x05" * 32, "memo"))
    block = Block.create(identity, b"a/" + b"\x01" * 32, payload)
    again = Block.from_bytes(block.to_bytes())
    assert again == block and again.payload == payload and again.id == block.id
    verify_block(again)  # raises InvalidBlock on a bad signature


_leaf = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8)
_values = st.recursive(
    _leaf | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        | st.builds(
            OpaqueRecord,
            st.integers(10_000_000, 10_000_100),
            st.lists(inner, max_size=3).map(tuple),
        )
    ),
    max_leaves=12,
)


@given(_values)
def test_any_value_with_opaque_records_round_trips(value: Value) -> None:
    raw = encode(value)
    assert decode(raw) == value
    assert encode(decode(raw)) == raw
