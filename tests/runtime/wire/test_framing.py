"""Stream framing: chunking never changes what is decoded, and bad streams fail closed.

Why: TCP and friends deliver arbitrary chunks, so the decoder must give the same values
whatever the chunk boundaries; and a peer's garbage must only ever raise RemoteProtocolError,
after which the connection is unusable.
"""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peoplenet.runtime.errors import EncodeError, LocalError, RemoteProtocolError
from peoplenet.runtime.wire.codec import MAX_MESSAGE_SIZE, Value, encode
from peoplenet.runtime.wire.framing import HEADER_LEN, FrameDecoder, encode_frame
from tests.strategies import canonical_values

values = canonical_values(max_text=20, max_key=5, max_leaves=10)

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def header(size: int) -> bytes:
    return struct.pack(">I", size)


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[Value]:
    out: list[Value] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def outcome(chunks: list[bytes]) -> tuple[list[Value], str | None, int]:
    """Values decoded, the error reason if any, and bytes left pending."""
    decoder = FrameDecoder()
    out: list[Value] = []
    try:
        for chunk in chunks:
            out.extend(decoder.feed(chunk))
    except RemoteProtocolError as exc:
        assert decoder.closed
        return out, exc.reason, decoder.pending()
    return out, None, decoder.pending()


# -- the format ---------------------------------------------------------------------------


def test_frame_format() -> None:
    body = encode({"a": (1, b"x")})
    assert encode_frame({"a": (1, b"x")}) == struct.pack(">I", len(body)) + body
    assert encode_frame(None) == b"\x00\x00\x00\x01\xc0"


def test_encode_frame_refuses_what_no_receiver_takes() -> None:
    with pytest.raises(EncodeError):
        encode_frame(b"x" * 100, max_frame=50)
    with pytest.raises(EncodeError):
        encode_frame(1.5)
    assert len(encode_frame(b"x" * 100, max_frame=102)) == HEADER_LEN + 102


@PROPS
@given(st.lists(values, max_size=8))
def test_round_trip(items: list[Value]) -> None:
    stream = b"".join(encode_frame(v) for v in items)
    decoder = FrameDecoder()
    assert decoder.feed(stream) == items
    assert decoder.pending() == 0
    assert not decoder.closed


@PROPS
@given(st.lists(values, min_size=1, max_size=8), st.data())
def test_chunking_does_not_matter(items: list[Value], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(v) for v in items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    whole = outcome([stream])
    assert whole == (items, None, 0)
    assert outcome(bytewise(stream)) == whole
    assert outcome(chunks) == whole


def test_partial_frames_are_buffered() -> None:
    frame = encode_frame("hello")
    decoder = FrameDecoder()
    assert decoder.feed(frame[:2]) == []
    assert decoder.pending() == 2
    assert decoder.feed(frame[2:-1]) == []
    assert decoder.pending() == len(frame) - 1
    assert decoder.feed(frame[-1:] + frame[:3]) == ["hello"]
    assert decoder.pending() == 3
    assert decoder.feed(b"") == []
    assert decoder.feed(bytearray(frame[3:])) == ["hello"]
    assert decoder.pending() == 0


def test_feed_accepts_bytes_like_only() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(memoryview(encode_frame(1))) == [1]
    with pytest.raises(LocalError):
        decoder.feed("abc")  # type: ignore[arg-type]
    assert not decoder.closed  # our own mistake does not drop the peer


@pytest.mark.parametrize("bad", [0, -1, 2**32, True, 1.5])
def test_max_frame_must_be_sane(bad: object) -> None:
    with pytest.raises(LocalError):
        FrameDecoder(bad)  # type: ignore[arg-type]


# -- bad streams --------------------------------------------------------------------------


def test_oversize_is_refused_on_the_header() -> None:
    decoder = FrameDecoder(max_frame=100)
    assert decoder.feed(encode_frame(b"x" * 90)) == [b"x" * 90]
    assert decoder.feed(header(101)[:3]) == []
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed(header(101)[3:])  # no body byte has arrived yet
    assert info.value.reason == "oversize"
    assert decoder.closed
    assert decoder.pending() == 0


def test_default_ceiling_is_the_codec_limit() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(header(MAX_MESSAGE_SIZE)) == []
    with pytest.raises(RemoteProtocolError) as info:
        FrameDecoder().feed(header(MAX_MESSAGE_SIZE + 1))
    assert info.value.reason == "oversize"
    with pytest.raises(RemoteProtocolError) as info:
        FrameDecoder().feed(b"\xff\xff\xff\xff")
    assert info.value.reason == "oversize"


def test_zero_length_frame_is_malformed() -> None:
    decoder = FrameDecoder()
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed(encode_frame(1) + header(0) + encode_frame(2))
    assert info.value.reason == "malformed"
    assert decoder.closed


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xcc\x01", "not_canonical"),
        (b"\xcb" + b"\x00" * 8, "not_canonical"),
        (b"\xc0\xc0", "trailing_bytes"),
        (b"\x92\x01", "truncated"),  # the frame ends inside the value
        (b"\xc1", "malformed"),
        (b"\xd4\x05\x00", "unknown_ext"),
    ],
)
def test_bad_body_closes_the_decoder(body: bytes, reason: str) -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame("ok")) == ["ok"]
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed(header(len(body)) + body + encode_frame("after"))
    assert info.value.reason == reason
    assert decoder.closed
    assert decoder.pending() == 0


