"""The currency's conformance case: how a bundled app declares itself to the kit.

Test support, not loaded by the node (it imports :mod:`peoplenet.plugins.testing`).  The case covers
both ledgers: the cooperative's coins are ``CommunityPay`` transactions (member 0 gets 100 by
the enabling decision), and members' own coins are a scripted coin lace with every record
type (200-208), taken and refused, including a double spend by a forked member that its
sovereign voids.  Member 0 is the node's own member: after the script its node approves a
payment in its coins and accepts one to it (its duties), then runs every command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from peoplenet.apps.currency import plugin
from peoplenet.apps.currency.community import CommunityPay
from peoplenet.apps.currency.plugin import DAY_MS, CurrencyState
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
from peoplenet.plugins.api import BlockId
from peoplenet.plugins.testing import (
    START_MS,
    By,
    ConformanceCase,
    LaceBlock,
    LacePayload,
    member_id,
)

M0, M1, M2, M3 = (member_id(i) for i in range(4))
NOT_A_MEMBER: Final = bytes(range(32))
DEADLINE: Final = START_MS + DAY_MS


def lace_outcome(state: object, block: bytes) -> str | None:
    """The coin ledger's verdict on ``block``: ``None`` if taken, else the refusal reason."""
    assert isinstance(state, CurrencyState)
    outcome = state.coins.outcome(BlockId(block))
    return "not_folded" if outcome is None else outcome.reason


def coin_lace() -> list[LaceBlock]:
    """Every coin record, in a lace the members 1-3 (and member 0, as restored) signed."""
    return [
        LaceBlock(1, Mint(1000, 1000), "m1_mint"),
        LaceBlock(0, Mint(500, 500), "m0_mint"),
        LaceBlock(1, Issue(M2, M1, 100, 900, "rent"), "m1_pays_m2"),
        LaceBlock(0, Issue(M2, M0, 50, 450, ""), "m0_pays_m2"),
        LaceBlock(2, _accept("m1_pays_m2", 100), "m2_takes", refs=("m1_pays_m2",)),
        LaceBlock(2, _accept("m0_pays_m2", 50), "m2_takes_m0", refs=("m0_pays_m2",)),
        LaceBlock(2, Redeem(M1, 10, 90, (M0,), DEADLINE), "m2_redeems"),
        LaceBlock(1, _accept("m2_redeems", 910), "m1_takes_claim", refs=("m2_redeems",)),
        LaceBlock(
            1,
            lambda ids: Repay(ids["m2_redeems"], M1, 10, 900),
            "m1_repays",
            refs=("m2_redeems",),
        ),
        LaceBlock(2, _accept("m1_repays", 100), "m2_takes_repay", refs=("m1_repays",)),
        # m2 pays m3 in m0's coins: the node (member 0) approves it in its duties
        LaceBlock(2, Issue(M3, M0, 20, 30, ""), "m2_pays_m3_in_m0"),
        # m2 pays m0 in m1's coins, m1 approves: the node accepts it in its duties
        LaceBlock(2, Issue(M0, M1, 40, 60, ""), "m2_pays_m0"),
        LaceBlock(1, lambda ids: Approve(ids["m2_pays_m0"]), "m1_approves", refs=("m2_pays_m0",)),
        # m2 forks to spend the same m1-coins again; m1 voids the twin with the approved one
        LaceBlock(2, Issue(M3, M1, 40, 60, ""), "m2_twin", after="m2_pays_m3_in_m0"),
        LaceBlock(
            1,
            lambda ids: Disapprove(ids["m2_twin"], ids["m2_pays_m0"]),
            "m1_voids_twin",
            refs=("m2_twin", "m2_pays_m0"),
        ),
        LaceBlock(3, CreditOffer(M1, 50, 50), "m3_offers"),
        LaceBlock(
            1,
            lambda ids: CreditAccept(ids["m3_offers"], 50, 50),
            "m1_takes_offer",
            refs=("m3_offers",),
        ),
        LaceBlock(3, _accept("m1_takes_offer", 50), "m3_takes_leg", refs=("m1_takes_offer",)),
        # refused blocks: they stay in their chains and change no balance
        LaceBlock(
            3, lambda ids: Approve(ids["m2_pays_m0"]), refs=("m2_pays_m0",), expect="not_sovereign"
        ),
        LaceBlock(
            1,
            lambda ids: Approve(ids["m2_pays_m0"]),
            refs=("m2_pays_m0",),
            expect="already_approved",
        ),
        LaceBlock(1, Issue(M1, M1, 5, 895, ""), expect="self_payment"),
        LaceBlock(3, Mint(5, 999), expect="unbalanced"),
        LaceBlock(0, Issue(M3, M0, 1000, 0, ""), expect="overspend"),
        LaceBlock(
            1,
            lambda ids: Repay(ids["m2_redeems"], M1, 1, 899),
            refs=("m2_redeems",),
            expect="over_repay",
        ),
        LaceBlock(3, _accept("m1_pays_m2", 100), refs=("m1_pays_m2",), expect="not_payee"),
    ]


def _accept(transfer: str, newbal: int) -> LacePayload:
    """An Accept (no approval needed) of the block labelled ``transfer``."""

    def build(ids: Mapping[str, bytes]) -> Accept:
        return Accept(ids[transfer], None, newbal)

    return build


def conformance_case() -> ConformanceCase:
    """The currency's case for :func:`peoplenet.plugins.testing.check_app`."""
    return ConformanceCase(
        plugin,
        good_txs=[
            CommunityPay(M1, 30, "bread"),
            By(1, CommunityPay(M2, 10)),
            CommunityPay(M3, 20),
        ],
        bad_txs=[
            (CommunityPay(M1, 1000), "insufficient_funds"),
            (CommunityPay(M0, 1), "self_payment"),
            (CommunityPay(NOT_A_MEMBER, 1), "unknown_member"),
            (By(3, CommunityPay(M0, 50)), "insufficient_funds"),
        ],
        action={"mint": 100, "to": M0.hex()},
        commands={
            "pay": {"to": M1.hex(), "amount": 5, "memo": "by command"},
            "mint": {"amount": 10},
            "redeem": {"sovereign": M1.hex(), "amount": 5, "prefer": M3.hex()},
            "credit": {"with": M2.hex(), "amount": 5, "limit": 5},
        },
        lace_blocks=coin_lace(),
        lace_outcome=lace_outcome,
        source="peoplenet.apps.currency.plugin",
    )


__all__ = ["coin_lace", "conformance_case", "lace_outcome"]
