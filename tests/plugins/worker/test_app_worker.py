"""A cooperative's apps in the keyless worker process, driven over the channel.

The test plays the node's trusted side: it answers ``context`` with the fold's view and
``sign_many`` (every block a hook published) with the member's key, and checks that the
worker asks for each signature instead of holding a key.  The bundled currency runs in a real
worker process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peoplenet.apps.currency.community import CommunityPay
from peoplenet.plugins.api import ConsentRefused, FoldContext
from peoplenet.plugins.worker.app_worker import context_from_wire, context_wire
from peoplenet.plugins.worker.channel import CallFailed
from peoplenet.plugins.worker.process import Callback, WorkerProcess
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.wire.codec import Value, encode

COMMUNITY = b"f/" + b"\x07" * 32
ME = Identity.from_seed(b"\x11" * 32)
OTHER = Identity.from_seed(b"\x12" * 32)
MEMBERS = frozenset({bytes(ME.member_id), bytes(OTHER.member_id)})


def _context(now_ms: int = 1_000, sender: bytes = b"") -> FoldContext:
    return FoldContext(COMMUNITY, now_ms, MEMBERS, {}, {"commission": "1/10"}, sender, (0, 1))


class _Trusted:
    """The node's side: the fold's view, and signatures it counts."""

    def __init__(self) -> None:
        self.signed: list[Block] = []

    def context(self, name: Value) -> Value:
        assert name == "currency"
        return context_wire(_context())

    def sign(self, args: Value) -> Value:
        assert isinstance(args, dict)
        lace, payload, pointers = args["lace"], args["payload"], args["pointers"]
        assert isinstance(lace, bytes) and lace.startswith(b"a/")
        assert isinstance(pointers, tuple)
        block = Block.create(ME, lace, payload, tuple(bytes(p) for p in pointers))  # type: ignore[arg-type]
        self.signed.append(block)
        return block.to_bytes()

    def sign_many(self, args: Value) -> Value:
        assert isinstance(args, tuple)
        return {"blocks": tuple(self.sign(a) for a in args), "refused": None}

    def callbacks(self) -> dict[str, Callback]:
        return {"context": self.context, "sign": self.sign, "sign_many": self.sign_many}


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[WorkerProcess, _Trusted]]:
    proc = WorkerProcess("peoplenet.plugins.worker.app_worker:HANDLERS")
    trusted = _Trusted()
    try:
        yield proc, trusted
    finally:
        proc.close()
        assert not proc.alive()


def _call(w: tuple[WorkerProcess, _Trusted], method: str, **args: Value) -> Any:
    """One call; its result as plain data (the test reads into it freely)."""
    proc, trusted = w
    return proc.call(method, args, deadline_s=20, callbacks=trusted.callbacks())


def test_the_currency_runs_in_the_worker_and_asks_for_every_signature(
    worker: tuple[WorkerProcess, _Trusted], tmp_path: Path
) -> None:
    declared = _call(
        worker,
        "start",
        community=COMMUNITY,
        me=bytes(ME.member_id),
        folder=str(tmp_path),
        entry_points=False,
    )
    assert isinstance(declared, dict)
    currency = declared["apps"]["currency"]
    assert currency["commands"]["pay"] == ("pay", "mint")
    assert "approve" in currency["auto"] and "pay" in currency["consent"]

    _call(worker, "set_members", members=tuple(sorted(MEMBERS)))
    _call(
        worker,
        "app_changed",
        name="currency",
        enabled=True,
        settings={"ubi_per_period": 0},
        action={"mint": 10, "to": bytes(ME.member_id).hex()},
    )
    minted = _call(
        worker, "command", name="currency", command="mint", args={"amount": 5}, now_ms=2_000
    )
    assert isinstance(minted, dict)
    proc, trusted = worker
    assert len(trusted.signed) == 1 and minted["result"]["block"] == trusted.signed[0].id.hex()
    status = _call(worker, "status", name="currency")
    assert isinstance(status, dict) and status["enabled"] is True and status["lace_blocks"] == 1

    pay = CommunityPay(bytes(OTHER.member_id), 3, "lunch")
    ctx = context_wire(_context(3_000, sender=bytes(ME.member_id)))
    applied = _call(worker, "apply_tx", name="currency", body=encode(pay), ctx=ctx)
    assert isinstance(applied, dict) and applied["status"] == "applied", applied
    balance = _call(worker, "command", name="currency", command="balance", args={}, now_ms=3_000)
    assert balance["result"]["cooperative"] == 7

    with pytest.raises(CallFailed) as refused:
        _call(worker, "command", name="currency", command="fly", args={}, now_ms=3_000)
    assert refused.value.kind == "AppCommandError" and "unknown_command" in refused.value.detail
    assert proc.alive()


def test_calls_before_start_are_refused_typed(worker: tuple[WorkerProcess, _Trusted]) -> None:
    with pytest.raises(CallFailed) as early:
        _call(worker, "status", name="currency")
    assert early.value.kind == "WorkerStateError"


def test_the_context_shape_round_trips() -> None:
    ctx = _context(5, sender=b"\x01" * 32)
    assert context_from_wire(context_wire(ctx)) == ctx


@pytest.mark.parametrize("how", ["raises", "answers"])
def test_a_command_failing_in_the_worker_reads_as_words(
    worker: tuple[WorkerProcess, _Trusted], tmp_path: Path, how: str
) -> None:
    """The node refuses a signature (its callback raises, or it answers a refusal): the member
    reads ``consent_refused`` and why, not a repr of the channel's error."""
    me = bytes(ME.member_id)
    _call(worker, "start", community=COMMUNITY, me=me, folder=str(tmp_path), entry_points=False)
    _call(worker, "set_members", members=tuple(sorted(MEMBERS)))
    _call(worker, "app_changed", name="currency", enabled=True, settings={}, action=None)
    proc, trusted = worker
    why = "the person did not consent to 'mint' now"

    def refuse(args: Value) -> Value:
        if how == "raises":
            raise ConsentRefused(why)
        return {"blocks": (), "refused": why}

    with pytest.raises(CallFailed) as refused:
        proc.call(
            "command",
            {"name": "currency", "command": "mint", "args": {"amount": "5"}, "now_ms": 2_000},
            deadline_s=20,
            callbacks={**trusted.callbacks(), "sign_many": refuse},
        )
    assert refused.value.kind == "AppCommandError"
    assert refused.value.detail == f"consent_refused: {why}"
    assert proc.alive()
    status = _call(worker, "status", name="currency")
    assert status["lace_blocks"] == 0  # nothing unsigned was stored


