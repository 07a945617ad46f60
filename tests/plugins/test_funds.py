"""FoldContext.funds through the real host: a work app holds and releases the currency app's
cooperative coins in its own ordered transactions.

The test app (tests/plugins/tiny_jobs.py) and the bundled currency app run side by side in one
:class:`~peoplenet.plugins.harness.AppHarness` (one ``AppHost``, as in a node's worker).  Every
refused transaction leaves both apps' snapshots unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.governance.records import Close, GovTx, Vote
from peoplenet.actors.work.escrow import escrow_account, treasury_account
from peoplenet.apps.currency import plugin as currency
from peoplenet.plugins.api import FUNDS, AppSpec, FoldContext, PluginError, hookimpl
from peoplenet.plugins.funds import FundsHandle, with_funds
from peoplenet.plugins.harness import COMMUNITY, AppHarness, member_id
from peoplenet.plugins.manager import load_apps
from peoplenet.plugins.testing import By, ConformanceCase, OtherApp, check_app
from peoplenet.runtime.wire.codec import Value
from tests.plugins import test_host, tiny_jobs
from tests.plugins.test_host import Coop as GovCoop
from tests.plugins.tiny_jobs import (
    BrokenBank,
    CancelJob,
    CashJob,
    FinishJob,
    HoldJob,
    HoldThenFail,
    LyingBank,
    SettleDebt,
    SlowBank,
    Take,
)

ESCROW = escrow_account(COMMUNITY, tiny_jobs.NAME)
TREASURY = treasury_account(COMMUNITY)
CUSTOMER, WORKER, OTHER = (member_id(i) for i in range(3))


@pytest.fixture
def harness() -> Iterator[AppHarness]:
    with AppHarness(tiny_jobs, members=3, others=(currency,)) as h:
        yield h


def _coins(h: AppHarness, mint: int = 1000) -> None:
    """The cooperative enables its currency (minting ``mint`` coins to the customer), then
    the work app."""
    h.enable_app("currency", {}, action={"mint": mint, "to": CUSTOMER.hex()})
    h.enable()


def _balance(h: AppHarness, account: bytes) -> int:
    state: Any = h.host.instances["currency"].state
    return int(state.cooperative.balance(account))


def _both(h: AppHarness) -> tuple[Any, Any]:
    return h.snapshot(), h.snapshot_of("currency")


def _refused(h: AppHarness, tx: Any, reason: str, member: int = 0) -> None:
    before = _both(h)
    result = h.submit(tx, member)
    assert (result["status"], result["reason"]) == ("rejected", reason), result
    assert _both(h) == before


def test_hold_then_release_moves_the_currency_apps_coins(harness: AppHarness) -> None:
    h = harness
    _coins(h)
    held = h.submit(HoldJob(b"ride-1", WORKER, 250))
    assert held["status"] == "applied", held
    assert (_balance(h, CUSTOMER), _balance(h, ESCROW)) == (750, 250)
    paid = h.submit(FinishJob(b"ride-1"), member=1)
    assert paid["result"] == {"paid": 225, "commission": 25}  # the harness's rate: 1/10
    assert (_balance(h, WORKER), _balance(h, TREASURY), _balance(h, ESCROW)) == (225, 25, 0)
    # the member sees it with the currency's own command, and in its history
    balance, _ = h.host.command("currency", "balance", {}, h.now_ms)
    assert isinstance(balance, dict) and balance["cooperative"] == 750
    history, _ = h.host.command("currency", "history", {}, h.now_ms)
    assert isinstance(history, dict) and isinstance(history["cooperative"], tuple)
    moves = [e for e in history["cooperative"] if isinstance(e, dict) and e["kind"] == "move"]
    assert [e["to"] for e in moves] == [ESCROW.hex()]
    assert h.problems() == []


def test_cancel_with_a_fee(harness: AppHarness) -> None:
    h = harness
    _coins(h)
    h.submit(HoldJob(b"ride-1", WORKER, 250))
    assert h.submit(CancelJob(b"ride-1", 30))["result"] == {"refunded": 220}
    assert (_balance(h, CUSTOMER), _balance(h, WORKER)) == (970, 30)


def test_refusals_leave_both_apps_unchanged(harness: AppHarness) -> None:
    h = harness
    _coins(h, mint=100)
    _refused(h, HoldJob(b"ride-1", WORKER, 101), "insufficient_funds")
    _refused(h, HoldJob(b"ride-1", WORKER, 5, "euro"), "unknown_currency")
    _refused(h, HoldJob(b"ride-1", WORKER, 0), "bad_amount")
    _refused(h, FinishJob(b"nope"), "no_such_job")
    assert h.submit(HoldJob(b"ride-1", WORKER, 60))["status"] == "applied"
    _refused(h, HoldJob(b"ride-1", WORKER, 10), "already_held")
    assert h.submit(FinishJob(b"ride-1"))["status"] == "applied"
    _refused(h, FinishJob(b"ride-1"), "already_settled")
    _refused(h, CancelJob(b"ride-1"), "already_settled")
    _refused(h, SettleDebt(5), "no_debt", member=1)
    assert h.problems() == []


def test_a_transaction_that_refuses_after_moving_moves_nothing(harness: AppHarness) -> None:
    h = harness
    _coins(h)
    _refused(h, HoldThenFail(40), "changed_my_mind")
    assert _balance(h, CUSTOMER) == 1000


def test_check_tx_moves_nothing_even_when_it_moves(harness: AppHarness) -> None:
    """The app's check_tx moves the coins (a dry run): the host's check changes nothing."""
    h = harness
    _coins(h)
    before = _both(h)
    assert h.check(HoldJob(b"ride-1", WORKER, 300)) is None
    assert h.check(HoldJob(b"ride-1", WORKER, 3000)) == "insufficient_funds"
    assert _both(h) == before


def test_a_fold_moves_only_the_senders_coins_or_its_own_escrow(harness: AppHarness) -> None:
    h = harness
    _coins(h)
    _refused(h, Take(CUSTOMER, 10), "not_your_funds", member=1)  # another member's coins
    h.submit(HoldJob(b"ride-1", WORKER, 100))
    h.submit(FinishJob(b"ride-1"))
    _refused(h, Take(TREASURY, 1), "not_your_funds", member=1)  # the treasury's
    other_escrow = escrow_account(COMMUNITY, "otherapp")
    _refused(h, Take(other_escrow, 1), "not_your_funds", member=1)


def test_cash_and_the_debt_settled_in_coins(harness: AppHarness) -> None:
    h = harness
    _coins(h)
    h.submit(HoldJob(b"warm-up", WORKER, 100))
    h.submit(FinishJob(b"warm-up"))  # the worker now holds 90
    assert h.submit(CashJob(b"ride-2", CUSTOMER, 400), member=1)["result"] == {"debt": 40}
    assert h.submit(SettleDebt(25), member=1)["result"] == {"owed": 15}
    assert (_balance(h, WORKER), _balance(h, TREASURY)) == (65, 10 + 25)
    _refused(h, SettleDebt(16), "over_settle", member=1)


def test_no_provider_enabled_refuses_every_move(harness: AppHarness) -> None:
    h = harness
    h.enable()  # the currency is installed but not enabled
    _refused(h, HoldJob(b"ride-1", WORKER, 1), "no_funds_provider")
    h.enable_app("currency", {}, action={"mint": 10, "to": CUSTOMER.hex()})
    assert h.submit(HoldJob(b"ride-1", WORKER, 1))["status"] == "applied"
    h.host.app_changed("currency", False, {}, None)  # disabled by a later decision
    _refused(h, HoldJob(b"ride-2", WORKER, 1), "no_funds_provider")
    _refused(h, FinishJob(b"ride-1"), "no_funds_provider")
    state: Any = h.state
    assert all(state.funds_seen)  # ctx.funds was there in every apply_tx


def test_a_failing_provider_refuses_the_callers_transaction_only() -> None:
    with AppHarness(tiny_jobs, members=3, others=(BrokenBank(),)) as h:
        h.enable_app("brokenbank")
        h.enable()
        before = h.snapshot()
        result = h.submit(HoldJob(b"ride-1", WORKER, 1))
        assert (result["status"], result["reason"]) == ("rejected", "funds_failed")
        assert h.snapshot() == before
        assert h.faulted() == ""  # the caller is not blamed for its provider
        assert "vault is stuck" in str(result["detail"])


def test_a_hung_provider_is_cut_off_before_the_caller_misses_its_deadline() -> None:
    """The provider answers within a quarter of the deadline, so the calling app, which waits
    for it, is refused in time and stays in service; the provider is faulted."""
    with AppHarness(tiny_jobs, members=3, others=(SlowBank(0.8),), deadline_s=0.6) as h:
        h.enable_app("slowbank")
        h.enable()
        result = h.submit(HoldJob(b"ride-1", WORKER, 1))
        assert (result["status"], result["reason"]) == ("rejected", "funds_failed")
        assert "hung" in str(result["detail"])
        assert h.faulted() == ""
        assert h.host.instances["slowbank"].guard.faulted
        again = h.submit(HoldJob(b"ride-2", WORKER, 1))  # the provider is out of service
        assert again["reason"] == "no_funds_provider"


def test_a_provider_refusing_what_it_checked_refuses_the_transaction() -> None:
    with AppHarness(tiny_jobs, members=3, others=(LyingBank(),)) as h:
        h.enable_app("lyingbank")
        h.enable()
        result = h.submit(HoldJob(b"ride-1", WORKER, 1))
        assert (result["status"], result["reason"]) == ("rejected", "vault_closed")
        assert h.faulted() == ""


def test_two_nodes_reach_the_same_states() -> None:
    script: list[tuple[Any, int]] = [
        (HoldJob(b"a", WORKER, 300), 0),
        (HoldJob(b"b", OTHER, 200), 0),
        (FinishJob(b"a"), 1),
        (CancelJob(b"b", 7), 0),
        (HoldJob(b"c", WORKER, 900), 0),  # refused: insufficient
        (CashJob(b"d", CUSTOMER, 123), 1),
        (SettleDebt(12), 1),
    ]
    states = []
    for _ in range(2):
        with AppHarness(tiny_jobs, members=3, others=(currency,)) as h:
            _coins(h)
            results = [h.submit(tx, member)["status"] for tx, member in script]
            states.append((results, _both(h)))
    assert states[0] == states[1]
    assert states[0][0].count("rejected") == 1


def test_a_work_app_conforms_beside_the_currency() -> None:
    """The conformance kit with the currency enabled first: every good transaction moves
    coins, every bad one (and every check_tx) leaves both apps' snapshots unchanged, and two
    nodes agree on both."""
    check_app(
        ConformanceCase(
            tiny_jobs,
            good_txs=[
                HoldJob(b"a", WORKER, 300),
                By(1, FinishJob(b"a")),
                HoldJob(b"b", OTHER, 100),
                CancelJob(b"b", 5),
                By(1, CashJob(b"c", CUSTOMER, 400)),
                By(1, SettleDebt(30)),
            ],
            bad_txs=[
                (HoldJob(b"d", WORKER, 10**6), "insufficient_funds"),
                (FinishJob(b"a"), "already_settled"),
                (HoldThenFail(10), "changed_my_mind"),
                (By(1, Take(CUSTOMER, 1)), "not_your_funds"),
                (By(1, SettleDebt(11)), "over_settle"),
            ],
            members=3,
            others=[OtherApp(currency, action={"mint": 1000, "to": CUSTOMER.hex()})],
        )
    )


def test_a_provider_must_implement_the_funds_hook() -> None:
    class NoHook:
        @hookimpl
        def peoplenet_app(self) -> AppSpec:
            return AppSpec(name="nohook", version="1", summary="x", provides=(FUNDS,))

        @hookimpl
        def peoplenet_new_state(self, community: bytes, settings: object) -> object:
            return {}

        @hookimpl
        def peoplenet_snapshot(self, state: object) -> object:
            return {}

    with pytest.raises(PluginError, match="peoplenet_funds"):
        load_apps(bundled=(), use_entry_points=False, extra=[("nohook", NoHook())], strict=True)
    with pytest.raises(PluginError, match="unknown services"):
        AppSpec(name="x", version="1", summary="x", provides=("bank",))


# -- through the cooperative: governance fold, votes, the ordered AppTx ----------------------------


def _named(module: object, name: str) -> object:
    """The module's hooks as an object of class ``name`` (test_host names plugins by class)."""
    hooks = {k: staticmethod(v) for k, v in vars(module).items() if k.startswith("peoplenet_")}
    return type(name, (), hooks)()


