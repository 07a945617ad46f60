"""The grassroots currency as a Peoplenet app: a pluggy plugin like any third party's.

Two ledgers, one app:

* **members' own coins** (Grassroots Flash, :mod:`peoplenet.apps.currency.ledger`) live in the app's
  replicated lace: issue, approve, accept, mint, disapprove, redeem, repay, mutual credit --
  no consensus; the member's node approves, accepts and repays on its own (automatic
  purposes), and signs payments, mints, credit lines and redemptions only when the person runs
  the command (consented purposes);
* **the cooperative's coins** (:mod:`peoplenet.apps.currency.community`) live in the ordered fold:
  minted by decision (an ``app`` decision whose action is ``{"mint": N, "to": MEMBER}``) or by
  the egalitarian ``ubi_per_period`` setting, paid with ``CommunityPay`` transactions, and
  moved by the cooperative's other apps (a work app's escrow) as their funds provider
  (``provides=("funds",)``, :mod:`peoplenet.apps.currency.funds`).

Commands: ``pay``, ``balance``, ``redeem``, ``credit`` (also top-level: ``peoplenet pay COOP
--to ...``), ``mint``, ``history``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from peoplenet.apps.currency.community import (
    COMMUNITY,
    CommunityLedger,
    CommunityPay,
    CommunityRefused,
)
from peoplenet.apps.currency.demo import (  # the app's part of make demo
    peoplenet_demo,
    peoplenet_demo_enable,
)
from peoplenet.apps.currency.errors import CurrencyError
from peoplenet.apps.currency.funds import serve_funds
from peoplenet.apps.currency.ledger import CoinLedger
from peoplenet.apps.currency.records import (
    Accept,
    Approve,
    CreditAccept,
    CreditOffer,
    Disapprove,
    Issue,
    Mint,
    Redeem,
    Repay,
)
from peoplenet.apps.currency.wallet import Wallet
from peoplenet.plugins.api import (
    FUNDS,
    AppChangeView,
    AppCommandError,
    AppSpec,
    AppTxRejected,
    Arg,
    Block,
    BlockId,
    CommandSpec,
    Draft,
    Equivocation,
    FoldContext,
    LaceBlockView,
    MemberId,
    NodeContext,
    ParamSpec,
    Value,
    app_lace_id,
    hookimpl,
)

NAME: Final = "currency"
VERSION: Final = "1.0"
DAY_MS: Final = 86_400_000

SPEC: Final = AppSpec(
    name=NAME,
    version=VERSION,
    summary="grassroots coins: members' own IOUs (Flash) and the cooperative's coins",
    params=(
        ParamSpec(
            "ubi_per_period",
            "int",
            0,
            "cooperative coins minted for every member each period (0: none)",
            minimum=0,
            maximum=10**9,
        ),
        ParamSpec("period_ms", "int", DAY_MS, "length of a period", minimum=1000, maximum=10**12),
        ParamSpec(
            "claim_deadline_ms",
            "int",
            DAY_MS,
            "how long a sovereign has to repay a redemption",
            minimum=1000,
            maximum=10**12,
        ),
    ),
    tx_types=(CommunityPay,),
    commands=(
        CommandSpec(
            "pay",
            "pay a member in your coins, another member's coins you hold, or the cooperative's",
            (
                Arg("to", "member", "the member paid"),
                Arg("amount", "amount", "how many coins"),
                Arg("currency", "text", "mine (default), community, or the sovereign's id"),
                Arg("memo", "text", "a note for the payee"),
            ),
            consents=("pay", "mint"),
            top_level=True,
        ),
        CommandSpec("balance", "what you hold, per currency", read_only=True, top_level=True),
        CommandSpec(
            "redeem",
            "return a member's coins to them, to be repaid in the currencies you prefer",
            (
                Arg("sovereign", "member", "the member whose coins you return"),
                Arg("amount", "amount", "how many of them"),
                Arg("prefer", "members", "the currencies you want back, in order"),
            ),
            consents=("redeem",),
            top_level=True,
        ),
        CommandSpec(
            "credit",
            "open a mutual credit line with a member (or accept their offer with --offer)",
            (
                Arg("with", "member", "the other member"),
                Arg("amount", "amount", "coins swapped"),
                Arg("limit", "amount", "the most of their coins you hold (default: amount)"),
                Arg("offer", "block", "accept this offer (its block id) instead"),
            ),
            consents=("credit",),
            top_level=True,
        ),
        CommandSpec(
            "mint", "create your own coins", (Arg("amount", "amount"),), consents=("mint",)
        ),
        CommandSpec("history", "your payments, claims and credit lines", read_only=True),
        CommandSpec("inbox", "what waits for your consent: credit offers", read_only=True),
    ),
    uses_lace=True,
    lace_records=(
        (Issue, "pay"),
        (Mint, "mint"),
        (Redeem, "redeem"),
        (CreditOffer, "credit"),
        (CreditAccept, "credit"),
        (Approve, "approve"),
        (Accept, "accept"),
        (Repay, "repay"),
        (Disapprove, "disapprove"),
    ),
    auto_purposes=("approve", "accept", "repay", "disapprove"),
    consent_purposes=("pay", "mint", "redeem", "credit"),
    provides=(FUNDS,),
)


@dataclass(slots=True)
class CurrencyState:
    """One cooperative's currency on one node."""

    community: bytes
    coins: CoinLedger
    cooperative: CommunityLedger = field(default_factory=CommunityLedger)
    settings: dict[str, Value] = field(default_factory=dict)
    refused_blocks: int = 0

    def wallet(self, me: bytes) -> Wallet:
        return Wallet(me, self.coins)


