"""The conformance kit (plugins/testing.py): it passes the example app and fails broken ones.

The example app is imported from the source tree (examples/noticeboard) by path; each broken
plugin is the example with one thing wrong, so every failure the kit reports is that one.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import peoplenet.plugins.harness
from peoplenet.plugins import hookimpl
from peoplenet.plugins.api import (
    AppChangeView,
    AppCommandError,
    AppSpec,
    AppTxRejected,
    DecisionView,
    FoldContext,
    NodeContext,
)
from peoplenet.plugins.testing import AppHarness, By, ConformanceCase, ConformanceError, check_app
from peoplenet.runtime.wire.codec import Value

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "noticeboard"


def example_module(name: str) -> ModuleType:
    """``peoplenet_noticeboard.<name>`` from the source tree.

    (If test_plugin_example already imported the installed copy, that one: the same files.
    Two copies cannot live in one process: their records would claim the same wire tags.)
    """
    full = f"peoplenet_noticeboard.{name}"
    if full not in sys.modules:
        sys.path.insert(0, str(EXAMPLE))
        try:
            importlib.import_module(full)
        finally:
            sys.path.remove(str(EXAMPLE))
    return sys.modules[full]


def noticeboard_case(plugin: object, **changes: Any) -> ConformanceCase:
    """The example app's conformance case (the one its README shows)."""
    r = example_module("records")
    case = ConformanceCase(
        plugin,
        good_txs=[
            r.PostNotice("Bread on Friday"),
            By(1, r.PostNotice("Who has a ladder?")),
            r.PinNotice(1, True),
            r.PostNotice("Typo"),
            r.WithdrawNotice(3),
        ],
        bad_txs=[
            (r.PostNotice("x" * 281), "too_long"),
            (r.PostNotice("   "), "empty"),
            (r.PinNotice(2, True), "not_author"),
            (By(1, r.WithdrawNotice(1)), "not_author"),
            (r.PinNotice(99, True), "unknown_notice"),
        ],
        commands={"post": {"text": "Posted by command"}, "pin": {"number": 1, "pinned": False}},
    )
    return ConformanceCase(**{**case.__dict__, **changes})


@pytest.fixture(scope="module")
def board() -> ModuleType:
    return example_module("plugin")


def failures_of(case: ConformanceCase) -> tuple[str, ...]:
    with pytest.raises(ConformanceError) as caught:
        check_app(case)
    return caught.value.failures


# -- the example passes, and behaves -------------------------------------------------------------


def test_the_example_app_passes_the_kit(board: ModuleType) -> None:
    started = time.perf_counter()
    check_app(noticeboard_case(board))
    assert time.perf_counter() - started < 2.0


def test_the_example_board_through_the_host(board: ModuleType) -> None:
    r = example_module("records")
    with AppHarness(board, members=2) as h:
        h.enable({"max_notices": 2})
        assert h.submit(r.PostNotice("one"))["status"] == "applied"
        assert h.submit(r.PinNotice(1, True))["result"] == {"pinned": 1}
        h.submit(r.PostNotice("two"), member=1)
        h.submit(r.PostNotice("three"))  # over max_notices: the oldest unpinned (2) goes
        texts = [n["text"] for n in _listing(h)]
        assert texts == ["one", "three"]  # pinned first, then newest first
        assert h.submit(r.PinNotice(2, True))["reason"] == "unknown_notice"

        h.decide(DecisionView(7, "rate", "commission", adopted=True, outcome="1/10"))
        texts = [n["text"] for n in _listing(h)]
        assert texts == ["one", "Decision 7 (rate commission): adopted"]

        h.enable({"max_notices": 2, "announce_decisions": False})
        h.decide(DecisionView(8, "budget", "party", adopted=False, outcome=None))
        assert len(_listing(h)) == 2

        h.enable({"max_notices": 1})  # a smaller board takes effect at once
        assert [n["number"] for n in _listing(h)] == [1]

        result, txs = h.command("post", {"text": "from the command"})
        assert result == {"submitted": "post"} and txs == [r.PostNotice("from the command")]
        with pytest.raises(AppCommandError) as refused:
            h.command("post", {"text": "x" * 300})
        assert refused.value.reason == "too_long"

        h.disable()
        with pytest.raises(AppCommandError) as disabled:
            h.command("post", {"text": "hello"})
        assert disabled.value.reason == "app_disabled"
        assert [n["number"] for n in _listing(h)] == [1]  # read-only commands still run
        assert h.problems() == []


