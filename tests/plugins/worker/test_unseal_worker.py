"""Sealed details through the real keyless worker: the app seals to the member, its command has
the node open them, and nothing secret ever crosses into the worker (only the details come
back).  Then the node's side, asked directly as a hostile worker would ask it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from peoplenet.actors.work.sealed import Sealed, seal, seal_context
from peoplenet.plugins.api import AppCommandError, FoldContext
from peoplenet.plugins.unsealing import MAX_UNSEALS_PER_CALL, UnsealRefused
from peoplenet.plugins.worker.channel import Message
from peoplenet.plugins.worker.remote_host import RemoteAppHost
from peoplenet.runtime.consensus.consumer import IdentitySigner
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.wire.codec import Value, decode, encode

pytestmark = pytest.mark.processes  # the worker is a child process

COMMUNITY = b"f/" + b"\x0e" * 32
ME = Identity.from_seed(b"\x41" * 32)
PEER = Identity.from_seed(b"\x42" * 32)
MEMBERS = (bytes(ME.member_id), bytes(PEER.member_id))
CONTEXT = seal_context(COMMUNITY, "sealtest", b"job-1")


def _context(name: str) -> FoldContext:
    return FoldContext(COMMUNITY, 1_000, frozenset(MEMBERS), {}, {})


def _install(folder: Path) -> Path:
    """The test app as an installed distribution: an entry point naming ``tests.sealed_app``."""
    dist = folder / "peoplenet_sealtest-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: peoplenet-sealtest\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text("[peoplenet.apps]\nsealtest = tests.sealed_app\n")
    return folder


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[tuple[RemoteAppHost, list[bytes]]]:
    """The node's side with the member's real signer; every frame it sends the worker, kept."""
    site = str(_install(tmp_path / "site"))
    sys.path.insert(0, site)  # the worker inherits sys.path as its PYTHONPATH
    importlib.invalidate_caches()
    host = RemoteAppHost(
        COMMUNITY, MEMBERS[0], IdentitySigner(ME), folder=tmp_path, context=_context
    )
    sent: list[bytes] = []
    try:
        proc = host._ensure()
        send = proc._send

        def spy(msg: Message) -> None:
            sent.append(msg.encode())
            send(msg)

        proc._send = spy  # type: ignore[method-assign]
        assert "sealtest" in host.app_names()
        host.set_members(MEMBERS)
        host.app_changed("sealtest", True, {}, None)
        yield host, sent
    finally:
        host.close()
        sys.path.remove(site)
        importlib.invalidate_caches()


def _key_of(sealed: Sealed) -> bytes:
    """The record's own key, opened here with the member's secret (what must never cross)."""
    box = next(k.box for k in sealed.keys if k.recipient == MEMBERS[0])
    key = ME.open_sealed_box(box)
    assert key is not None
    return key


def test_the_app_seals_and_its_command_opens_through_the_node_with_no_secret_crossing(
    remote: tuple[RemoteAppHost, list[bytes]],
) -> None:
    host, sent = remote
    to = ",".join(m.hex() for m in MEMBERS)
    result, _ = host.command("sealtest", "seal", {"text": "phone +44 7700 900123", "to": to}, 2_000)
    assert isinstance(result, dict) and isinstance(result["sealed"], str)
    sealed = decode(bytes.fromhex(result["sealed"]))
    assert isinstance(sealed, Sealed) and set(sealed.recipients) == set(MEMBERS)
    sent.clear()
    opened, _ = host.command("sealtest", "open", {"sealed": result["sealed"]}, 3_000)
    assert opened == {"text": "phone +44 7700 900123"}
    messages = [decode(frame[4:]) for frame in sent]
    answers = [m for m in messages if isinstance(m, tuple) and m[0] == "ok"]
    assert [a[2] for a in answers] == [b"phone +44 7700 900123"]  # the one callback: the details
    secrets = (ME.seed(), bytes(ME._key.to_curve25519_private_key()), _key_of(sealed))
    for frame in sent:
        for secret in secrets:
            assert secret not in frame
    # a record the worker cannot open for me, and one altered: refusals with their reasons
    theirs = encode(seal(b"x", [MEMBERS[1]], CONTEXT)).hex()
    with pytest.raises(AppCommandError) as refused:
        host.command("sealtest", "open", {"sealed": theirs}, 4_000)
    assert refused.value.reason == "not_a_recipient"
    with pytest.raises(AppCommandError) as refused:
        host.command("sealtest", "open", {"sealed": result["sealed"], "purpose": "job-2"}, 5_000)
    assert refused.value.reason == "sealed_tampered"


def test_duties_in_the_worker_open_what_is_queued(
    remote: tuple[RemoteAppHost, list[bytes]],
) -> None:
    host, _ = remote
    mine = encode(seal(b"dropoff: 4 Mill Lane", [MEMBERS[0]], CONTEXT)).hex()
    theirs = encode(seal(b"x", [MEMBERS[1]], CONTEXT)).hex()
    for record in (mine, theirs):
        host.command("sealtest", "later", {"sealed": record}, 2_000)
    host.duties(3_000)
    shown, _ = host.command("sealtest", "show", {}, 4_000)
    assert shown == {"opened": ("dropoff: 4 Mill Lane", "not_a_recipient")}


def test_duties_after_an_ordered_delivery_open_what_the_fold_queued(
    remote: tuple[RemoteAppHost, list[bytes]],
) -> None:
    """An ordered delivery and the duties after it are one call to the worker (``deliver``):
    the duties in it may open details as any duties may (the fold hooks cannot: they hold no
    NodeContext)."""
    host, _ = remote
    mine = encode(seal(b"pickup: 1 High St", [MEMBERS[0]], CONTEXT)).hex()
    host.command("sealtest", "later", {"sealed": mine, "held": True}, 2_000)
    shown, _ = host.command("sealtest", "show", {}, 2_500)
    assert shown == {"opened": ()}  # held: the command's duties had nothing to open
    host.later_clock()
    host.deliver(3_000)
    shown, _ = host.command("sealtest", "show", {}, 4_000)
    assert shown == {"opened": ("pickup: 1 High St",)}


def test_a_hostile_worker_gets_only_this_cooperatives_apps_details_in_commands_and_duties(
    remote: tuple[RemoteAppHost, list[bytes]],
) -> None:
    host, _ = remote

    def ask(context: bytes, sealed: Sealed | None = None) -> object:
        record = sealed if sealed is not None else seal(b"hi", [MEMBERS[0]], context)
        return host._on_unseal({"sealed": encode(record), "context": context})

    with pytest.raises(UnsealRefused, match="during no call"):
        ask(CONTEXT)  # outside any call: no hook could be asking
    host._calling = "apply_tx"
    with pytest.raises(UnsealRefused, match="during apply_tx"):
        ask(CONTEXT)  # never in the fold
    host._calling = "duties"
    assert ask(CONTEXT) == b"hi"
    for context, why in [
        (seal_context(b"f/" + b"\x0f" * 32, "sealtest", b"job-1"), "another cooperative"),
        (seal_context(COMMUNITY, "noapp", b"job-1"), "another app"),
    ]:
        with pytest.raises(UnsealRefused, match=why):
            ask(context)
    host._calling, host._grant_app = "command", "currency"
    with pytest.raises(UnsealRefused, match="another app"):
        ask(CONTEXT)  # the currency's command may not open the sealtest's details
    host._grant_app = "sealtest"
    sealed = seal(b"hi", [MEMBERS[0]], CONTEXT)
    host._unsealed = 0
    for _ in range(MAX_UNSEALS_PER_CALL):
        assert ask(CONTEXT, sealed) == b"hi"
    with pytest.raises(UnsealRefused, match="more than"):
        ask(CONTEXT, sealed)
    malformed: tuple[Value, ...] = (
        None,
        {"sealed": "text", "context": CONTEXT},
        {"sealed": b"", "context": 5},
    )
    for bad in malformed:
        host._unsealed = 0
        with pytest.raises(UnsealRefused, match="malformed"):
            host._on_unseal(bad)