def test_a_clean_stop_closes_the_app_lace_into_its_main_file(
    worker: tuple[WorkerProcess, _Trusted], tmp_path: Path
) -> None:
    _call(
        worker,
        "start",
        community=COMMUNITY,
        me=bytes(ME.member_id),
        folder=str(tmp_path),
        entry_points=False,
    )
    _call(worker, "set_members", members=tuple(sorted(MEMBERS)))
    _call(worker, "app_changed", name="currency", enabled=True, settings={"ubi_per_period": 0})
    for n in range(5):
        _call(worker, "command", name="currency", command="mint", args={"amount": 1}, now_ms=n)
    proc, trusted = worker
    (lace_file,) = tmp_path.glob("*.app.sqlite")
    wal = lace_file.with_name(lace_file.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the blocks are in the log while it runs

    proc.close()

    assert not wal.exists() or wal.stat().st_size == 0
    # Read the main file alone (``immutable``: SQLite ignores any log): every block is there.
    main = sqlite3.connect(f"file:{lace_file}?immutable=1", uri=True)
    try:
        (count,) = main.execute("SELECT count(*) FROM blocks").fetchone()
    finally:
        main.close()
    assert count == len(trusted.signed) == 5


def test_a_sent_view_is_completed_once_until_it_or_the_settings_change() -> None:
    """The worker completes the node's view with the app's settings once per view, not once
    per call: calls that bring no newer view share it, and a settings change is seen."""
    from peoplenet.plugins.host import AppHost  # noqa: PLC0415 - the worker's host, in-process
    from peoplenet.plugins.manager import load_apps  # noqa: PLC0415
    from peoplenet.plugins.worker.app_worker import _Worker  # noqa: PLC0415
    from peoplenet.runtime.consensus.consumer import IdentitySigner  # noqa: PLC0415
    from tests.plugin_fixtures import CounterApp  # noqa: PLC0415

    registry = load_apps(bundled=(), use_entry_points=False, extra=[("c", CounterApp())])
    w = _Worker()
    host = AppHost(
        registry, COMMUNITY, bytes(ME.member_id), IdentitySigner(ME), folder=None, context=w.context
    )
    w.host = host
    try:
        w.take_contexts({"counter": context_wire(_context())})
        host.app_changed("counter", True, {}, None)
        w.contexts.clear()  # (each call starts afresh)
        first = w.context("counter")
        w.contexts.clear()
        assert w.context("counter") is first  # the next call, nothing newer: the same view
        assert first.settings == host.settings("counter") and first.now_ms == 1_000
        w.take_contexts({"counter": context_wire(_context(now_ms=2_000))})
        w.contexts.clear()
        later = w.context("counter")
        assert later is not first and later.now_ms == 2_000
        settings = host.instances["counter"].settings
        host.app_changed("counter", True, dict(settings), None)  # settings decided again
        w.contexts.clear()
        again = w.context("counter")
        assert again is not later and again.settings == host.settings("counter")
    finally:
        host.close()