def _listing(h: AppHarness) -> list[dict[str, Value]]:
    result, _ = h.command("list")
    assert isinstance(result, dict)
    notices = result["notices"]
    assert isinstance(notices, tuple)
    return [n for n in notices if isinstance(n, dict)]


# -- broken variants: the example with one thing wrong -------------------------------------------


class Variant:
    """The example app hook for hook (subclasses break one thing)."""

    def __init__(self, board: ModuleType) -> None:
        self.board = board

    @hookimpl
    def peoplenet_app(self) -> AppSpec:
        spec: AppSpec = self.board.peoplenet_app()
        return spec

    @hookimpl
    def peoplenet_new_state(self, community: bytes, settings: Mapping[str, Value]) -> object:
        return self.board.peoplenet_new_state(community=community, settings=settings)

    @hookimpl
    def peoplenet_snapshot(self, state: Any) -> Value:
        return self.board.peoplenet_snapshot(state=state)  # type: ignore[no-any-return]

    @hookimpl
    def peoplenet_check_tx(self, state: Any, tx: Value, ctx: FoldContext) -> None:
        self.board.peoplenet_check_tx(state=state, tx=tx, ctx=ctx)

    @hookimpl
    def peoplenet_apply_tx(self, state: Any, tx: Value, ctx: FoldContext) -> Value:
        return self.board.peoplenet_apply_tx(state=state, tx=tx, ctx=ctx)  # type: ignore[no-any-return]

    @hookimpl
    def peoplenet_decision(self, state: Any, decision: DecisionView, ctx: FoldContext) -> None:
        self.board.peoplenet_decision(state=state, decision=decision, ctx=ctx)

    @hookimpl
    def peoplenet_app_changed(self, state: Any, change: AppChangeView, ctx: FoldContext) -> None:
        self.board.peoplenet_app_changed(state=state, change=change, ctx=ctx)

    @hookimpl
    def peoplenet_command(
        self, state: Any, command: str, args: Mapping[str, Value], node: NodeContext
    ) -> Value:
        return self.board.peoplenet_command(  # type: ignore[no-any-return]
            state=state, command=command, args=args, node=node
        )


class Typo(Variant):
    @hookimpl
    def peoplenet_aply_tx(self, state: Any, tx: Value, ctx: FoldContext) -> Value:
        return None


class Unreproducible(Variant):
    """Stamps notices with the node's own clock instead of ``ctx.now_ms`` (each node differs)."""

    clock = itertools.count(1)

    @hookimpl
    def peoplenet_apply_tx(self, state: Any, tx: Value, ctx: FoldContext) -> Value:
        result = super().peoplenet_apply_tx(state, tx, ctx)
        if state.notices:
            state.notices[-1] = replace(state.notices[-1], at_ms=next(self.clock))
        return result


class MutatingCheck(Variant):
    """Counts checks in the state: check_tx must change nothing."""

    @hookimpl
    def peoplenet_check_tx(self, state: Any, tx: Value, ctx: FoldContext) -> None:
        state.next_number += 1
        super().peoplenet_check_tx(state, tx, ctx)


class WrongReason(Variant):
    @hookimpl
    def peoplenet_check_tx(self, state: Any, tx: Value, ctx: FoldContext) -> None:
        try:
            super().peoplenet_check_tx(state, tx, ctx)
        except AppTxRejected as exc:
            raise AppTxRejected("forbidden" if exc.reason == "not_author" else exc.reason) from exc


class Forgetful(Variant):
    """Starts a clean board whenever it is enabled again."""

    @hookimpl
    def peoplenet_app_changed(self, state: Any, change: AppChangeView, ctx: FoldContext) -> None:
        if change.enabled and not change.was_enabled:
            state.notices.clear()


