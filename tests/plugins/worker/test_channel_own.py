"""Frames from the node to its worker: decoded without the canonical re-check, still typed."""

from __future__ import annotations

import pytest

from peoplenet.plugins.worker.channel import Message, WorkerProtocolError, parse
from peoplenet.runtime.wire.codec import MAX_MESSAGE_SIZE, decode_own, encode


def test_own_frames_parse_as_the_checked_path_does() -> None:
    msg = Message("call", 3, "receive_then_duties", {"peer": b"p", "now_ms": 5, "x": (1, "y")})
    payload = msg.encode()[4:]
    assert parse(payload, own=True) == parse(payload) == msg


@pytest.mark.parametrize("payload", [b"", b"\xc1", encode(("call",)) + b"\x00"])
def test_malformed_own_frames_are_still_typed_errors(payload: bytes) -> None:
    with pytest.raises(WorkerProtocolError):
        parse(payload, own=True)


def test_decode_own_refuses_oversize() -> None:
    with pytest.raises(WorkerProtocolError):
        parse(b"\x00" * (MAX_MESSAGE_SIZE + 1), own=True)
    assert decode_own(encode({"b": 1, "a": 2})) == {"a": 2, "b": 1}