def _setting(state: CurrencyState, key: str) -> int:
    value = state.settings.get(key, next(p.default for p in SPEC.params if p.name == key))
    assert isinstance(value, int)
    return value


def _egalitarian(state: CurrencyState, ctx: FoldContext) -> None:
    state.cooperative.egalitarian(
        ctx.now_ms, ctx.members, _setting(state, "ubi_per_period"), _setting(state, "period_ms")
    )


@hookimpl
def peoplenet_app() -> AppSpec:
    return SPEC


@hookimpl
def peoplenet_new_state(community: bytes, settings: Mapping[str, Value]) -> object:
    lace = app_lace_id(community, NAME)
    return CurrencyState(community, CoinLedger(lace), settings=dict(settings))


@hookimpl
def peoplenet_check_tx(state: CurrencyState, tx: Value, ctx: FoldContext) -> None:
    assert isinstance(tx, CommunityPay)
    _egalitarian(state, ctx)  # coins due this period are credited before anything moves
    try:
        state.cooperative.check_pay(ctx.sender, tx, ctx.members)
    except CommunityRefused as exc:
        raise AppTxRejected(exc.reason, exc.detail) from None


@hookimpl
def peoplenet_apply_tx(state: CurrencyState, tx: Value, ctx: FoldContext) -> Value:
    assert isinstance(tx, CommunityPay)
    return {"balance": state.cooperative.pay(ctx.now_ms, ctx.sender, tx)}


@hookimpl
def peoplenet_clock(state: CurrencyState, ctx: FoldContext) -> None:
    _egalitarian(state, ctx)


@hookimpl
def peoplenet_app_changed(state: CurrencyState, change: AppChangeView, ctx: FoldContext) -> None:
    _egalitarian(state, ctx)  # the old rule up to now, the new one from here
    period_ms = _setting(state, "period_ms")
    state.settings = dict(change.settings)
    if _setting(state, "period_ms") != period_ms:
        state.cooperative.rebase(ctx.now_ms, _setting(state, "period_ms"))
    action = change.action
    if not change.enabled or not isinstance(action, dict) or "mint" not in action:
        return
    amount, to = action.get("mint"), action.get("to")
    member = bytes.fromhex(to) if isinstance(to, str) and len(to) == 64 else to
    if isinstance(amount, int) and isinstance(member, bytes) and member in ctx.members:
        try:
            state.cooperative.mint(ctx.now_ms, member, amount, "by decision")
        except CommunityRefused:
            return


