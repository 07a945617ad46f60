"""A cooperative's apps inside the keyless worker process: :class:`AppHost` behind the channel.

The node's trusted side (``peoplenet.plugins.worker.remote_host``, next) starts the worker with
``peoplenet.plugins.worker.app_worker:HANDLERS`` and drives it call by call; everything here runs
app code and
holds no key.  Three things only the trusted side has come back as callbacks during a call:
``context`` (the cooperative's fold view for an app), ``sign_many`` (the blocks a hook
published, signed only if the member's consent rules allow it) and ``unseal`` (details sealed
to the member, opened by the node: only the details come back, never a key).  Arguments and
results cross as codec values; the ``*_wire`` helpers are the one place their shapes are
written.

Round trips are what a crossing costs, so the node sends each app's fold view with the call
whenever it changed (``contexts``: the worker keeps the last one; the ``context`` callback is
left for a view it never sent), and the blocks one hook published cross in one ``sign_many``
request when it returns (their ids, which ``publish`` answers at once, need no key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from peoplenet.actors.work.sealed import Sealed
from peoplenet.plugins.api import ConsentRefused, DecisionView, FoldContext, ParamSpec
from peoplenet.plugins.host import AppHost
from peoplenet.plugins.host_api import HostOutput
from peoplenet.plugins.manager import load_apps
from peoplenet.plugins.signing import SignRequest
from peoplenet.plugins.unsealing import refusal as unseal_refusal
from peoplenet.plugins.worker.serve import Back, CallbackRefused, Handler, Handlers
from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.lace.app_lace import LaceBlocks, LaceHave, decode_lace_message
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.wire.codec import Value, encode


class WorkerStateError(LocalError):
    """A call came before ``start`` (or ``start`` came twice): the node's fault."""

    reason = "worker_state_error"


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
        "beacon": ctx.beacon,
        "officers": dict(ctx.officers),
    }


def context_from_wire(value: Value) -> FoldContext:
    v = _map(value, "context")
    members = v["members"]
    position = v["position"]
    if not isinstance(members, tuple) or not isinstance(position, tuple) or len(position) != 2:
        raise WorkerStateError("malformed context")
    rates = _map(v["rates"], "rates")
    officers = _map(v.get("officers", {}), "officers")
    return FoldContext(
        community=_bytes(v["community"]),
        now_ms=_int(v["now_ms"]),
        members=frozenset(_bytes(m) for m in members),
        settings=_map(v["settings"], "settings"),
        rates={k: str(r) for k, r in rates.items()},
        sender=_bytes(v["sender"]),
        position=(_int(position[0]), _int(position[1])),
        beacon=_bytes(v.get("beacon", b"")),
        officers={_str(role): _bytes(holder) for role, holder in officers.items()},
    )


def param_wire(p: ParamSpec) -> Value:
    """A parameter's declaration, for the node to check ``app`` decisions against."""
    return {
        "name": p.name,
        "kind": p.kind,
        "default": p.default,
        "summary": p.summary,
        "minimum": p.minimum,
        "maximum": p.maximum,
        "choices": p.choices,
    }


def decision_wire(view: DecisionView) -> Value:
    return {
        "number": view.number,
        "kind": view.kind,
        "subject": view.subject,
        "adopted": view.adopted,
        "outcome": view.outcome,
    }


