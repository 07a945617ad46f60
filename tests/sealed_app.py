"""A tiny app that seals details to members and has the node open them (sealed-details tests).

Loaded in-process (``AppHarness``) and in the real worker process (through an entry point the
tests install on ``sys.path``): the module itself is the plugin.  Its commands: ``seal`` (text
to members, under a purpose: the record as hex), ``open`` (a record's hex under a purpose,
optionally another app's or cooperative's context), ``later`` (queue a record for the duties to
open) and ``show`` (what the duties opened, or the reason they could not).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peoplenet.plugins.api import (
    AppCommandError,
    AppSpec,
    Arg,
    CommandSpec,
    NodeContext,
    PeoplenetError,
    Value,
    encode,
    hookimpl,
)
from peoplenet.plugins.kit import Sealed, seal, seal_context
from peoplenet.runtime.wire.codec import decode

NAME = "sealtest"
OPEN_ARGS = (
    Arg("sealed", "text"),
    Arg("purpose", "text"),
    Arg("app", "text"),
    Arg("community", "text"),
    Arg("times", "int"),
)


@hookimpl
def peoplenet_app() -> AppSpec:
    return AppSpec(
        name=NAME,
        version="1.0",
        summary="seals details to members; the node opens them",
        commands=(
            CommandSpec(
                "seal",
                "seal text to members",
                (Arg("text", "text"), Arg("to", "members"), Arg("purpose", "text")),
            ),
            CommandSpec(
                "open",
                "open a sealed record",
                (
                    Arg("sealed", "text"),
                    Arg("purpose", "text"),
                    Arg("app", "text"),
                    Arg("community", "text"),
                    Arg("times", "int"),
                ),
            ),
            CommandSpec(
                "later",
                "queue a record for the duties (held: only once community time moves)",
                (Arg("sealed", "text"), Arg("held", "bool")),
            ),
            CommandSpec("show", "what the duties opened", read_only=True),
        ),
    )


@hookimpl
def peoplenet_new_state(community: bytes, settings: Mapping[str, Value]) -> object:
    return {"queue": [], "held": [], "opened": []}


@hookimpl
def peoplenet_snapshot(state: Any) -> Value:
    return {"queued": len(state["queue"]), "opened": len(state["opened"])}


def _record(text: Value) -> Sealed:
    if not isinstance(text, str):
        raise AppCommandError("bad_sealed", "a sealed record as hex")
    record = decode(bytes.fromhex(text))
    if not isinstance(record, Sealed):
        raise AppCommandError("bad_sealed", "not a sealed record")
    return record


def _purpose(args: Mapping[str, Value]) -> bytes:
    return str(args.get("purpose", "job-1")).encode()


@hookimpl
def peoplenet_command(
    state: Any, command: str, args: Mapping[str, Value], node: NodeContext
) -> Value:
    community = node.fold.community
    if command == "seal":
        to = args.get("to", (node.me,))
        assert isinstance(to, tuple)
        text = str(args.get("text", "")).encode()
        context = seal_context(community, NAME, _purpose(args))
        sealed = seal(text, [bytes(m) for m in to if isinstance(m, bytes)], context)
        return {"sealed": encode(sealed)}
    if command == "open":
        sealed = _record(args.get("sealed"))
        if "community" in args:
            community = bytes.fromhex(str(args["community"]))
        context = seal_context(community, str(args.get("app", NAME)), _purpose(args))
        times = args.get("times", 1)
        assert isinstance(times, int)
        opened = b""
        for _ in range(times):
            opened = node.unseal(sealed, context)
        return {"text": opened.decode()}
    if command == "later":
        where = "held" if args.get("held") else "queue"
        state[where].append(_record(args.get("sealed")))
        return {"queued": len(state["queue"]), "held": len(state["held"])}
    if command == "show":
        return {"opened": tuple(state["opened"])}
    raise AppCommandError("unknown_command", command)


@hookimpl
def peoplenet_clock(state: Any, ctx: Any) -> None:
    """Community time moved: what was held goes to the duties' queue (a fold hook: it opens
    nothing; the duties after it, in the same delivery, do)."""
    state["queue"].extend(state["held"])
    state["held"] = []


@hookimpl
def peoplenet_duties(state: Any, node: NodeContext) -> None:
    """Opens what was queued; a record it cannot open is noted by its reason (a duty catches)."""
    queue, state["queue"] = state["queue"], []
    context = seal_context(node.fold.community, NAME, b"job-1")
    for sealed in queue:
        try:
            state["opened"].append(node.unseal(sealed, context).decode())
        except PeoplenetError as exc:
            state["opened"].append(exc.reason)