class CrashingCommand(Variant):
    @hookimpl
    def peoplenet_command(
        self, state: Any, command: str, args: Mapping[str, Value], node: NodeContext
    ) -> Value:
        if command == "pin":
            return {"pinned": args["number"]}  # KeyError without --number
        return super().peoplenet_command(state, command, args, node)


class SetSnapshot(Variant):
    @hookimpl
    def peoplenet_snapshot(self, state: Any) -> Value:
        return {n.number for n in state.notices}  # type: ignore[return-value]


class SlowDecision(Variant):
    @hookimpl
    def peoplenet_decision(self, state: Any, decision: DecisionView, ctx: FoldContext) -> None:
        time.sleep(0.05)


class RaisingDecision(Variant):
    @hookimpl
    def peoplenet_decision(self, state: Any, decision: DecisionView, ctx: FoldContext) -> None:
        raise AppTxRejected("not_now")


def test_a_misnamed_hook_does_not_load(board: ModuleType) -> None:
    failures = failures_of(noticeboard_case(Typo(board)))
    assert len(failures) == 1
    assert failures[0].startswith("does not load:") and "peoplenet_aply_tx" in failures[0]


def test_a_non_deterministic_state_is_found(board: ModuleType) -> None:
    failures = failures_of(noticeboard_case(Unreproducible(board)))
    assert len(failures) == 1
    assert failures[0].startswith("not deterministic: two nodes fed the same differ after")
    assert "after good tx #0 PostNotice:" in failures[0]


def test_a_check_tx_that_mutates_is_found(board: ModuleType) -> None:
    failures = failures_of(noticeboard_case(MutatingCheck(board)))
    assert "good tx #0 PostNotice: peoplenet_check_tx changed the state" in failures
    assert "bad tx #0 PostNotice: peoplenet_check_tx changed the state" in failures
    assert not any(f.startswith("not deterministic") for f in failures)


def test_a_wrong_rejection_reason_is_found(board: ModuleType) -> None:
    failures = failures_of(noticeboard_case(WrongReason(board)))
    assert failures == (
        "bad tx #2 PinNotice: expected rejection 'not_author', got 'forbidden'",
        "bad tx #3 WithdrawNotice: expected rejection 'not_author', got 'forbidden'",
    )


def test_state_lost_on_re_enable_is_found(board: ModuleType) -> None:
    failures = failures_of(noticeboard_case(Forgetful(board)))
    assert failures == ("disable then re-enable lost or changed the state",)


def test_a_command_that_crashes_is_found(board: ModuleType) -> None:
    failures = failures_of(noticeboard_case(CrashingCommand(board), commands={}))
    assert len(failures) == 1
    assert failures[0].startswith("peoplenet_command('pin') raised KeyError('number')")


def test_a_snapshot_that_is_no_codec_value_is_found(board: ModuleType) -> None:
    failures = failures_of(noticeboard_case(SetSnapshot(board)))
    assert failures[0].startswith("the snapshot after enable is not a codec value")


def test_a_decision_hook_must_not_refuse(board: ModuleType) -> None:
    failures = failures_of(noticeboard_case(RaisingDecision(board)))
    assert len(failures) == 1
    assert failures[0].startswith("peoplenet_decision raised AppTxRejected('not_now')")


@pytest.fixture
def tight_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peoplenet.plugins.harness, "HOOK_BUDGET_S", 0.02)


@pytest.mark.usefixtures("tight_budget")
def test_a_slow_hook_is_found(board: ModuleType) -> None:
    failures = failures_of(noticeboard_case(SlowDecision(board)))
    assert any(f.startswith("peoplenet_decision took 0.") for f in failures)
    assert all(" took " in f and "(the kit allows 0.02 s" in f for f in failures)


def test_the_case_must_cover_every_tx_type(board: ModuleType) -> None:
    r = example_module("records")
    case = noticeboard_case(board, good_txs=[r.PostNotice("only posts")], bad_txs=[], commands={})
    failures = failures_of(case)
    assert "tx type PinNotice has no example in the case's good_txs" in failures
    assert "tx type WithdrawNotice has no example in the case's good_txs" in failures
