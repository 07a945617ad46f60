"""The local control socket: how ``peoplenet post``, ``friends`` and ``status`` talk to a node.

A Unix socket in the data directory (mode 0600, so only the node's user can drive it), carrying
length-prefixed canonical msgpack (runtime/wire/framing.py): one request ``{"op": str, "args":
{...}}`` and one reply ``{"ok": True, "result": ...}`` or ``{"ok": False, "error": str,
"reason": str}`` per connection.  ``reason`` is the error's stable snake_case code
(:attr:`~peoplenet.runtime.errors.PeoplenetError.reason`; the table is in docs/network.md),
never a Python class name.  It never listens on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from peoplenet.runtime.errors import (
    REASON,
    LocalError,
    PeoplenetError,
    RemoteProtocolError,
    reason_of,
)
from peoplenet.runtime.wire.codec import Value
from peoplenet.runtime.wire.framing import FrameDecoder, encode_frame

MAX_CONTROL_MESSAGE = 4 * 1024 * 1024

Handler = Callable[[str, dict[str, Value]], Awaitable[Value]]

BAD_REQUEST: Final = "bad_request"
"""The request is not ``{"op": str, "args": map}``."""
NO_ANSWER: Final = "no_answer"
"""The node did not answer within the client's timeout."""
BAD_REPLY: Final = "bad_reply"
"""The reply is not one the node sends."""


class NodeNotRunning(LocalError):
    """No node answers on the data directory's control socket."""

    reason = "node_not_running"


class ControlError(LocalError):
    """The node refused a control request, or did not answer it; ``reason`` is the stable code
    of what went wrong there (the node's error's own reason)."""

    reason = "control_failed"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ControlServer:
    """Serves control requests with ``handler(op, args)`` until closed."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        finally:
            os.umask(old)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_one(reader)
            reply = await self._answer(request)
            writer.write(encode_frame(reply, max_frame=MAX_CONTROL_MESSAGE))
            await writer.drain()
        except (PeoplenetError, OSError, asyncio.IncompleteReadError):
            pass  # a broken local client: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _answer(self, request: Value) -> dict[str, Value]:
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            return {"ok": False, "error": "malformed control request", "reason": BAD_REQUEST}
        args = request.get("args", {})
        if not isinstance(args, dict):
            return {"ok": False, "error": "args must be a map", "reason": BAD_REQUEST}
        op = request["op"]
        assert isinstance(op, str)
        try:
            result = await self._handler(op, args)
        except PeoplenetError as exc:
            return {"ok": False, "error": str(exc), "reason": reason_of(exc)}
        return {"ok": True, "result": result}


async def _read_one(reader: asyncio.StreamReader) -> Value:
    decoder = FrameDecoder(MAX_CONTROL_MESSAGE)
    while True:
        data = await reader.read(65536)
        if not data:
            raise asyncio.IncompleteReadError(b"", None)
        frames = decoder.feed(data)
        if frames:
            return frames[0]


def call(path: Path, op: str, args: dict[str, Value] | None = None, timeout: float = 30.0) -> Any:
    """Send one request to the node behind ``path`` and return its result (blocking).

    The result is JSON-like: maps, lists, str, int, bool, None (and bytes, rarely).
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NodeNotRunning(
                f"no node is running from {path.parent}: start one with "
                f"`peoplenet node start --data {path.parent}`"
            ) from exc
        sock.sendall(encode_frame({"op": op, "args": args or {}}, max_frame=MAX_CONTROL_MESSAGE))
        decoder = FrameDecoder(MAX_CONTROL_MESSAGE)
        while True:
            data = sock.recv(65536)
            if not data:
                raise NodeNotRunning("the node closed the control connection without answering")
            frames = decoder.feed(data)
            if frames:
                reply = frames[0]
                break
    except TimeoutError as exc:
        raise ControlError(f"the node did not answer {op!r} within {timeout} s", NO_ANSWER) from exc
    except RemoteProtocolError as exc:
        raise ControlError(f"garbled reply from the node: {exc}", BAD_REPLY) from exc
    finally:
        sock.close()
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise ControlError("garbled reply from the node", BAD_REPLY)
    if not reply["ok"]:
        reason = reply.get("reason")
        if not isinstance(reason, str) or not REASON.match(reason):
            reason = BAD_REPLY  # a node of another version, or not ours
        raise ControlError(str(reply.get("error")), reason)
    return _lists(reply.get("result"))


def _lists(value: Value) -> Any:
    """Arrays decode as tuples; callers of the control API get plain lists (JSON-like)."""
    if isinstance(value, tuple):
        return [_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value
