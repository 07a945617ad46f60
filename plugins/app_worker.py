"""A cooperative's apps inside the keyless worker process: :class:`AppHost` behind the channel.

The node's trusted side (``plugins.remote_host``, next) starts the worker with
``plugins.app_worker:HANDLERS`` and drives it call by call; everything here runs app code and
holds no key.  Two things only the trusted side has come back as callbacks during a call:
``context`` (the cooperative's fold view for an app) and ``sign`` (a block of the app's lace,
signed only if the member's consent rules allow it).  Arguments and results cross as codec
values; the ``*_wire`` helpers are the one place their shapes are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugins.api import DecisionView, FoldContext
from plugins.host import AppHost, HostOutput
from plugins.manager import load_apps
from plugins.worker import Back, Handler
from runtime.app_lace import LaceBlocks, LaceHave
from runtime.block import Block
from runtime.codec import Value
from runtime.errors import LocalError


class WorkerStateError(LocalError):
    """A call came before ``start`` (or ``start`` came twice): the node's fault."""


# -- wire shapes ---------------------------------------------------------------------------------


def context_wire(ctx: FoldContext) -> Value:
    return {
        "community": ctx.community,
        "now_ms": ctx.now_ms,
        "members": tuple(sorted(ctx.members)),
        "settings": dict(ctx.settings),
        "rates": dict(ctx.rates),
        "sender": ctx.sender,
        "position": ctx.position,
    }


def context_from_wire(value: Value) -> FoldContext:
    v = _map(value, "context")
    members = v["members"]
    position = v["position"]
    if not isinstance(members, tuple) or not isinstance(position, tuple) or len(position) != 2:
        raise WorkerStateError("malformed context")
    rates = _map(v["rates"], "rates")
    return FoldContext(
        community=_bytes(v["community"]),
        now_ms=_int(v["now_ms"]),
        members=frozenset(_bytes(m) for m in members),
        settings=_map(v["settings"], "settings"),
        rates={k: str(r) for k, r in rates.items()},
        sender=_bytes(v["sender"]),
        position=(_int(position[0]), _int(position[1])),
    )


def decision_wire(view: DecisionView) -> Value:
    return {
        "number": view.number,
        "kind": view.kind,
        "subject": view.subject,
        "adopted": view.adopted,
        "outcome": view.outcome,
    }


def output_wire(out: HostOutput) -> Value:
    return {
        "submit": tuple(out.submit),
        "sends": tuple((peer, msg) for peer, msg in out.sends),
        "wake_at_ms": out.wake_at_ms,
    }


def _map(value: Value, what: str) -> dict[str, Value]:
    if not isinstance(value, dict):
        raise WorkerStateError(f"{what} is not a map")
    return value


def _bytes(value: Value) -> bytes:
    if not isinstance(value, bytes):
        raise WorkerStateError("expected bytes")
    return value


def _int(value: Value) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise WorkerStateError("expected an integer")
    return value


def _str(value: Value) -> str:
    if not isinstance(value, str):
        raise WorkerStateError("expected text")
    return value


# -- the worker's side ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Worker:
    host: AppHost | None = None
    back: Back | None = None

    def call_back(self, method: str, args: Value) -> Value:
        if self.back is None:
            raise WorkerStateError(f"{method} outside a call")
        return self.back(method, args)

    def need(self) -> AppHost:
        if self.host is None:
            raise WorkerStateError("start the worker first")
        return self.host


class _CallbackSigner:
    """The host's signer: asks the node, which signs only what the member's rules allow."""

    def __init__(self, worker: _Worker) -> None:
        self._worker = worker

    def block(self, lace: bytes, payload: Value, pointers: tuple[bytes, ...]) -> Block:
        raw = self._worker.call_back(
            "sign", {"lace": lace, "payload": payload, "pointers": pointers}
        )
        block = Block.from_bytes(_bytes(raw))
        if block.lace != lace or block.payload != payload or tuple(block.pointers) != pointers:
            raise WorkerStateError("the node signed something else than asked")
        return block


def _declaration(host: AppHost) -> Value:
    """What the trusted side needs to judge signatures: every app's declared purposes."""
    apps: dict[str, Value] = {}
    for name in host.registry.names():
        spec = host.registry.spec(name)
        if spec is None:
            continue
        apps[name] = {
            "version": spec.version,
            "lace_records": tuple(
                (record.wire_tag, purpose) for record, purpose in spec.lace_records
            ),
            "auto": tuple(spec.auto_purposes),
            "consent": tuple(spec.consent_purposes),
            "commands": {c.name: tuple(c.consents) for c in spec.commands},
        }
    broken = tuple((b.source, b.reason) for b in host.registry.broken)
    return {"apps": apps, "broken": broken}