def output_wire(out: HostOutput) -> Value:
    """The host's output; a message pushed to several members crosses once (``msgs``), each
    send naming it by its place there; nothing to do crosses as None (most calls)."""
    if not out.submit and not out.sends and out.wake_at_ms is None:
        return None
    msgs: list[Value] = []
    places: dict[int, int] = {}
    sends: list[Value] = []
    for peer, msg in out.sends:
        place = places.get(id(msg))
        if place is None:
            place = places[id(msg)] = len(msgs)
            msgs.append(msg)
        sends.append((peer, place))
    return {
        "submit": tuple(out.submit),
        "msgs": tuple(msgs),
        "sends": tuple(sends),
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


class LaceMessageRefused(RemoteProtocolError):
    """A peer's app-lace message the worker cannot decode: the node reports the peer, the worker
    lives on (it crosses by this class's name and becomes a plain RemoteProtocolError)."""


@dataclass(slots=True)
class _Worker:
    host: AppHost | None = None
    back: Back | None = None
    contexts: dict[str, FoldContext] = field(default_factory=dict)
    """The fold's view per app, with its settings, once per call: it cannot change while the
    node waits."""
    sent: dict[str, FoldContext] = field(default_factory=dict)
    """The views the node sent with its calls (each kept until it sends a newer one)."""
    views: dict[str, tuple[FoldContext, object, FoldContext]] = field(default_factory=dict)
    """Per app, the last sent view, the settings it was completed with and the result: the
    same view serves the calls that follow until the node sends a newer one or the settings
    change (as the node's side shares one view per state of the fold)."""

    def context(self, name: str) -> FoldContext:
        ctx = self.contexts.get(name)
        if ctx is None:
            base = self.sent.get(name)
            if base is None:
                base = context_from_wire(self.call_back("context", name))
            host = self.need()
            inst = host.instances.get(name)
            settings = inst.settings if inst is not None else None
            kept = self.views.get(name)
            if kept is not None and kept[0] is base and kept[1] is settings:
                ctx = kept[2]
            else:
                ctx = replace(base, settings=host.settings(name))
                if settings is not None:
                    self.views[name] = (base, settings, ctx)
            self.contexts[name] = ctx
        return ctx

    def take_contexts(self, value: Value) -> None:
        """The views that came with a call (``contexts``: app name -> :func:`context_wire`, or
        the time alone when only the time of the view held moved)."""
        for name, wire in _map(value, "contexts").items():
            if isinstance(wire, int) and not isinstance(wire, bool):
                held = self.sent.get(name)
                if held is None:
                    raise WorkerStateError(f"a new time for {name!r}, but no view of it")
                self.sent[name] = replace(held, now_ms=wire)
            else:
                self.sent[name] = context_from_wire(wire)

    def call_back(self, method: str, args: Value) -> Value:
        if self.back is None:
            raise WorkerStateError(f"{method} outside a call")
        return self.back(method, args)

    def close(self) -> None:
        """The worker ends: close the host, and so the apps' stores (their write-ahead logs
        are checkpointed into the main files)."""
        host, self.host = self.host, None
        if host is not None:
            host.close()

    def need(self) -> AppHost:
        if self.host is None:
            raise WorkerStateError("start the worker first")
        return self.host


class _CallbackSigner:
    """The host's signer: asks the node, which signs only what the member's rules allow."""

    def __init__(self, worker: _Worker) -> None:
        self._worker = worker

    def block(self, lace: bytes, payload: Value, pointers: tuple[bytes, ...]) -> Block:
        try:
            raw = self._worker.call_back(
                "sign", {"lace": lace, "payload": payload, "pointers": pointers}
            )
        except CallbackRefused as exc:
            if exc.kind == "ConsentRefused":  # the documented refusal, as the app expects it
                raise ConsentRefused(exc.detail) from None
            raise
        block = Block.from_bytes(_bytes(raw))
        if block.lace != lace or block.payload != payload or tuple(block.pointers) != pointers:
            raise WorkerStateError("the node signed something else than asked")
        return block

    def unseal(self, sealed: Sealed, context: bytes) -> bytes:
        """Sealed details opened by the node (it holds the key; only the details come back),
        its refusals raised as the classes the app expects."""
        try:
            plain = self._worker.call_back("unseal", {"sealed": encode(sealed), "context": context})
        except CallbackRefused as exc:
            typed = unseal_refusal(exc.kind, exc.detail)
            if typed is not None:
                raise typed from None
            raise
        return _bytes(plain)

    def blocks(self, requests: Sequence[SignRequest]) -> tuple[list[Block], ConsentRefused | None]:
        """Every block a hook published, in one request; the node stops at its first refusal."""
        asked: Value = tuple(
            {"lace": r.lace, "payload": r.payload, "pointers": r.pointers} for r in requests
        )
        try:
            answer = _map(self._worker.call_back("sign_many", asked), "signatures")
        except CallbackRefused as exc:
            if exc.kind == "ConsentRefused":  # the node refused the request as a whole
                return [], ConsentRefused(exc.detail)
            raise
        raws, refused = answer.get("blocks"), answer.get("refused")
        if not isinstance(raws, tuple) or not (refused is None or isinstance(refused, str)):
            raise WorkerStateError("malformed signatures")
        if len(raws) > len(requests) or (refused is None and len(raws) != len(requests)):
            raise WorkerStateError("the node answered another number of blocks")
        blocks = []
        for raw, r in zip(raws, requests, strict=False):
            if r.unsigned is not None:  # what was asked, byte for byte, but the signature
                signed = r.unsigned.signed_as(_bytes(raw))
                if signed is None:
                    raise WorkerStateError("the node signed something else than asked")
                blocks.append(signed)
                continue
            block = Block.from_bytes(_bytes(raw))
            if block.lace != r.lace or block.payload != r.payload or bytes(block.id) != r.id:
                raise WorkerStateError("the node signed something else than asked")
            blocks.append(block)
        return blocks, None if refused is None else ConsentRefused(refused)


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
            "params": tuple(param_wire(p) for p in spec.params),
        }
    broken = tuple((b.source, b.reason) for b in host.registry.broken)
    return {"apps": apps, "broken": broken}


