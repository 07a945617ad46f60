"""Small apps for the platform's tests: one that works, and ones that break in each way.

Record tags 993-995 (tests use 990-999).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peoplenet.plugins import hookimpl
from peoplenet.plugins.api import (
    AppChangeView,
    AppCommandError,
    AppSpec,
    AppTxRejected,
    CommandSpec,
    DecisionView,
    Draft,
    FoldContext,
    LaceBlockView,
    NodeContext,
    ParamSpec,
)
from peoplenet.runtime.wire.codec import Record, Value, wire_type


@wire_type(993)
@dataclass(frozen=True, slots=True)
class Add(Record):
    n: int


@wire_type(994)
@dataclass(frozen=True, slots=True)
class Note(Record):
    text: str


@wire_type(995)
@dataclass(frozen=True, slots=True)
class Spend(Record):
    amount: int


class CounterApp:
    """Adds numbers; ``step`` (set by vote) caps one addition; keeps a lace of notes."""

    name = "counter"

    def __init__(self) -> None:
        self.duty_attempts: list[str] = []

    @hookimpl
    def peoplenet_app(self) -> AppSpec:
        return AppSpec(
            name=self.name,
            version="1.0",
            summary="adds numbers",
            params=(ParamSpec("step", "int", 5, "largest addition", minimum=1, maximum=10),),
            tx_types=(Add,),
            commands=(
                CommandSpec("add", "add n", ("n",)),
                CommandSpec("show", "the total", read_only=True),
                CommandSpec("note", "publish a note"),
                CommandSpec("spend", "spend once", ("amount",), consents=("spend",)),
            ),
            uses_lace=True,
            lace_records=((Note, "note"), (Spend, "spend")),
            auto_purposes=("note",),
            consent_purposes=("spend",),
        )

    @hookimpl
    def peoplenet_new_state(self, community: bytes, settings: Mapping[str, Value]) -> object:
        return {"total": 0, "decisions": [], "changes": [], "notes": []}

    @hookimpl
    def peoplenet_check_tx(self, state: Any, tx: Value, ctx: FoldContext) -> None:
        assert isinstance(tx, Add)
        if tx.n <= 0:
            raise AppTxRejected("bad_amount", "n must be positive")
        step = ctx.settings["step"]
        assert isinstance(step, int)
        if tx.n > step:
            raise AppTxRejected("over_step", f"{tx.n} > {step}")

    @hookimpl
    def peoplenet_apply_tx(self, state: Any, tx: Value, ctx: FoldContext) -> Value:
        assert isinstance(tx, Add)
        state["total"] += tx.n
        return state["total"]  # type: ignore[no-any-return]

    @hookimpl
    def peoplenet_decision(self, state: Any, decision: DecisionView, ctx: FoldContext) -> None:
        state["decisions"].append((decision.kind, decision.subject, decision.outcome))

    @hookimpl
    def peoplenet_app_changed(self, state: Any, change: AppChangeView, ctx: FoldContext) -> None:
        state["changes"].append((change.enabled, dict(change.settings)))

    @hookimpl
    def peoplenet_lace_block(self, state: Any, block: LaceBlockView, ctx: FoldContext) -> None:
        state["notes"].append(block.payload)

    @hookimpl
    def peoplenet_snapshot(self, state: Any) -> Value:
        return {"total": state["total"], "notes": len(state["notes"])}

    @hookimpl
    def peoplenet_duties(self, state: Any, node: NodeContext) -> None:
        # A rogue duty: tries to spend without the person's consent (must be refused).
        try:
            node.publish(Draft(Spend(1), _tip(node)))
            self.duty_attempts.append("signed")
        except Exception as exc:
            self.duty_attempts.append(type(exc).__name__)

    @hookimpl
    def peoplenet_command(
        self, state: Any, command: str, args: Mapping[str, Value], node: NodeContext
    ) -> Value:
        if command == "show":
            return {"total": state["total"]}
        if command == "add":
            n = args.get("n")
            assert isinstance(n, int)
            node.submit(Add(n))
            return {"queued": n}
        if command == "note":
            return node.publish(Draft(Note("hello"), _tip(node)))
        amount = args.get("amount")
        assert isinstance(amount, int)
        first = node.publish(Draft(Spend(amount), _tip(node)))
        try:
            node.publish(Draft(Spend(amount), _tip(node)))
        except Exception as exc:
            return {"first": first, "second": type(exc).__name__}
        return {"first": first, "second": "signed"}


def _tip(node: NodeContext) -> tuple[bytes, ...]:
    tip = node.lace_tip()
    return () if tip is None else (tip,)


class RaisingApp(CounterApp):
    """Every transaction makes it raise: faulted after the guard's limit."""

    name = "raiser"

    @hookimpl
    def peoplenet_apply_tx(self, state: Any, tx: Value, ctx: FoldContext) -> Value:
        raise RuntimeError("boom")

    @hookimpl
    def peoplenet_duties(self, state: Any, node: NodeContext) -> None:
        return None


class NodeRefusingFoldApp(CounterApp):
    """Its fold raises a node-side refusal (a command's error), which a fold may never raise."""

    name = "node_refuser"

    @hookimpl
    def peoplenet_apply_tx(self, state: Any, tx: Value, ctx: FoldContext) -> Value:
        raise AppCommandError("not_here", "a command's refusal in the fold")


class HangingApp(CounterApp):
    """Its fold never returns (until the test releases it)."""

    name = "hanger"

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    @hookimpl
    def peoplenet_apply_tx(self, state: Any, tx: Value, ctx: FoldContext) -> Value:
        self.release.wait(30)
        return None

    @hookimpl
    def peoplenet_duties(self, state: Any, node: NodeContext) -> None:
        return None


class MisnamedHookApp:
    """``peoplenet_aply_tx`` is a typo: check_pending must catch it at load."""

    @hookimpl
    def peoplenet_app(self) -> AppSpec:
        return AppSpec(name="typo", version="1", summary="typo")

    @hookimpl
    def peoplenet_new_state(self, community: bytes, settings: Mapping[str, Value]) -> object:
        return {}

    @hookimpl
    def peoplenet_snapshot(self, state: Any) -> Value:
        return None

    @hookimpl
    def peoplenet_aply_tx(self, state: Any, tx: Value, ctx: FoldContext) -> Value:
        return None


class BadSpecApp:
    """Declares a parameter whose default is outside its own bounds."""

    @hookimpl
    def peoplenet_app(self) -> AppSpec:
        return AppSpec(
            name="badspec",
            version="1",
            summary="x",
            params=(ParamSpec("n", "int", 50, minimum=0, maximum=10),),
        )
