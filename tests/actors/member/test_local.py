"""The node's local pieces without processes: data directory, lock, control socket."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.member.command_errors import CommandError
from peoplenet.runtime.local import control
from peoplenet.runtime.local.datadir import DataDir, DataDirError, NodeSettings
from peoplenet.runtime.wire.codec import Value
from peoplenet.runtime.wire.framing import FrameDecoder, encode_frame

# -- data directory ----------------------------------------------------------------------------


def test_settings_round_trip_and_refuse_unknown_or_bad_values(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "node")
    settings = NodeSettings(network="coop", listen_port=0, peers=("10.0.0.2:7700",))
    data.create(settings)
    (data.key_file).write_bytes(b"x")  # exists() wants both files
    assert data.settings() == settings
    assert data.settings().network_id == b"peoplenet/coop"

    raw = json.loads(data.config_file.read_text())
    raw["colour"] = "blue"
    data.config_file.write_text(json.dumps(raw))
    with pytest.raises(DataDirError, match="unknown settings"):
        data.settings()
    raw.pop("colour")
    raw["listen_port"] = 70000
    data.config_file.write_text(json.dumps(raw))
    with pytest.raises(DataDirError, match="out of range"):
        data.settings()
    data.config_file.write_text("{not json")
    with pytest.raises(DataDirError, match="cannot read"):
        data.settings()
    with pytest.raises(DataDirError, match="already exists"):
        data.create(settings)


def test_missing_data_dir_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(DataDirError, match="peoplenet init --data"):
        DataDir(tmp_path / "nowhere").require()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataDirError, match="not a peoplenet data directory"):
        DataDir(tmp_path / "empty").require()


def test_lock_allows_one_node_per_data_dir(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    first = data.lock()
    first.acquire()
    try:
        assert data.lock().holder() is not None
        with pytest.raises(DataDirError, match="already running"):
            data.lock().acquire()
    finally:
        first.release()
    assert data.lock().holder() is None
    again = data.lock()
    again.acquire()
    again.release()


# -- control socket ----------------------------------------------------------------------------


@pytest.fixture
def control_server(tmp_path: Path) -> Iterator[Path]:
    """A ControlServer on its own loop thread, answering echo/fail/slow."""
    path = tmp_path / "control.sock"
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def handler(op: str, args: dict[str, Value]) -> Value:
        if op == "echo":
            return {"args": args, "list": (1, 2, (3,))}
        raise CommandError(f"no such thing: {op}")

    server = control.ControlServer(path, handler)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    yield path
    asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_control_round_trip_gives_plain_lists(control_server: Path) -> None:
    result: Any = control.call(control_server, "echo", {"x": 1})
    assert result == {"args": {"x": 1}, "list": [1, 2, [3]]}
    assert (control_server.stat().st_mode & 0o777) == 0o600


def test_control_errors_are_typed_and_carry_the_reason(control_server: Path) -> None:
    with pytest.raises(control.ControlError, match="no such thing: nope") as info:
        control.call(control_server, "nope")
    assert info.value.reason == "command_refused"


def _raw_reply(path: Path, request: Value) -> Value:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(encode_frame(request))
        decoder = FrameDecoder(control.MAX_CONTROL_MESSAGE)
        while not (frames := decoder.feed(sock.recv(65536))):
            pass
    return frames[0]


def test_a_refusal_on_the_socket_is_a_stable_reason_not_a_class_name(
    control_server: Path,
) -> None:
    refused = _raw_reply(control_server, {"op": "nope", "args": {}})
    assert refused == {"ok": False, "error": "no such thing: nope", "reason": "command_refused"}
    malformed = _raw_reply(control_server, {"op": 3})
    assert malformed == {"ok": False, "error": "malformed control request", "reason": "bad_request"}


@pytest.mark.parametrize(
    "payload",
    [b"\x00\x00\x00\x05hello", encode_frame([1, 2]), encode_frame({"op": 3}), b"\xff" * 3],
)
def test_control_server_survives_garbage(control_server: Path, payload: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(control_server))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        answer = sock.recv(65536)
    if answer:  # a well-framed but malformed request gets a typed refusal
        (size,) = struct.unpack(">I", answer[:4])
        assert size == len(answer) - 4
    assert control.call(control_server, "echo") is not None  # still serving


def test_call_without_a_node_says_so(tmp_path: Path) -> None:
    with pytest.raises(control.NodeNotRunning, match="peoplenet node start"):
        control.call(tmp_path / "control.sock", "status")
