"""The cooperative's coins as other apps' money: the currency app's ``peoplenet_funds``.

A work app holds a customer's coins in escrow and pays the worker in its own ordered
transaction; the platform routes its ``FoldContext.funds`` here (the currency declares
``provides=("funds",)``).  Escrow and treasury accounts are plain accounts of the
:class:`~peoplenet.apps.currency.community.CommunityLedger`: 32-byte keys like members' ids.

The platform has already checked who may move what (the sender's coins or the app's own
escrow, to a member, the treasury or that escrow); this checks the money: the currency is
``community``, the amount is in bounds, and every account can pay its moves, taken in order.
A batch is checked whole before any of it moves, so ``"move"`` is all or nothing.

Members' own coins (the lace-based Flash coins) are not served: moving them needs their
sovereign's approval on the coin lace, which an ordered fold cannot wait for (docs/currency.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from peoplenet.apps.currency.community import COMMUNITY, MAX_AMOUNT, CommunityLedger
from peoplenet.plugins.api import AppTxRejected, Move, Value


def serve_funds(ledger: CommunityLedger, op: str, args: Mapping[str, object], now_ms: int) -> Value:
    """One ``peoplenet_funds`` request on the cooperative's coins (see the hookspec)."""
    if op == "balance":
        currency = args.get("currency")
        account = args.get("account")
        if currency != COMMUNITY:
            raise AppTxRejected("unknown_currency", f"{currency!r}: only {COMMUNITY!r} here")
        if not isinstance(account, bytes):
            raise AppTxRejected("bad_account", "an account is a 32-byte id")
        return ledger.balance(account)
    moves = _moves(args)
    if op == "check":
        return refusal(ledger, moves)[0]
    if op == "move":
        reason, detail = refusal(ledger, moves)
        if reason:
            raise AppTxRejected(reason, detail)
        for m in moves:
            ledger.move(now_ms, m.frm, m.to, m.amount, m.memo)
        return None
    raise AppTxRejected("unknown_funds_op", repr(op))


def refusal(ledger: CommunityLedger, moves: Sequence[Move]) -> tuple[str, str]:
    """The first move the ledger would refuse, taken in order (reason, detail), or ("", "")."""
    delta: dict[bytes, int] = {}
    for m in moves:
        if m.currency != COMMUNITY:
            return "unknown_currency", f"{m.currency!r}: only {COMMUNITY!r} here"
        if not 0 < m.amount <= MAX_AMOUNT:
            return "bad_amount", f"amount is 1..{MAX_AMOUNT}"
        held = ledger.balance(m.frm) + delta.get(m.frm, 0)
        if m.amount > held:
            return "insufficient_funds", f"holds {held}, moves {m.amount}"
        delta[m.frm] = delta.get(m.frm, 0) - m.amount
        delta[m.to] = delta.get(m.to, 0) + m.amount
    return "", ""


def _moves(args: Mapping[str, object]) -> tuple[Move, ...]:
    moves = args.get("moves")
    if not isinstance(moves, tuple) or not all(isinstance(m, Move) for m in moves):
        raise AppTxRejected("bad_moves", "moves is a tuple of Move")
    return moves


__all__ = ["refusal", "serve_funds"]