class _VotedCoop(GovCoop):
    """test_host's cooperative (the real consumer and governance fold), with an action on the
    enabling decision (the currency's mint)."""

    def decide_with_action(self, name: str, action: dict[str, Value]) -> None:
        self.deliver([(q, GovTx(self.now, Close(10_000))) for q in self.people])
        args: dict[str, Value] = {
            "kind": "app",
            "subject": name,
            "settings": "{}",
            "action": json.dumps(action),
        }
        _, out = self.consumer.command("coop_propose", args, self.now)
        self.deliver([(self.people[0], out.submit[0])])
        number = len(self.consumer.governance.state.decisions)
        self.deliver([(p, GovTx(self.now, Vote(number, True))) for p in self.people])
        self.now += 2_000
        self.deliver([(p, GovTx(self.now, Close(number))) for p in self.people[:3]])
        d = self.consumer.governance.state.decision(number)
        assert d is not None and d.adopted and d.applied, d


def test_escrow_in_a_voted_cooperative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Enabled by vote (the currency minting to the customer), the commission a rate of the
    charter, every transaction ordered through the governance fold."""
    charter = {
        "voting_period_ms": 1000,
        "rates": [{"name": "commission", "lo": 0, "hi": 1, "step": "1/20", "initial": "1/10"}],
    }
    monkeypatch.setattr(test_host, "CHARTER", charter)
    coop = _VotedCoop(tmp_path, [_named(currency, "Currency"), _named(tiny_jobs, "TinyJobs")])
    try:
        customer, worker = coop.people[0], coop.people[1]
        me, them = bytes(customer.member_id), bytes(worker.member_id)
        coop.decide_with_action("currency", {"mint": 500, "to": me.hex()})
        coop.decide_app("tinyjobs", {})
        state: Any = coop.host.instances["currency"].state
        escrow = escrow_account(coop.host.community, tiny_jobs.NAME)
        held = coop.submit_app_tx(customer, "tinyjobs", HoldJob(b"ride-9", them, 200))
        assert held["app"]["status"] == "applied", held
        assert (state.cooperative.balance(me), state.cooperative.balance(escrow)) == (300, 200)
        paid = coop.submit_app_tx(worker, "tinyjobs", FinishJob(b"ride-9"))["app"]
        assert paid["result"] == {"paid": 180, "commission": 20}
        treasury = treasury_account(coop.host.community)
        assert (state.cooperative.balance(them), state.cooperative.balance(treasury)) == (180, 20)
        again = coop.submit_app_tx(worker, "tinyjobs", FinishJob(b"ride-9"))["app"]
        assert again["reason"] == "already_settled"
    finally:
        coop.host.close()


def test_with_funds_copies_every_field_of_the_context() -> None:
    """The host's cheap copy of a FoldContext keeps every field (any added later too)."""
    ctx = FoldContext(
        COMMUNITY, 7, frozenset({WORKER}), {"a": 1}, {"commission": "1/10"}, OTHER, (2, 9)
    )
    handle = FundsHandle(None, app="x", community=COMMUNITY, sender=OTHER, members=ctx.members)
    copy = with_funds(ctx, handle)
    assert copy.funds is handle and ctx.funds is None
    for f in dataclasses.fields(FoldContext):
        if f.name != "funds":
            assert getattr(copy, f.name) is getattr(ctx, f.name), f.name