class _Calls:
    """The worker's methods; each takes the call's arguments as a map."""

    def __init__(self, worker: _Worker) -> None:
        self.w = worker

    def start(self, a: dict[str, Value]) -> Value:
        if self.w.host is not None:
            raise WorkerStateError("already started")
        folder = a.get("folder")
        registry = load_apps(use_entry_points=bool(a.get("entry_points", True)))
        self.w.host = AppHost(
            registry,
            _bytes(a["community"]),
            _bytes(a["me"]),
            _CallbackSigner(self.w),
            folder=Path(_str(folder)) if folder is not None else None,
            context=self.w.context,
        )
        return _declaration(self.w.host)

    def app_changed(self, a: dict[str, Value]) -> Value:
        host, name = self.w.need(), _str(a["name"])
        host.app_changed(name, bool(a["enabled"]), a.get("settings"), a.get("action"))
        return host.settings(name)

    def apply_tx(self, a: dict[str, Value]) -> Value:
        host, name = self.w.need(), _str(a["name"])
        # The node's side does not know an app's settings with their defaults; the host does.
        ctx = replace(context_from_wire(a["ctx"]), settings=host.settings(name))
        return host.apply_tx(name, _bytes(a["body"]), ctx)

    def decision(self, a: dict[str, Value]) -> Value:
        d = _map(a["decision"], "decision")
        view = DecisionView(
            _int(d["number"]), _str(d["kind"]), _str(d["subject"]), bool(d["adopted"]), d["outcome"]
        )
        self.w.need().decision(view)
        return None

    def clock(self, a: dict[str, Value]) -> Value:
        self.w.need().clock()
        return None

    def deliver(self, a: dict[str, Value]) -> Value:
        """One ordered delivery: its events in order, each with the views that changed before
        it, then the duties if asked; the ``apply`` events' results in order, and the duties'
        output (the node's :meth:`RemoteAppHost.deliver`)."""
        events, results = a.get("events", ()), []
        if not isinstance(events, tuple):
            raise WorkerStateError("events is a list")
        # Clock and decision hooks wait for their app's next visit: an app transaction's
        # check and apply come with them, one visit where it was three.
        with self.w.need().deferring():
            for value in events:
                event = _map(value, "event")
                self._views_of(event)
                kind = event.get("kind")
                if kind == "apply":
                    results.append(self._apply(event))
                elif kind == "clock":
                    self.clock(event)
                elif kind == "decision":
                    self.decision(event)
                else:
                    raise WorkerStateError(f"unknown event {kind!r}")
        duties = a.get("duties")
        out: Value = None
        if duties is not None:
            given = _map(duties, "duties")
            self._views_of(given)
            out = self.duties(given)
        return {"results": tuple(results), "out": out}

    def _apply(self, event: dict[str, Value]) -> Value:
        """An ``apply`` event: with its whole context, or with what completes the view."""
        if "ctx" in event:
            return self.apply_tx(event)
        host, name = self.w.need(), _str(event["name"])
        position = event["position"]
        if not isinstance(position, tuple) or len(position) != 2:
            raise WorkerStateError("malformed position")
        ctx = replace(
            self.w.context(name),
            sender=_bytes(event["sender"]),
            position=(_int(position[0]), _int(position[1])),
            beacon=_bytes(event["beacon"]),
        )
        return host.apply_tx(name, _bytes(event["body"]), ctx)

    def _views_of(self, given: dict[str, Value]) -> None:
        """The views an event carries, in force from it on (the ones before it are stale)."""
        if "contexts" in given:
            self.w.take_contexts(given["contexts"])
        self.w.contexts.clear()

    def set_members(self, a: dict[str, Value]) -> Value:
        members = a["members"]
        if not isinstance(members, tuple):
            raise WorkerStateError("members is a list")
        self.w.need().set_members(_bytes(m) for m in members)
        return None

    def laces(self, a: dict[str, Value]) -> Value:
        return self.w.need().laces()

    def receive_then_duties(self, a: dict[str, Value]) -> Value:
        host = self.w.need()
        return output_wire(
            host.receive_then_duties(_bytes(a["peer"]), _lace_msg(a), _int(a["now_ms"]))
        )

    def peer_up(self, a: dict[str, Value]) -> Value:
        return output_wire(self.w.need().peer_up(_bytes(a["peer"]), _int(a["now_ms"])))

    def duties(self, a: dict[str, Value]) -> Value:
        return output_wire(self.w.need().duties(_int(a["now_ms"])))

    def tick(self, a: dict[str, Value]) -> Value:
        return output_wire(self.w.need().tick(_int(a["now_ms"])))

    def command(self, a: dict[str, Value]) -> Value:
        given = _map(a.get("args", {}), "args")
        result, out = self.w.need().command(
            _str(a["name"]), _str(a["command"]), given, _int(a["now_ms"])
        )
        return {"result": result, "out": output_wire(out)}

    def status(self, a: dict[str, Value]) -> Value:
        return self.w.need().status(_str(a["name"]))

    def snapshot(self, a: dict[str, Value]) -> Value:
        return self.w.need().snapshot(_str(a["name"]))

    def recent(self, a: dict[str, Value]) -> Value:
        return tuple(self.w.need().recent(_str(a["name"])))


