"""Frames and messages between the node and its keyless app worker process.

The node runs app code in a separate process that holds no key
(``peoplenet.plugins.worker``).  They
talk over the worker's stdin/stdout: each frame is a 4-byte big-endian length and one canonical
codec value.  A call is answered by a result or a failure; while it runs, the worker may call
back (``publish``, ``submit``...) and wait for the node's answer, so one call can nest several
callbacks.  Everything the worker sends is untrusted input: a malformed frame or message is a
:class:`WorkerProtocolError`, never a crash of the node.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from peoplenet.runtime.errors import PluginError, RemoteProtocolError
from peoplenet.runtime.wire.codec import MAX_MESSAGE_SIZE, Value, decode, decode_own, encode

HEADER: Final = struct.Struct(">I")
MAX_FRAME: Final = MAX_MESSAGE_SIZE


class WorkerError(PluginError):
    """Something went wrong with the app worker, the process that runs app code (base class)."""

    reason = "worker_failed"


class WorkerProtocolError(WorkerError):
    """The worker sent bytes that are not a well-formed frame or message (the worker's fault).

    ``reason`` says what was wrong (``bad_message``, ``frame_too_large``, ``unexpected``)."""

    reason = "worker_protocol_error"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class WorkerHung(WorkerError):
    """The worker did not answer within the deadline; it has been killed."""

    reason = "worker_hung"


class WorkerGone(WorkerError):
    """The worker's pipe closed or its process exited."""

    reason = "worker_gone"


class CallFailed(WorkerError):
    """The other side's handler raised; ``kind`` is its exception's class name.

    (The class name crosses only the pipe between the node and its own worker, both of one
    install: it lets the node rebuild the app's typed refusal.)"""

    reason = "worker_call_failed"

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


# -- messages ----------------------------------------------------------------------------------
#
# Plain tuples keep the channel free of record tags: ("call", id, method, args) from the node;
# ("back", id, method, args) from the worker; ("ok", id, value) and ("fail", id, kind, detail)
# answer either; ("stop",) asks the worker to exit.


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded channel message."""

    kind: str
    """``call``, ``back``, ``ok``, ``fail`` or ``stop``."""
    id: int = 0
    method: str = ""
    value: Value = None
    detail: str = ""

    def encode(self) -> bytes:
        if self.kind in ("call", "back"):
            body: Value = (self.kind, self.id, self.method, self.value)
        elif self.kind == "ok":
            body = ("ok", self.id, self.value)
        elif self.kind == "fail":
            body = ("fail", self.id, self.method, self.detail)
        else:
            body = ("stop",)
        return frame(encode(body))


def frame(payload: bytes) -> bytes:
    if len(payload) > MAX_FRAME:
        raise WorkerError(f"a message of {len(payload)} bytes is over the {MAX_FRAME} limit")
    return HEADER.pack(len(payload)) + payload


def parse(payload: bytes, *, own: bool = False) -> Message:
    """One frame's payload as a :class:`Message`; :class:`WorkerProtocolError` if it is not one.

    ``own``: the payload comes from the node that started this worker (the worker's side),
    whose encoder made it canonical: it is decoded without checking that again."""
    try:
        body = decode_own(payload) if own else decode(payload)
    except RemoteProtocolError as exc:
        raise WorkerProtocolError("bad_message", str(exc)) from None
    if not isinstance(body, tuple) or not body or not isinstance(body[0], str):
        raise WorkerProtocolError("bad_message", "not a tagged tuple")
    kind = body[0]
    if kind == "stop" and len(body) == 1:
        return Message("stop")
    if len(body) < 3 or not isinstance(body[1], int) or isinstance(body[1], bool):
        raise WorkerProtocolError("bad_message", f"malformed {kind!r}")
    if kind in ("call", "back") and len(body) == 4 and isinstance(body[2], str):
        return Message(kind, body[1], body[2], body[3])
    if kind == "ok" and len(body) == 3:
        return Message("ok", body[1], value=body[2])
    if kind == "fail" and len(body) == 4 and isinstance(body[2], str) and isinstance(body[3], str):
        return Message("fail", body[1], body[2], detail=body[3])
    raise WorkerProtocolError("bad_message", f"malformed {kind!r}")


class FrameReader:
    """Cuts a byte stream into frame payloads (pure: bytes in, payloads out)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            if size > MAX_FRAME:
                raise WorkerProtocolError("frame_too_large", f"{size} bytes announced")
            end = HEADER.size + size
            if len(self._buffer) < end:
                break
            out.append(bytes(self._buffer[HEADER.size : end]))
            del self._buffer[:end]
        return out

    @property
    def pending(self) -> int:
        """Bytes held that do not make a whole frame yet."""
        return len(self._buffer)


__all__ = [
    "MAX_FRAME",
    "CallFailed",
    "FrameReader",
    "Message",
    "WorkerError",
    "WorkerGone",
    "WorkerHung",
    "WorkerProtocolError",
    "frame",
    "parse",
]
