"""The kit inside a real app's fold (the real host, through the conformance harness): a tiny
work app prices jobs by voted rules, takes blind ratings and decides disputes by a jury drawn
from the transaction's beacon.  It imports only the public API and the kit, as an app must."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peoplenet.plugins.api import (
    AppChangeView,
    AppSpec,
    AppTxRejected,
    FoldContext,
    ParamSpec,
    Record,
    Value,
    hookimpl,
    wire_type,
)
from peoplenet.plugins.harness import AppHarness, harness_beacon
from peoplenet.plugins.kit import (
    Breakdown,
    DisputeBook,
    Rating,
    RatingBook,
    RulesBook,
    Ruling,
    draw,
    prorate,
)
from peoplenet.runtime.wire.codec import decode, encode

PRICE_KEYS = ("base", "per_km")


@wire_type(1_337_174)
@dataclass(frozen=True, slots=True)
class Finish(Record):
    job: bytes
    customer: bytes
    meters: int


@wire_type(1_337_175)
@dataclass(frozen=True, slots=True)
class Rate(Record):
    rating: Rating


@wire_type(1_337_176)
@dataclass(frozen=True, slots=True)
class Dispute(Record):
    job: bytes


@wire_type(1_337_177)
@dataclass(frozen=True, slots=True)
class Rule(Record):
    ruling: Ruling


class JobsApp:
    """Jobs a member finishes for a customer; the kit does the rest."""

    @hookimpl
    def peoplenet_app(self) -> AppSpec:
        return AppSpec(
            name="jobs",
            version="1",
            summary="kit demo",
            params=(
                ParamSpec("base", "int", 300, minimum=0),
                ParamSpec("per_km", "int", 100, minimum=0),
                ParamSpec("jury_size", "int", 1, minimum=1, maximum=9),
            ),
            tx_types=(Finish, Rate, Dispute, Rule),
        )

    @hookimpl
    def peoplenet_new_state(self, community: bytes, settings: Mapping[str, Value]) -> object:
        size = settings.get("jury_size", 1)
        assert isinstance(size, int)
        return {
            "rules": RulesBook(PRICE_KEYS),
            "ratings": RatingBook(window_ms=60_000, min_count=1),
            "disputes": DisputeBook(window_ms=60_000, jury_size=size, answer_ms=10_000),
            "jobs": {},
        }

    @hookimpl
    def peoplenet_app_changed(self, state: Any, change: AppChangeView, ctx: FoldContext) -> None:
        state["rules"].adopt(change.settings, ctx.now_ms)

    def _run(self, state: Any, tx: Value, ctx: FoldContext, *, apply: bool) -> Value:
        if isinstance(tx, Finish):
            if tx.job in state["jobs"]:
                raise AppTxRejected("job_exists")
            rules = state["rules"].get(state["rules"].current)
            fare = Breakdown.of(
                ("base", rules["base"]), ("distance", prorate(rules["per_km"], tx.meters, 1000))
            )
            parties = (ctx.sender, tx.customer)
            state["ratings"].check_open(tx.job, parties, ctx.now_ms)
            if apply:
                state["ratings"].open(tx.job, parties, ctx.now_ms)
                state["jobs"][tx.job] = (parties, ctx.now_ms, fare)
            return {"fare": fare.total}
        if isinstance(tx, Rate):
            book = state["ratings"]
            args = (tx.rating.job, ctx.sender, tx.rating.score, ctx.now_ms)
            book.rate(*args) if apply else book.check_rate(*args)
            return None
        if isinstance(tx, Dispute):
            parties, finished, _ = state["jobs"].get(tx.job, ((), 0, None))
            book = state["disputes"]
            call = book.open if apply else book.check_open
            jury = call(
                tx.job,
                ctx.sender,
                parties,
                ctx.now_ms,
                ctx.beacon,
                ctx.members,
                finished_ms=finished,
            )
            return {"jury": tuple(jury)} if apply else None
        assert isinstance(tx, Rule)
        book = state["disputes"]
        args2 = (tx.ruling.dispute, ctx.sender, tx.ruling.ruling, ctx.now_ms)
        book.rule(*args2) if apply else book.check_rule(*args2)
        return None

    @hookimpl
    def peoplenet_check_tx(self, state: Any, tx: Value, ctx: FoldContext) -> None:
        self._run(state, tx, ctx, apply=False)

    @hookimpl
    def peoplenet_apply_tx(self, state: Any, tx: Value, ctx: FoldContext) -> Value:
        return self._run(state, tx, ctx, apply=True)

    @hookimpl
    def peoplenet_snapshot(self, state: Any) -> Value:
        return {
            "rules": state["rules"].to_value(),
            "ratings": state["ratings"].to_value(),
            "disputes": state["disputes"].to_value(),
            "fares": tuple((job, fare) for job, (_, _, fare) in sorted(state["jobs"].items())),
        }


def test_a_job_priced_rated_and_disputed_through_the_real_host() -> None:
    with AppHarness(JobsApp(), members=5) as h:
        h.enable({"base": 250, "per_km": 120, "jury_size": 3})
        worker, customer = h.members[1], h.members[2]
        done = h.submit(Finish(b"j1", customer, 2_500), member=1)
        assert done["status"] == "applied", done
        assert done["result"] == {"fare": 250 + 300}
        assert h.submit(Rate(Rating(b"j1", 5)), member=2)["status"] == "applied"
        refused = h.submit(Rate(Rating(b"j1", 4)), member=2)
        assert (refused["status"], refused["reason"]) == ("rejected", "already_rated")
        assert h.check(Rate(Rating(b"j1", 4)), member=3) == "not_a_party"
        before = h.snapshot()
        assert h.submit(Dispute(b"j1"), member=3)["reason"] == "not_a_party"
        assert encode(h.snapshot()) == encode(before)  # a refusal changes nothing

        beacon = harness_beacon((h.position[0], h.position[1] + 1))
        opened = h.submit(Dispute(b"j1"), member=2)
        assert opened["status"] == "applied", opened
        eligible = [m for m in h.members if m not in (worker, customer)]
        jury = draw(beacon, b"j1", eligible, 3)
        result: Any = opened["result"]  # the host shows results as JSON: ids in hex
        assert [bytes.fromhex(j) for j in result["jury"]] == list(jury)
        for juror, ruling in zip(jury, ("split:1/4", "split:1/4", "worker"), strict=True):
            member = h.members.index(juror)
            assert h.submit(Rule(Ruling(b"j1", ruling)), member=member)["status"] == "applied"
        state: Any = h.state
        assert state["disputes"].outcome(b"j1") == "split:1/4"
        snapshot = h.snapshot()
        assert decode(encode(snapshot)) == snapshot
        assert h.problems() == []
        assert worker not in jury and customer not in jury