def _lace_msg(a: dict[str, Value]) -> LaceBlocks | LaceHave:
    """The peer's message, decoded here, the one place on its way from the network."""
    data = a["msg"]
    if not isinstance(data, bytes):
        raise WorkerStateError("a lace message crosses as its bytes")
    try:
        return decode_lace_message(data)
    except RemoteProtocolError as exc:
        raise LaceMessageRefused(exc.reason, exc.detail) from None


METHODS: Final = (
    "start", "app_changed", "apply_tx", "decision", "clock", "deliver", "set_members", "laces",
    "receive_then_duties", "peer_up", "duties", "tick", "command", "status", "snapshot", "recent",
)  # fmt: skip


def _handlers() -> Handlers:
    worker = _Worker()
    calls = _Calls(worker)

    def bind(fn: Callable[[dict[str, Value]], Value]) -> Handler:
        def handler(args: Value, back: Back) -> Value:
            worker.back = back
            worker.contexts.clear()
            try:
                given = _map(args, "arguments") if args is not None else {}
                if "contexts" in given:
                    worker.take_contexts(given["contexts"])
                return fn(given)
            finally:
                worker.back = None
                worker.contexts.clear()

        return handler

    return Handlers({name: bind(getattr(calls, name)) for name in METHODS}, worker.close)


HANDLERS: Handlers = _handlers()
"""``python -m peoplenet.plugins.worker peoplenet.plugins.worker.app_worker:HANDLERS``."""


__all__ = [
    "HANDLERS",
    "LaceMessageRefused",
    "WorkerStateError",
    "context_from_wire",
    "context_wire",
    "decision_wire",
    "output_wire",
    "param_wire",
]