@hookimpl
def peoplenet_lace_block(state: CurrencyState, block: LaceBlockView, ctx: FoldContext) -> None:
    assert isinstance(block.block, Block)
    if not state.coins.apply(block.block).ok:
        state.refused_blocks += 1


@hookimpl
def peoplenet_lace_equivocation(
    state: CurrencyState, creator: bytes, first: bytes, second: bytes, ctx: FoldContext
) -> None:
    state.coins.equivocation(
        Equivocation(
            state.coins.lace,  # type: ignore[arg-type]
            MemberId(creator),
            0,
            BlockId(first),
            BlockId(second),
        )
    )


@hookimpl
def peoplenet_funds(
    state: CurrencyState, op: str, args: Mapping[str, object], ctx: FoldContext
) -> Value:
    """Another app's money in cooperative coins (its escrow): :mod:`.funds`."""
    return serve_funds(state.cooperative, op, args, ctx.now_ms)


@hookimpl
def peoplenet_snapshot(state: CurrencyState) -> Value:
    return {"coins": state.coins.digest(), "cooperative": state.cooperative.snapshot()}


@hookimpl
def peoplenet_duties(state: CurrencyState, node: NodeContext) -> None:
    for draft in state.wallet(node.me).duties(node.fold.now_ms):
        _publish(node, draft)


def _publish(node: NodeContext, draft: Any) -> str:
    tip = node.lace_tip()
    return node.publish(
        Draft(draft.payload, draft.pointers_after(None if tip is None else BlockId(tip)))
    ).hex()


@hookimpl
def peoplenet_command(
    state: CurrencyState, command: str, args: Mapping[str, Value], node: NodeContext
) -> Value:
    me = node.me
    wallet = state.wallet(me)
    try:
        if command == "balance":
            return _balances(state, me)
        if command == "history":
            return _history(state, me, node.fold.now_ms)
        if command == "inbox":
            return _inbox(wallet)
        if command == "pay":
            return _pay(state, wallet, args, node)
        if command == "mint":
            return {"block": _publish(node, wallet.mint(_int(args, "amount")))}
        if command == "redeem":
            sovereign = _member(args, "sovereign", node)
            prefs = [_member({"m": p}, "m", node) for p in _list(args, "prefer")]
            deadline = node.fold.now_ms + _setting(state, "claim_deadline_ms")
            draft = wallet.redeem(sovereign, _int(args, "amount"), prefs, deadline)
            return {"claim": _publish(node, draft), "deadline_ms": deadline}
        if command == "credit":
            limit = _int(args, "limit") if args.get("limit") is not None else _int(args, "amount")
            if args.get("offer"):
                offer = _block(args, "offer")
                return {"accepted": _publish(node, wallet.accept_credit(BlockId(offer), limit))}
            peer = _member(args, "with", node)
            return {"offer": _publish(node, wallet.credit(peer, _int(args, "amount"), limit))}
    except CurrencyError as exc:
        raise AppCommandError(exc.reason, exc.detail) from None
    raise AppCommandError("unknown_command", command)


