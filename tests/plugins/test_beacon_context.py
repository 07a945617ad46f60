"""An app transaction's fold sees the beacon of the step of the order that delivered it: from the
cooperative's consumer, through the apps' host, and across the worker's wire."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peoplenet.actors.governance.records import AppTx, GovTx
from peoplenet.plugins import hookimpl
from peoplenet.plugins.api import AppSpec, FoldContext
from peoplenet.plugins.harness import harness_beacon
from peoplenet.plugins.worker.app_worker import context_from_wire, context_wire
from peoplenet.runtime.consensus.core import Delivery, tx_key
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.lace.block import BlockId
from peoplenet.runtime.wire.codec import Record, Value, decode, encode, wire_type
from tests.plugins.test_host import Coop


@wire_type(1_337_172)
@dataclass(frozen=True, slots=True)
class Look(Record):
    n: int


class BeaconApp:
    """Answers each transaction with the beacon its check and its apply saw."""

    @hookimpl
    def peoplenet_app(self) -> AppSpec:
        return AppSpec(name="beacon", version="1", summary="shows the beacon", tx_types=(Look,))

    @hookimpl
    def peoplenet_new_state(self, community: bytes, settings: Mapping[str, Value]) -> object:
        return {"checked": []}

    @hookimpl
    def peoplenet_check_tx(self, state: Any, tx: Value, ctx: FoldContext) -> None:
        state["checked"].append(ctx.beacon)

    @hookimpl
    def peoplenet_apply_tx(self, state: Any, tx: Value, ctx: FoldContext) -> Value:
        return {"beacon": ctx.beacon, "checked": state["checked"][-1]}

    @hookimpl
    def peoplenet_snapshot(self, state: Any) -> Value:
        return tuple(state["checked"])


def test_the_fold_sees_the_beacon_the_consensus_actor_gave_for_the_block(tmp_path: Path) -> None:
    coop = Coop(tmp_path, [BeaconApp()])
    coop.decide_app("beacon", {})
    state = coop.consumer.governance.state
    answers: list[dict[str, Value]] = []
    for n, beacon in enumerate((b"\x01" * 32, b"\x02" * 32)):
        block = bytes([0xB0 + n]) * 32
        gov = GovTx(coop.now, AppTx("beacon", encode(Look(n))))
        d = Delivery(
            state.genesis.epoch,
            coop.consumer.delivered_count,
            BlockId(block),
            MemberId(coop.people[1].member_id),
            gov,
        )
        coop.consumer.delivered([d], [state.genesis], coop.now, {block: beacon})
        status, _ = coop.consumer.command("coop_tx", {"key": tx_key(gov).hex()}, coop.now)
        assert isinstance(status, dict)
        answer = status["app"]
        assert isinstance(answer, dict) and isinstance(answer["result"], dict)
        answers.append(answer["result"])
    expected = [(b"\x01" * 32).hex(), (b"\x02" * 32).hex()]  # results are shown as JSON
    assert [a["beacon"] for a in answers] == expected
    assert [a["checked"] for a in answers] == expected
    coop.consumer.close()


def test_the_beacon_crosses_the_worker_wire() -> None:
    ctx = FoldContext(b"f/x", 5, frozenset({b"m" * 32}), {}, {}, b"m" * 32, (0, 3), b"\x07" * 32)
    assert context_from_wire(decode(encode(context_wire(ctx)))) == ctx
    assert (
        context_from_wire(
            decode(encode(context_wire(FoldContext(b"f/x", 5, frozenset(), {}, {}))))
        ).beacon
        == b""
    )


def test_the_harness_gives_each_transaction_its_own_beacon() -> None:
    assert len(harness_beacon((1, 2))) == 32
    assert harness_beacon((1, 2)) == harness_beacon((1, 2))
    assert harness_beacon((1, 2)) != harness_beacon((1, 3))