def _handlers() -> dict[str, Handler]:
    worker = _Worker()

    def bind(fn: Any) -> Handler:
        def handler(args: Value, back: Back) -> Value:
            worker.back = back
            try:
                result: Value = fn(_map(args, "arguments") if args is not None else {})
                return result
            finally:
                worker.back = None

        return handler

    def start(a: dict[str, Value]) -> Value:
        if worker.host is not None:
            raise WorkerStateError("already started")
        folder = a.get("folder")
        registry = load_apps(use_entry_points=bool(a.get("entry_points", True)))
        worker.host = AppHost(
            registry,
            _bytes(a["community"]),
            _bytes(a["me"]),
            _CallbackSigner(worker),
            folder=Path(_str(folder)) if folder is not None else None,
            context=lambda name: context_from_wire(worker.call_back("context", name)),
        )
        return _declaration(worker.host)

    def app_changed(a: dict[str, Value]) -> Value:
        worker.need().app_changed(
            _str(a["name"]), bool(a["enabled"]), a.get("settings"), a.get("action")
        )
        return None

    def apply_tx(a: dict[str, Value]) -> Value:
        host = worker.need()
        return host.apply_tx(_str(a["name"]), _bytes(a["body"]), context_from_wire(a["ctx"]))

    def decision(a: dict[str, Value]) -> Value:
        d = _map(a["decision"], "decision")
        view = DecisionView(
            _int(d["number"]), _str(d["kind"]), _str(d["subject"]), bool(d["adopted"]), d["outcome"]
        )
        worker.need().decision(view)
        return None

    def clock(a: dict[str, Value]) -> Value:
        worker.need().clock()
        return None

    def set_members(a: dict[str, Value]) -> Value:
        members = a["members"]
        if not isinstance(members, tuple):
            raise WorkerStateError("members is a list")
        worker.need().set_members(_bytes(m) for m in members)
        return None

    def laces(a: dict[str, Value]) -> Value:
        return worker.need().laces()

    def receive(a: dict[str, Value]) -> Value:
        msg = a["msg"]
        if not isinstance(msg, LaceBlocks | LaceHave):
            raise WorkerStateError("not a lace message")
        return output_wire(worker.need().receive(_bytes(a["peer"]), msg, _int(a["now_ms"])))

    def peer_up(a: dict[str, Value]) -> Value:
        return output_wire(worker.need().peer_up(_bytes(a["peer"]), _int(a["now_ms"])))

    def duties(a: dict[str, Value]) -> Value:
        return output_wire(worker.need().duties(_int(a["now_ms"])))

    def tick(a: dict[str, Value]) -> Value:
        return output_wire(worker.need().tick(_int(a["now_ms"])))

    def command(a: dict[str, Value]) -> Value:
        given = _map(a.get("args", {}), "args")
        result, out = worker.need().command(
            _str(a["name"]), _str(a["command"]), given, _int(a["now_ms"])
        )
        return {"result": result, "out": output_wire(out)}

    def status(a: dict[str, Value]) -> Value:
        return worker.need().status(_str(a["name"]))

    def snapshot(a: dict[str, Value]) -> Value:
        return worker.need().snapshot(_str(a["name"]))

    def recent(a: dict[str, Value]) -> Value:
        return tuple(worker.need().recent(_str(a["name"])))

    table: Mapping[str, Any] = {
        "start": start,
        "app_changed": app_changed,
        "apply_tx": apply_tx,
        "decision": decision,
        "clock": clock,
        "set_members": set_members,
        "laces": laces,
        "receive": receive,
        "peer_up": peer_up,
        "duties": duties,
        "tick": tick,
        "command": command,
        "status": status,
        "snapshot": snapshot,
        "recent": recent,
    }
    return {name: bind(fn) for name, fn in table.items()}


HANDLERS: dict[str, Handler] = _handlers()
"""``python -m plugins.worker_main plugins.app_worker:HANDLERS``."""


__all__ = [
    "HANDLERS",
    "WorkerStateError",
    "context_from_wire",
    "context_wire",
    "decision_wire",
    "output_wire",
]