def _pay(
    state: CurrencyState, wallet: Wallet, args: Mapping[str, Value], node: NodeContext
) -> Value:
    to = _member(args, "to", node)
    amount = _int(args, "amount")
    memo = str(args.get("memo") or "")
    currency = args.get("currency")
    if currency == COMMUNITY:
        pay = CommunityPay(to, amount, memo)
        try:
            state.cooperative.check_pay(node.me, pay, node.fold.members)
        except CommunityRefused as exc:
            raise AppCommandError(exc.reason, exc.detail) from None
        node.submit(pay)
        return {"currency": COMMUNITY, "amount": amount, "to": to.hex(), "ordered": True}
    sovereign = node.me if currency in (None, "", "mine") else _member(args, "currency", node)
    minted = None
    if sovereign == node.me:
        # Every draft (a mint of what is missing, then the payment) is checked before the
        # first is signed: a payment the ledger would refuse mints nothing.
        drafts = wallet.pay_own(to, amount, memo)
        blocks = [_publish(node, d) for d in drafts]
        minted = blocks[0] if len(blocks) > 1 else None
        block = blocks[-1]
    else:
        block = _publish(node, wallet.pay(to, amount, sovereign, memo))
    return {
        "payment": block,
        "currency": sovereign.hex(),
        "amount": amount,
        "to": to.hex(),
        "minted": minted,
        "needs_approval": sovereign not in (node.me, to),
    }


def _balances(state: CurrencyState, me: bytes) -> Value:
    own: dict[str, Value] = {c.hex(): v for c, v in state.coins.balances(me).items() if v}
    return {
        "member": me.hex(),
        "coins": own,
        "cooperative": state.cooperative.balance(me),
        "in_flight_of_mine": state.coins.in_flight(me),
    }


def _inbox(wallet: Wallet) -> Value:
    """Credit offers made to me that only my consent takes (``app COOP currency credit``)."""
    return tuple(
        {"kind": t.kind, "offer": t.id.hex(), "from": t.payer.hex(), "amount": t.amount}
        for t in wallet.credit_offers()
    )


def _history(state: CurrencyState, me: bytes, now_ms: int) -> Value:
    rows: tuple[Value, ...] = tuple(
        {
            "block": e.block.hex(),
            "kind": e.kind,
            "counterparty": e.counterparty.hex() if e.counterparty else None,
            "currency": e.currency.hex() if e.currency else None,
            "amount": e.amount,
            "state": e.state,
            "reason": e.reason,
        }
        for e in state.coins.history(me, now_ms)
    )
    community: tuple[Value, ...] = tuple(
        {"at": at, "kind": kind, "from": a.hex(), "to": b.hex(), "amount": n, "memo": memo}
        for at, kind, a, b, n, memo in state.cooperative.history
        if me in (a, b)
    )
    return {"coins": rows, "cooperative": community}


def _int(args: Mapping[str, Value], key: str) -> int:
    value = args.get(key)
    if isinstance(value, str) and value.strip().removeprefix("-").isdecimal():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise AppCommandError("bad_argument", f"{key} is a whole number, not {value!r}")
    if value < 0:
        raise AppCommandError("bad_argument", f"{key} must be positive, not {value}")
    return value


def _list(args: Mapping[str, Value], key: str) -> list[Value]:
    """A ``members`` argument (the node converted it: a tuple of ids), or nothing."""
    value = args.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return list(value)
    raise AppCommandError("bad_argument", f"{key} is a comma-separated list of member ids")


def _block(args: Mapping[str, Value], key: str) -> bytes:
    value = args.get(key)
    if isinstance(value, bytes) and len(value) == 32:
        return value
    raise AppCommandError("bad_argument", f"{key} is a block id (64 hex digits)")


def _member(args: Mapping[str, Value], key: str, node: NodeContext) -> bytes:
    value = args.get(key)
    if isinstance(value, bytes) and len(value) == 32:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        matches = [m for m in node.fold.members if m.hex().startswith(text)] if text else []
        if len(matches) == 1 and len(text) >= 8:
            return matches[0]
        if len(matches) > 1:
            raise AppCommandError("ambiguous_member", f"{key} {value!r} names several members")
    raise AppCommandError("unknown_member", f"{key}: give a member id (at least 8 hex digits)")


__all__ = ["NAME", "SPEC", "CurrencyState", "peoplenet_demo", "peoplenet_demo_enable"]
