"""The node's trusted side of the app worker: it signs only what the member's rules allow.

A worker runs app code, so whatever it asks is untrusted: these tests ask the trusted side
directly, as a hostile worker would, and check each refusal; then that a dead worker is
reported, and that the node's process never imports an app.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from peoplenet.apps.currency.records import Approve, Issue, Mint
from peoplenet.plugins.api import ConsentRefused, FoldContext
from peoplenet.plugins.worker.remote_host import AppWorkerFailed, RemoteAppHost
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.app_lace import app_lace_id
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.wire.codec import OpaqueRecord, Value

COMMUNITY = b"f/" + b"\x09" * 32
ME = Identity.from_seed(b"\x21" * 32)
LACE = bytes(app_lace_id(COMMUNITY, "currency"))


class _Signer:
    def __init__(self) -> None:
        self.signed: list[Block] = []

    def block(self, lace: bytes, payload: Value, pointers: tuple[bytes, ...]) -> Block:
        block = Block.create(ME, lace, payload, pointers)
        self.signed.append(block)
        return block


def _context(name: str) -> FoldContext:
    return FoldContext(COMMUNITY, 1_000, frozenset({bytes(ME.member_id)}), {}, {})


@pytest.fixture
def host(tmp_path: Path) -> Iterator[tuple[RemoteAppHost, _Signer]]:
    signer = _Signer()
    remote = RemoteAppHost(
        COMMUNITY, bytes(ME.member_id), signer, folder=tmp_path, context=_context,
        use_entry_points=False,
    )  # fmt: skip
    try:
        yield remote, signer
    finally:
        remote.close()


def _ask(remote: RemoteAppHost, payload: Value, lace: bytes = LACE) -> Value:
    return remote._on_sign({"lace": lace, "payload": payload, "pointers": ()})


def test_a_hostile_worker_gets_only_automatic_signatures(
    host: tuple[RemoteAppHost, _Signer],
) -> None:
    remote, signer = host
    assert "currency" in remote.app_names()
    approve = Approve(b"\x01" * 32)
    raw = _ask(remote, approve)
    assert isinstance(raw, bytes) and Block.from_bytes(raw).payload == approve
    # the same record, opaque (a node without the currency's classes): the same rule
    assert isinstance(_ask(remote, OpaqueRecord(Approve.wire_tag, (b"\x01" * 32,))), bytes)
    pay = Issue(b"\x02" * 32, bytes(ME.member_id), 5, 0, "")
    refusals: list[tuple[Value, bytes, str]] = [
        (pay, LACE, "no consent"),  # a payment, with no command of the person running
        (Mint(5, 5), LACE, "no consent"),
        (approve, b"a/" + b"\x00" * 32, "not the lace"),  # another lace
        (OpaqueRecord(9_999_999, ()), LACE, "declared no purpose"),  # an undeclared record
        ("text", LACE, "declared no purpose"),
    ]
    for payload, lace, why in refusals:
        with pytest.raises(ConsentRefused, match=why):
            _ask(remote, payload, lace)
    assert len(signer.signed) == 2


def test_a_command_grants_its_purposes_once_each(host: tuple[RemoteAppHost, _Signer]) -> None:
    remote, signer = host
    remote.declared  # noqa: B018 - starts the worker
    remote._grant_app, remote._grants = "currency", ["pay", "mint"]
    pay = Issue(b"\x02" * 32, bytes(ME.member_id), 5, 0, "")
    assert isinstance(_ask(remote, pay), bytes)
    with pytest.raises(ConsentRefused):
        _ask(remote, pay)  # one signature per grant
    assert isinstance(_ask(remote, Mint(5, 5)), bytes)
    assert len(signer.signed) == 2


def test_the_currency_works_through_the_worker_and_a_dead_worker_is_reported(
    host: tuple[RemoteAppHost, _Signer],
) -> None:
    remote, signer = host
    remote.set_members([bytes(ME.member_id)])
    remote.app_changed("currency", True, {"ubi_per_period": 0}, None)
    assert remote.settings("currency")["ubi_per_period"] == 0
    result, _ = remote.command("currency", "mint", {"amount": 7}, 2_000)
    assert isinstance(result, dict) and result["block"] == signer.signed[-1].id.hex()
    assert remote.status("currency")["lace_blocks"] == 1
    pid = remote.worker_pid
    assert pid is not None
    remote._ensure().kill()
    with pytest.raises(AppWorkerFailed):
        remote.command("currency", "balance", {}, 3_000)


def test_the_node_process_never_imports_an_app(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from peoplenet.plugins.api import FoldContext
        from peoplenet.plugins.worker.remote_host import RemoteAppHost
        from peoplenet.runtime.lace.block import Block
        from peoplenet.runtime.keys.identity import Identity
        me = Identity.from_seed(b"\\x21" * 32)
        class Signer:
            def block(self, lace, payload, pointers):
                return Block.create(me, lace, payload, pointers)
        members = frozenset({{bytes(me.member_id)}})
        ctx = lambda name: FoldContext({COMMUNITY!r}, 1, members, {{}}, {{}})
        host = RemoteAppHost({COMMUNITY!r}, bytes(me.member_id), Signer(), folder=None,
                             context=ctx, use_entry_points=False)
        try:
            host.set_members([bytes(me.member_id)])
            host.app_changed("currency", True, {{}}, None)
            host.command("currency", "mint", {{"amount": 3}}, 2_000)
            apps = sorted(m for m in sys.modules if m == "apps" or m.startswith("apps."))
            print("APPS", apps)
        finally:
            host.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "APPS []" in done.stdout
