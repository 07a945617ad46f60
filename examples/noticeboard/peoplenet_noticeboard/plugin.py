"""The noticeboard's hooks: what the ``peoplenet.apps`` entry point registers.

The fold hooks (check, apply, decision, app_changed) only touch the :class:`Board` and read
``ctx``; the command hook acts for the member through the :class:`NodeContext` (it submits
transactions and never changes the board itself: the board changes when the transaction comes
back in the cooperative's order, on every member's node alike).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from peoplenet.plugins.api import (
    AppChangeView,
    AppCommandError,
    AppSpec,
    Arg,
    CommandSpec,
    DecisionView,
    FoldContext,
    NodeContext,
    ParamSpec,
    PluginError,
    Value,
    hookimpl,
)
from peoplenet_noticeboard import __version__
from peoplenet_noticeboard.board import Board, Tx
from peoplenet_noticeboard.records import PinNotice, PostNotice, WithdrawNotice

T = TypeVar("T")
NAME = "noticeboard"
MAX_NOTICES = ParamSpec(
    "max_notices", "int", 50, "notices kept; the oldest unpinned go first", minimum=1, maximum=500
)
MAX_LENGTH = ParamSpec(
    "max_length", "int", 280, "characters in one notice", minimum=1, maximum=2000
)
ANNOUNCE = ParamSpec("announce_decisions", "bool", True, "post closed decisions on the board")

SPEC = AppSpec(
    name=NAME,
    version=__version__,
    summary="a noticeboard: members post notices, the board announces decisions",
    params=(MAX_NOTICES, MAX_LENGTH, ANNOUNCE),
    tx_types=(PostNotice, PinNotice, WithdrawNotice),
    commands=(
        CommandSpec("post", "post a notice", (Arg("text", "text"),)),
        CommandSpec(
            "pin",
            "pin one of your notices (pinned=false unpins it)",
            (Arg("number", "int", "the notice's number"), Arg("pinned", "bool", "default true")),
        ),
        CommandSpec(
            "withdraw",
            "take one of your notices off the board",
            (Arg("number", "int", "the notice's number"),),
        ),
        CommandSpec("list", "the board, pinned notices first", read_only=True),
    ),
)


def _setting(settings: Mapping[str, Value], param: ParamSpec) -> Value:
    return settings.get(param.name, param.default)


def _int(settings: Mapping[str, Value], param: ParamSpec) -> int:
    value = _setting(settings, param)
    if type(value) is not int:  # the host checks settings against the spec: a broken host
        raise PluginError(f"{param.name} is {value!r}, not an int")
    return value


def _board(state: object) -> Board:
    if not isinstance(state, Board):
        raise PluginError(f"the noticeboard's state is a Board, not {type(state).__name__}")
    return state


def _tx(tx: Value) -> Tx:
    if not isinstance(tx, PostNotice | PinNotice | WithdrawNotice):
        raise PluginError(f"not a noticeboard transaction: {type(tx).__name__}")
    return tx


# -- declaration and state ---------------------------------------------------------------------


@hookimpl
def peoplenet_app() -> AppSpec:
    return SPEC


@hookimpl
def peoplenet_new_state(community: bytes, settings: Mapping[str, Value]) -> object:
    return Board()


@hookimpl
def peoplenet_snapshot(state: object) -> Value:
    return _board(state).snapshot()


# -- the fold (deterministic) --------------------------------------------------------------------


@hookimpl
def peoplenet_check_tx(state: object, tx: Value, ctx: FoldContext) -> None:
    _board(state).check(_tx(tx), ctx.sender, _int(ctx.settings, MAX_LENGTH))


@hookimpl
def peoplenet_apply_tx(state: object, tx: Value, ctx: FoldContext) -> Value:
    return _board(state).apply(_tx(tx), ctx.sender, ctx.now_ms, _int(ctx.settings, MAX_NOTICES))


@hookimpl
def peoplenet_decision(state: object, decision: DecisionView, ctx: FoldContext) -> None:
    if _setting(ctx.settings, ANNOUNCE) is not True:
        return
    verdict = "adopted" if decision.adopted else "not adopted"
    text = f"Decision {decision.number} ({decision.kind} {decision.subject}): {verdict}"
    board = _board(state)
    board.post(
        b"", text[: _int(ctx.settings, MAX_LENGTH)], ctx.now_ms, _int(ctx.settings, MAX_NOTICES)
    )


@hookimpl
def peoplenet_app_changed(state: object, change: AppChangeView, ctx: FoldContext) -> None:
    # Disabling keeps the board as it is (re-enabling continues from it); a smaller
    # max_notices takes effect at once.
    if change.enabled:
        _board(state).trim(_int(change.settings, MAX_NOTICES))


# -- the member's commands (this node) ---------------------------------------------------------


@hookimpl
def peoplenet_command(
    state: object, command: str, args: Mapping[str, Value], node: NodeContext
) -> Value:
    board = _board(state)
    if command == "list":
        return {"notices": board.listing()}
    if command == "post":
        text = _arg(args, "text", str)
        limit = _int(node.fold.settings, MAX_LENGTH)
        if len(text) > limit:  # the fold would refuse it too; say so before submitting
            raise AppCommandError("too_long", f"{len(text)} > {limit} characters")
        node.submit(PostNotice(text))
        return {"submitted": "post"}
    number = _arg(args, "number", int)
    notice = board.find(number)
    if notice is None:
        raise AppCommandError("unknown_notice", f"no notice {number} on the board")
    if notice.author != node.me:
        raise AppCommandError("not_author", f"notice {number} is not yours")
    if command == "pin":
        pinned = _arg(args, "pinned", bool) if "pinned" in args else True
        node.submit(PinNotice(number, pinned))
        return {"submitted": "pin", "number": number}
    if command == "withdraw":
        node.submit(WithdrawNotice(number))
        return {"submitted": "withdraw", "number": number}
    raise AppCommandError("unknown_command", command)


def _arg(args: Mapping[str, Value], name: str, kind: type[T]) -> T:
    value = args.get(name)
    if type(value) is not kind:  # exact: True is not an acceptable notice number
        raise AppCommandError("bad_argument", f"--{name} is required ({kind.__name__})")
    return value
