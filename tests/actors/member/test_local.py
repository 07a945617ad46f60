"""The node's local pieces without processes: data directory, lock, control socket, queries."""

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
from peoplenet.actors.member.node import (
    feed_report,
    friends_report,
    introduction,
    names_report,
    resolve_block,
    resolve_member,
    unknown_community_text,
)
from peoplenet.runtime.cli.names import NameTooShort, UnknownName, UnverifiedName
from peoplenet.runtime.keys.identity import Identity, fingerprint
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.local import control
from peoplenet.runtime.local.datadir import DataDir, DataDirError, NodeSettings
from peoplenet.runtime.social.core import SocialNode
from peoplenet.runtime.social.dissemination import FriendRequest
from peoplenet.runtime.social.evidence_store import MemoryEvidenceStore
from peoplenet.runtime.social.graph import Befriend, Post, personal_lace
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


# -- control queries over the social core ------------------------------------------------------


def _node_with_friend() -> tuple[SocialNode, Identity, Identity, Block]:
    me, friend = Identity.generate(), Identity.generate()
    lace = Blocklace(MemoryStore())
    mine = Block.create(me, personal_lace(me.member_id), Befriend(friend.member_id), ())
    theirs = Block.create(friend, personal_lace(friend.member_id), Befriend(me.member_id), ())
    post = Block.create(friend, personal_lace(friend.member_id), Post("hi"), (theirs.id,))
    lace.add_many([mine, theirs, post], verified=True)
    return SocialNode(me.member_id, lace, MemoryEvidenceStore()), me, friend, post


def test_resolve_member_by_id_fingerprint_and_prefix() -> None:
    core, _me, friend, _post = _node_with_friend()
    fid = friend.member_id
    assert resolve_member(core, fid.hex(), {}) == fid
    assert resolve_member(core, fingerprint(fid), {}) == fid
    assert resolve_member(core, fid.hex()[:10], {}) == fid
    with pytest.raises(NameTooShort):
        resolve_member(core, "abcd", {})
    with pytest.raises(UnknownName, match="no known member matches"):
        resolve_member(core, "00000000000000ff", {})
    with pytest.raises(UnknownName, match="neither a petname"):
        resolve_member(core, "g" * 64, {})


def test_pending_requests_and_discovered_peers_need_a_full_name() -> None:
    core, me, _friend, _post = _node_with_friend()
    stranger = Identity.generate()
    sid = stranger.member_id
    request = Block.create(stranger, personal_lace(sid), Befriend(me.member_id), ())
    outcome = core.on_wire(sid, FriendRequest(request.to_bytes()), 0.0)
    assert not outcome.errors
    assert sid in core.pending_requests()
    with pytest.raises(UnverifiedName, match="pending request"):
        resolve_member(core, sid.hex()[:16], {})
    assert resolve_member(core, fingerprint(sid), {}) == sid
    assert resolve_member(core, sid.hex(), {}) == sid
    peer = Identity.generate().member_id
    with pytest.raises(UnverifiedName, match="discovered"):
        resolve_member(core, fingerprint(peer)[:9], {peer: ("127.0.0.1", 1)})
    listed: dict[Any, Any] = {}
    for entry in names_report(core, {peer: ("127.0.0.1", 1)}):
        assert isinstance(entry, dict)
        listed[entry["member"]] = entry
    assert listed[sid.hex()]["verified"] is False
    assert listed[peer.hex()]["sources"] == ("discovered",)
    assert listed[me.member_id.hex()]["sources"] == ("me",)


def test_unknown_community_points_at_the_right_join_command() -> None:
    coop = unknown_community_text("riders", "coop_show", ["bakers"])
    assert "peoplenet coop join" in coop
    assert "bakers" in coop
    plain = unknown_community_text("riders", "community_status", [])
    assert "peoplenet community join" in plain


def test_reports_show_friends_and_feed() -> None:
    core, _me, friend, post = _node_with_friend()
    report = friends_report(core)
    friends = report["friends"]
    assert isinstance(friends, tuple)
    assert friends[0] == {"member": friend.member_id.hex(), "fingerprint": friend.fingerprint}
    feed = feed_report(core, 10)
    assert len(feed) == 1
    item = feed[0]
    assert isinstance(item, dict)
    assert item["text"] == "hi"
    assert item["block"] == post.id.hex()
    assert resolve_block(core, post.id.hex()) == (friend.member_id, post.id)
    assert resolve_block(core, post.id.hex()[:12]) == (friend.member_id, post.id)
    with pytest.raises(UnknownName, match="no block"):
        resolve_block(core, "00" * 32)


def test_introductions_only_between_friends() -> None:
    core, _me, friend, _post = _node_with_friend()
    stranger = Identity.generate().member_id
    with pytest.raises(CommandError, match="not your friend"):
        introduction(core, friend.member_id, stranger, "")
