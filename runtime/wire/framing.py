"""Length-prefixed frames: how canonical values travel over a byte stream.

A frame is a 4-byte big-endian length ``n`` (``1 <= n <= max_frame``) followed by ``n`` bytes:
the canonical encoding of one value (:mod:`peoplenet.runtime.wire.codec`).  Why a length prefix
rather than
streaming msgpack: the receiver learns a frame's size before its body arrives, so an oversize
frame is refused before any of it is buffered, and each body is checked by the strict decoder
as one complete message.

The decoder trusts nothing: the first bad frame closes it for good, because a stream that
has lost its framing (or a peer that sends garbage) cannot be resynchronised safely; the
transport drops the connection.
"""

from __future__ import annotations

import struct
from typing import Final

from peoplenet.runtime.errors import EncodeError, LocalError, RemoteProtocolError
from peoplenet.runtime.wire import codec
from peoplenet.runtime.wire.codec import Value

HEADER_LEN: Final = 4
"""Bytes in a frame's length prefix."""

MAX_FRAME_LIMIT: Final = 2**32 - 1
"""The largest length the prefix can express."""

_HEADER: Final = struct.Struct(">I")


def encode_frame(value: object, *, max_frame: int = codec.MAX_MESSAGE_SIZE) -> bytes:
    """One frame carrying ``value``; :class:`EncodeError` if the receiver would refuse it."""
    body = codec.encode(value)
    if len(body) > max_frame:
        raise EncodeError(f"frame of {len(body)} bytes > {max_frame}")
    return _HEADER.pack(len(body)) + body


class FrameDecoder:
    """Splits a byte stream into decoded values, however the stream was chunked.

    Bytes are appended to one ``bytearray`` and frames are read from it by offset; the
    consumed prefix is dropped once per :meth:`feed`.  Everything left after the last whole
    frame arrived in that same call, so the dropping copies at most the bytes just fed, and
    decoding a stream costs time linear in its length however it is chunked.
    """

    __slots__ = ("_buf", "_closed", "_max_frame")

    def __init__(self, max_frame: int = codec.MAX_MESSAGE_SIZE) -> None:
        if type(max_frame) is not int or not 1 <= max_frame <= MAX_FRAME_LIMIT:
            raise LocalError(f"max_frame must be an int in 1..{MAX_FRAME_LIMIT}")
        self._max_frame = max_frame
        self._buf = bytearray()
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether a bad frame has been seen (every later :meth:`feed` raises)."""
        return self._closed

    def pending(self) -> int:
        """Bytes received but not yet part of a whole frame."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Value]:
        """Buffer ``data`` and return every value completed so far, in order.

        Raises :class:`RemoteProtocolError` at the first bad frame (``oversize`` as soon as
        its length prefix is read; ``malformed`` for a zero length; the codec's reason for a
        bad body) and closes the decoder: values from earlier frames in the same ``data`` are
        dropped with the connection.  A closed decoder raises ``closed``.
        """
        if self._closed:
            raise RemoteProtocolError("closed", "the stream already had a bad frame")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise LocalError(f"feed takes bytes, not {type(data).__name__}")
        buf = self._buf
        buf += data
        end = len(buf)
        pos = 0
        values: list[Value] = []
        try:
            while end - pos >= HEADER_LEN:
                (size,) = _HEADER.unpack_from(buf, pos)
                if size > self._max_frame:
                    raise RemoteProtocolError("oversize", f"frame of {size} > {self._max_frame}")
                if size == 0:
                    raise RemoteProtocolError("malformed", "zero-length frame")
                start = pos + HEADER_LEN
                stop = start + size
                if stop > end:
                    break
                body = bytes(memoryview(buf)[start:stop])  # one copy; the view dies here
                values.append(codec.decode(body, max_size=self._max_frame))
                pos = stop
        except RemoteProtocolError:
            self._closed = True
            buf.clear()
            raise
        if pos:
            del buf[:pos]
        return values