def test_closed_decoder_stays_closed() -> None:
    decoder = FrameDecoder()
    with pytest.raises(RemoteProtocolError):
        decoder.feed(header(1) + b"\xc1")
    for data in (encode_frame(1), b""):
        with pytest.raises(RemoteProtocolError) as info:
            decoder.feed(data)
        assert info.value.reason == "closed"


@st.composite
def valid_then_junk(draw: st.DrawFn) -> bytes:
    """Some good frames followed by a few random bytes."""
    items = draw(st.lists(values, max_size=4))
    return b"".join(encode_frame(v) for v in items) + draw(st.binary(max_size=8))


framed_garbage = st.lists(st.binary(max_size=40), max_size=6).map(
    lambda bodies: b"".join(header(len(body)) + body for body in bodies)
)
"""Well-formed length prefixes around random bodies, so the bodies reach the codec."""


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200) | valid_then_junk() | framed_garbage)
def test_garbage_only_raises_protocol_errors(stream: bytes) -> None:
    whole = outcome([stream])
    one_by_one = outcome(bytewise(stream))
    # The same stream fails at the same frame for the same reason however it arrives; fed
    # whole, the values before the bad frame are dropped with the connection.
    assert whole[1] == one_by_one[1]
    if whole[1] is None:
        assert whole == one_by_one
    else:
        assert whole == ([], whole[1], 0)
        assert one_by_one[2] == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(values, min_size=1, max_size=5), st.integers(0, 200), st.integers(0, 255))
def test_corrupted_stream_never_escapes(items: list[Value], at: int, xor: int) -> None:
    stream = bytearray(b"".join(encode_frame(v) for v in items))
    stream[at % len(stream)] ^= xor or 1
    for chunks in ([bytes(stream)], bytewise(bytes(stream))):
        decoder = FrameDecoder(max_frame=1024)
        try:
            feed_all(decoder, chunks)
        except RemoteProtocolError:
            assert decoder.closed
            with pytest.raises(RemoteProtocolError):
                decoder.feed(b"")


# -- many small frames --------------------------------------------------------------------


def test_many_small_frames() -> None:
    n = 100_000
    frames = [encode_frame(i) for i in range(n)]
    stream = b"".join(frames)
    assert FrameDecoder().feed(stream) == list(range(n))

    decoder = FrameDecoder()
    got: list[Value] = []
    for i in range(0, len(stream), 4093):  # chunks that split frames and headers
        got.extend(decoder.feed(stream[i : i + 4093]))
        assert decoder.pending() < HEADER_LEN + 9  # never more than one partial frame
    assert got == list(range(n))
    assert decoder.pending() == 0


def test_large_frame_in_small_chunks() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    frame = encode_frame(payload)
    decoder = FrameDecoder()
    got: list[Value] = []
    for i in range(0, len(frame), 1000):
        got.extend(decoder.feed(frame[i : i + 1000]))
    assert got == [payload]
    assert decoder.pending() == 0
