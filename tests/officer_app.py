"""A tiny app that lets only the cooperative's elected dispatcher dispatch (officer tests).

Loaded in the real worker process through an entry point the tests install on ``sys.path``
(the module itself is the plugin), and in-process by ``AppHarness``.  ``Dispatch`` passes
``peoplenet_check_tx`` only from the member ``ctx.officers`` names for ``dispatcher``; every
fold hook notes the offices it saw, so the snapshot shows what the app's side was given.
Record tag 998 (tests use 990-999).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peoplenet.plugins.api import (
    AppCommandError,
    AppSpec,
    AppTxRejected,
    CommandSpec,
    DecisionView,
    FoldContext,
    NodeContext,
    Record,
    Value,
    hookimpl,
    wire_type,
)

NAME = "officers"
ROLE = "dispatcher"


@wire_type(998)
@dataclass(frozen=True, slots=True)
class Dispatch(Record):
    note: str


def _shown(officers: Mapping[str, bytes]) -> dict[str, Value]:
    return {role: holder.hex() for role, holder in officers.items()}


@hookimpl
def peoplenet_app() -> AppSpec:
    return AppSpec(
        name=NAME,
        version="1.0",
        summary="only the elected dispatcher dispatches",
        tx_types=(Dispatch,),
        commands=(CommandSpec("officers", "the offices as this node sees them", read_only=True),),
    )


@hookimpl
def peoplenet_new_state(community: bytes, settings: Mapping[str, Value]) -> object:
    return {"dispatched": [], "at_decision": None}


@hookimpl
def peoplenet_check_tx(state: Any, tx: Value, ctx: FoldContext) -> None:
    if not isinstance(tx, Dispatch):
        raise AppTxRejected("bad_tx", "not a dispatch")
    if ctx.officers.get(ROLE) != ctx.sender:
        raise AppTxRejected("not_dispatcher", f"offices: {_shown(ctx.officers)}")


@hookimpl
def peoplenet_apply_tx(state: Any, tx: Value, ctx: FoldContext) -> Value:
    assert isinstance(tx, Dispatch)
    state["dispatched"].append((tx.note, _shown(ctx.officers)))
    return {"dispatched": len(state["dispatched"])}


@hookimpl
def peoplenet_decision(state: Any, decision: DecisionView, ctx: FoldContext) -> None:
    if decision.kind in ("officer", "removal"):
        state["at_decision"] = (decision.kind, _shown(ctx.officers))


@hookimpl
def peoplenet_snapshot(state: Any) -> Value:
    return {"dispatched": tuple(state["dispatched"]), "at_decision": state["at_decision"]}


@hookimpl
def peoplenet_command(
    state: Any, command: str, args: Mapping[str, Value], node: NodeContext
) -> Value:
    if command == "officers":
        return _shown(node.fold.officers)
    raise AppCommandError("unknown_command", command)
