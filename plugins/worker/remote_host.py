"""A cooperative's apps seen from the node's trusted side: the host runs in a keyless worker.

:class:`RemoteAppHost` has the interface the cooperative's consumer uses (that of
:class:`~peoplenet.plugins.host.AppHost`), and forwards every call to
``peoplenet.plugins.worker.app_worker`` in a child
process that holds no key and is the only place app code runs; this process never imports an
app.  What only this side has goes with the calls or comes back as callbacks: the fold's view
of the cooperative (sent with a call whenever it changed; ``context`` if the worker lacks it),
signatures (``sign_many``: every block one hook published, in one request; ``sign``: one) and
sealed details opened with the member's key (``unseal``: only the details cross back).

What the governance fold tells the apps during a step of the order (``later_clock``,
``later_decision``, ``later_apply``) is queued, each event with the views that changed before
it, and crosses with the duties after the step in one ``deliver`` call; any other call sends
what is queued first, so the worker hears everything in order.

Signing is decided here, from what the apps declared when the worker started (the contract
``peoplenet apps info`` shows): the block must be on the lace of a declared app of this
cooperative, its payload's record tag must be one the app declared with a purpose, and the
purpose must be automatic or granted by the command the person is running now, one signature
per grant.  A worker that asks for anything else gets :class:`ConsentRefused`, whatever its
own host claimed.

Opening is decided here too (plugins/unsealing.py): only during a call that runs commands or
duties (never the fold), only details sealed for this cooperative and one of its declared apps
(during a command: the command's app), at most ``MAX_UNSEALS_PER_CALL`` per call.

A worker that dies, hangs past the deadline or speaks garbage raises :class:`AppWorkerFailed`:
the consensus actor crashes with it and its supervisor restarts the community, which replays
the cooperative into a fresh worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal, get_args

from peoplenet.actors.work.sealed import Sealed
from peoplenet.plugins.api import (
    AppCommandError,
    ConsentRefused,
    DecisionView,
    FoldContext,
    ParamKind,
    ParamSpec,
)
from peoplenet.plugins.host_api import HostOutput
from peoplenet.plugins.signing import BlockSigner
from peoplenet.plugins.unsealing import (
    MAX_UNSEALS_PER_CALL,
    UnsealRefused,
    check_request,
    unseal_with,
)
from peoplenet.plugins.worker.app_worker import LaceMessageRefused, context_wire, decision_wire
from peoplenet.plugins.worker.channel import CallFailed, WorkerError
from peoplenet.plugins.worker.process import WorkerProcess
from peoplenet.runtime.consensus.consumer import ConsumerBroken
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.lace.app_lace import app_lace_id
from peoplenet.runtime.log import get_logger
from peoplenet.runtime.wire.codec import OpaqueRecord, Record, Value, decode

HANDLERS: Final = "peoplenet.plugins.worker.app_worker:HANDLERS"
CALL_DEADLINE_S: Final = 30.0
"""Longest wait for the worker within one call: its own guard cuts each hook off at 2 s."""

_log = get_logger("peoplenet.plugins.worker.remote_host")


class AppWorkerFailed(WorkerError, ConsumerBroken):
    """The app worker died, hung or broke the protocol; the community must be restarted."""

    reason = "app_worker_failed"


@dataclass(frozen=True, slots=True)
class Declared:
    """One app's signing contract, as it declared it when the worker started."""

    lace: bytes
    purposes: Mapping[int, str]
    """Record tag -> purpose."""
    auto: frozenset[str]
    consent: frozenset[str]
    commands: Mapping[str, tuple[str, ...]]
    """Command -> the purposes it grants."""
    params: tuple[ParamSpec, ...] = ()
    """The parameters ``app`` decisions set (checked here before the worker hears of them)."""


class RemoteAppHost:
    """Every app of one cooperative on this node, run in a keyless worker process."""

    def __init__(
        self,
        community: bytes,
        me: bytes,
        signer: BlockSigner,
        *,
        folder: Path | None,
        context: Callable[[str], FoldContext],
        use_entry_points: bool = True,
        deadline_s: float = CALL_DEADLINE_S,
    ) -> None:
        self.community = community
        self.me = me
        self._signer = signer
        self._context = context
        self._deadline_s = deadline_s
        self._grants: list[str] = []
        self._grant_app = ""
        self._calling = ""
        """The method of the call in progress (``unseal`` is served only for some)."""
        self._unsealed = 0
        self._settings: dict[str, dict[str, Value]] = {}
        self._live = False  # no app enabled yet: fold and lace events need no call
        self._use_entry_points = use_entry_points
        self._folder = folder
        self._members: tuple[bytes, ...] = ()
        self._sent_contexts: dict[str, Value] = {}
        """The fold view last sent per app: a call carries only the ones that changed."""
        self._seen_contexts: dict[str, FoldContext] = {}
        """The view object last compared per app (a context callable may hand out the same
        object while the state stands still: then nothing is built or compared)."""
        self._proc: WorkerProcess | None = None
        self._declared: dict[str, Declared] | None = None
        self.broken: list[tuple[str, str]] = []
        self._queued: list[Value] = []
        """What the fold told the apps since the last ``deliver`` call, each event with the
        views that changed before it (sent in one call: :meth:`deliver`)."""
        self._queued_size = 0
        self._done: list[dict[str, Value]] = []
        """The results of the ``apply`` events already sent (a batch too big for one frame)."""

    @property
    def declared(self) -> dict[str, Declared]:
        """Every installed app's signing contract (starts the worker on first use)."""
        self._ensure()
        assert self._declared is not None
        return self._declared

    def _ensure(self) -> WorkerProcess:
        """The worker, started on first need: a cooperative that never enables an app never
        pays for a process."""
        if self._proc is not None:
            return self._proc
        self._proc = WorkerProcess(HANDLERS)
        self._sent_contexts, self._seen_contexts = {}, {}
        start: Value = {
            "community": self.community,
            "me": self.me,
            "folder": str(self._folder) if self._folder is not None else None,
            "entry_points": self._use_entry_points,
        }
        answer = self._call("start", start)
        self._declared = _parse_declaration(self.community, answer)
        self.broken = _broken(answer)
        if self._members:
            self._call("set_members", {"members": self._members})
        return self._proc

    # -- the channel ----------------------------------------------------------------------------

    def _call(self, method: str, args: Value) -> Value:
        if self._queued and method != "deliver":  # what the fold told the apps comes first
            self._send_queued(None)
        proc = self._proc if method == "start" else self._ensure()
        assert proc is not None
        if method in _WITH_CONTEXT and isinstance(args, dict):
            changed = self._changed_contexts()
            if changed:
                args = {**args, "contexts": changed}
        self._calling, self._unsealed = method, 0
        try:
            return proc.call(
                method,
                args,
                deadline_s=self._deadline_s,
                callbacks=self._callbacks,
            )
        except CallFailed as exc:
            if exc.kind == "AppCommandError":
                reason, _, detail = exc.detail.partition(": ")
                raise AppCommandError(reason, detail) from None
            if exc.kind == LaceMessageRefused.__name__:  # a peer's fault: the worker is fine
                reason, _, detail = exc.detail.partition(": ")
                raise RemoteProtocolError(reason, detail) from None
            _log.error("app_worker_call_failed", method=method, kind=exc.kind, detail=exc.detail)
            proc.kill()  # the host itself failed: a fresh worker replays from a clean slate
            raise AppWorkerFailed(f"{method}: {exc}") from None
        except WorkerError as exc:
            _log.error("app_worker_failed", method=method, error=str(exc))
            proc.kill()
            raise AppWorkerFailed(f"{method}: {exc}") from None
        finally:
            self._calling = ""

    @property
    def _callbacks(self) -> dict[str, Callable[[Value], Value]]:
        return {
            "context": self._on_context,
            "sign": self._on_sign,
            "sign_many": self._on_sign_many,
            "unseal": self._on_unseal,
        }

    def _changed_contexts(self) -> dict[str, Value]:
        """Each installed app's fold view, where it differs from the one the worker holds."""
        changed: dict[str, Value] = {}
        sent, seen = self._sent_contexts, self._seen_contexts
        for name in self._declared or {}:
            ctx = self._context(name)
            last = seen.get(name)
            if last is ctx:  # the very view already compared: nothing to send
                continue
            seen[name] = ctx
            held = sent.get(name)
            if last is not None and isinstance(held, dict) and _same_but_time(last, ctx):
                if last.now_ms != ctx.now_ms:  # the usual change: only the time moved
                    sent[name] = {**held, "now_ms": ctx.now_ms}
                    changed[name] = ctx.now_ms
                continue
            wire = context_wire(ctx)
            if held != wire:
                sent[name] = changed[name] = wire
        return changed

    def _on_context(self, name: Value) -> Value:
        if not isinstance(name, str) or name not in (self._declared or {}):
            raise ConsentRefused(f"no context for {name!r}: not an installed app")
        return context_wire(self._context(name))

    def _on_sign(self, args: Value) -> Value:
        """Sign one block for the worker, if the member's rules allow it (see the module)."""
        if not isinstance(args, dict):
            raise ConsentRefused("malformed signing request")
        lace, payload, pointers = args.get("lace"), args.get("payload"), args.get("pointers")
        if not isinstance(lace, bytes) or not isinstance(pointers, tuple):
            raise ConsentRefused("malformed signing request")
        if not all(isinstance(p, bytes) for p in pointers):
            raise ConsentRefused("malformed pointers")
        known = self._declared or {}
        app = next((n for n, d in known.items() if d.lace == lace), None)
        if app is None:
            raise ConsentRefused("not the lace of an app of this cooperative")
        declared = known[app]
        tag = _tag(payload)
        purpose = declared.purposes.get(tag) if tag is not None else None
        if purpose is None:
            raise ConsentRefused(f"{app} declared no purpose for record tag {tag}")
        if purpose not in declared.auto:
            if self._grant_app != app or purpose not in self._grants:
                raise ConsentRefused(f"no consent to sign {purpose!r} for {app} now")
            self._grants.remove(purpose)  # one signature per grant
        pointer_ids = tuple(p for p in pointers if isinstance(p, bytes))
        return self._signer.block(lace, payload, pointer_ids).to_bytes()

    def _on_sign_many(self, args: Value) -> Value:
        """Sign every block one hook published, in order, each judged as :meth:`_on_sign`
        judges one; the first refusal ends the batch (those after it are not signed)."""
        if not isinstance(args, tuple):
            raise ConsentRefused("malformed signing request")
        signed: list[Value] = []
        for request in args:
            try:
                signed.append(self._on_sign(request))
            except ConsentRefused as exc:
                return {"blocks": tuple(signed), "refused": str(exc)}
        return {"blocks": tuple(signed), "refused": None}

    def _on_unseal(self, args: Value) -> Value:
        """Open details sealed to the member for the worker, if the rules allow (see the
        module); only the details go back."""
        if self._calling not in _MAY_UNSEAL:
            raise UnsealRefused(f"no sealed details are opened during {self._calling or 'no'} call")
        if not isinstance(args, dict):
            raise UnsealRefused("malformed unseal request")
        raw, context = args.get("sealed"), args.get("context")
        if not isinstance(raw, bytes) or not isinstance(context, bytes):
            raise UnsealRefused("malformed unseal request")
        apps = (self._grant_app,) if self._grant_app else tuple(self._declared or {})
        check_request(context, self.community, apps)
        self._unsealed += 1
        if self._unsealed > MAX_UNSEALS_PER_CALL:
            raise UnsealRefused(f"more than {MAX_UNSEALS_PER_CALL} sealed records in one call")
        sealed = decode(raw, max_size=MAX_SEALED_SIZE)
        if not isinstance(sealed, Sealed):
            raise UnsealRefused(f"not a sealed record: {type(sealed).__name__}")
        return unseal_with(self._signer, self.me, sealed, context)

    # -- the fold side --------------------------------------------------------------------------

    def app_names(self) -> list[str]:
        return sorted(self.declared)

    def params(self, name: str) -> tuple[ParamSpec, ...] | None:
        declared = self.declared.get(name)
        return None if declared is None else declared.params

    def settings(self, name: str) -> dict[str, Value]:
        return dict(self._settings.get(name, {}))

    def app_changed(self, name: str, enabled: bool, given: Value, action: Value) -> None:
        settings = self._call(
            "app_changed", {"name": name, "enabled": enabled, "settings": given, "action": action}
        )
        self._settings[name] = dict(settings) if isinstance(settings, dict) else {}
        self._live = True

    def apply_tx(self, name: str, body: bytes, ctx: FoldContext) -> dict[str, Value]:
        result = self._call("apply_tx", {"name": name, "body": body, "ctx": context_wire(ctx)})
        if not isinstance(result, dict):
            raise AppWorkerFailed("apply_tx answered no result")
        return result

    def clock(self) -> None:
        if self._live:
            self._call("clock", {})

    def decision(self, view: DecisionView) -> None:
        if self._live:
            self._call("decision", {"decision": decision_wire(view)})

    # -- one ordered delivery, one call ---------------------------------------------------------

    def later_clock(self) -> None:
        """:meth:`clock`, sent with the rest of the delivery (:meth:`deliver`)."""
        if self._live:
            self._queue({"kind": "clock"})

    def later_decision(self, view: DecisionView) -> None:
        """:meth:`decision`, sent with the rest of the delivery (:meth:`deliver`)."""
        if self._live:
            self._queue({"kind": "decision", "decision": decision_wire(view)})

    def later_apply(
        self, name: str, body: bytes, sender: bytes, position: tuple[int, int], beacon: bytes
    ) -> None:
        """:meth:`apply_tx`, sent with the rest of the delivery; its result comes back from
        :meth:`deliver`, in the order of the ``later_apply`` calls.  An installed app's
        transaction carries only what its view lacks (sender, position, beacon): the worker
        completes it from the view it holds, as the call carried it."""
        declared = self.declared
        event: dict[str, Value] = {"kind": "apply", "name": name, "body": body}
        if name in declared:
            event.update(sender=sender, position=position, beacon=beacon)
        else:  # no view is sent for it: the whole context goes
            ctx = replace(self._context(name), sender=sender, position=position, beacon=beacon)
            event["ctx"] = context_wire(ctx)
            self._queued_size += _view_bytes(ctx)
        self._queue(event)
        self._queued_size += len(body)

    def _queue(self, event: dict[str, Value]) -> None:
        """One event, with the fold views that changed since the event before it (as the call
        of its own would have carried them)."""
        changed = self._changed_contexts()
        if changed:
            event["contexts"] = changed
            seen = self._seen_contexts
            self._queued_size += sum(_view_bytes(seen[name]) for name in changed)
        self._queued.append(event)
        self._queued_size += _EVENT_BYTES
        if self._queued_size > MAX_BATCH_BYTES:  # a long replay: in frames well under the limit
            self._send_queued(None)

    def deliver(self, now_ms: int | None) -> tuple[list[dict[str, Value]], HostOutput]:
        """Everything queued since the last call (the clock moves, closed decisions and app
        transactions of one delivery, in order), then the duties at ``now_ms`` if given: one
        call to the worker.  The results of the ``apply`` events, in order, and what the
        duties ask of the node."""
        due = self._queued or (now_ms is not None and self._live)
        out = self._send_queued(now_ms) if due else None
        done, self._done = self._done, []
        return done, HostOutput() if out is None else out

    def _send_queued(self, now_ms: int | None) -> HostOutput | None:
        events, self._queued, self._queued_size = tuple(self._queued), [], 0
        args: dict[str, Value] = {"events": events}
        if now_ms is not None and self._live:
            duties: dict[str, Value] = {"now_ms": now_ms}
            changed = self._changed_contexts()
            if changed:
                duties["contexts"] = changed
            args["duties"] = duties
        answer = self._call("deliver", args)
        if not isinstance(answer, dict):
            raise AppWorkerFailed("deliver answered no result")
        results = answer.get("results")
        applies = sum(1 for e in events if isinstance(e, dict) and e.get("kind") == "apply")
        if not isinstance(results, tuple) or len(results) != applies:
            raise AppWorkerFailed("deliver answered another number of results")
        for result in results:
            if not isinstance(result, dict):
                raise AppWorkerFailed("apply_tx answered no result")
            self._done.append(result)
        return _output(answer.get("out")) if "duties" in args else None

    def set_members(self, members: Iterable[bytes]) -> None:
        self._members = tuple(sorted(members))
        if self._proc is not None:
            self._call("set_members", {"members": self._members})

    # -- the app laces and the node -------------------------------------------------------------

    def laces(self) -> tuple[bytes, ...]:
        if not self._live:
            return ()
        laces = self._call("laces", {})
        return tuple(x for x in laces if isinstance(x, bytes)) if isinstance(laces, tuple) else ()

    def receive_then_duties(self, peer: bytes, data: bytes, now_ms: int) -> HostOutput:
        """The message's bytes cross as they arrived: the worker decodes them, once."""
        if not self._live:
            return HostOutput()
        args: Value = {"peer": peer, "msg": data, "now_ms": now_ms}
        return _output(self._call("receive_then_duties", args))

    def peer_up(self, peer: bytes, now_ms: int) -> HostOutput:
        if not self._live:
            return HostOutput()
        return _output(self._call("peer_up", {"peer": peer, "now_ms": now_ms}))

    def duties(self, now_ms: int) -> HostOutput:
        if not self._live:
            return HostOutput()
        return _output(self._call("duties", {"now_ms": now_ms}))

    def tick(self, now_ms: int) -> HostOutput:
        if not self._live:
            return HostOutput()
        return _output(self._call("tick", {"now_ms": now_ms}))

    def command(
        self, name: str, op: str, args: Mapping[str, Value], now_ms: int
    ) -> tuple[Value, HostOutput]:
        declared = self.declared.get(name)
        if declared is None:
            raise AppCommandError("unknown_app", f"no app {name!r} is installed")
        self._grant_app, self._grants = name, list(declared.commands.get(op, ()))
        try:
            answer = self._call(
                "command", {"name": name, "command": op, "args": dict(args), "now_ms": now_ms}
            )
        finally:
            self._grant_app, self._grants = "", []
        if not isinstance(answer, dict):
            raise AppWorkerFailed("command answered no result")
        return answer.get("result"), _output(answer.get("out"))

    def status(self, name: str) -> dict[str, Value]:
        status = self._call("status", {"name": name})
        return dict(status) if isinstance(status, dict) else {"name": name}

    def snapshot(self, name: str) -> Value:
        return self._call("snapshot", {"name": name})

    def recent(self, name: str) -> list[dict[str, Value]]:
        rows = self._call("recent", {"name": name})
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, tuple) else []

    @property
    def worker_pid(self) -> int | None:
        """The worker's PID once started (benchmarks add its CPU time to the node's)."""
        return self._proc.pid if self._proc is not None else None

    def close(self) -> None:
        if self._proc is not None:
            self._proc.close()


_MAY_UNSEAL: Final = frozenset(
    {"receive_then_duties", "peer_up", "duties", "tick", "command", "deliver"}
)  # fmt: skip
"""The calls that run commands or duties, the only hooks with a NodeContext (never the fold:
``deliver`` runs fold hooks too, but they hold no NodeContext to ask with; only the duties
after them can)."""
MAX_SEALED_SIZE: Final = 16_384
"""Larger than any well-formed :class:`Sealed` record (limits in actors/work/sealed.py)."""

MAX_BATCH_BYTES: Final = 1024 * 1024
"""About how much one ``deliver`` call carries at most (a frame holds up to 4 MiB)."""
_EVENT_BYTES: Final = 256
_VIEW_BYTES: Final = 512
_MEMBER_BYTES: Final = 40
_OFFICER_BYTES: Final = 112
"""Estimates of an event's size on the wire: its frame, a view, a member in a view, an office
in a view (a role's name of up to 64 characters and its holder's id)."""


def _view_bytes(ctx: FoldContext) -> int:
    """About what a view takes on the wire (to cut a long replay into frames)."""
    return _VIEW_BYTES + _MEMBER_BYTES * len(ctx.members) + _OFFICER_BYTES * len(ctx.officers)


_WITH_CONTEXT: Final = frozenset(
    {"app_changed", "apply_tx", "clock", "decision", "receive_then_duties", "peer_up",
     "duties", "tick", "command"}
)  # fmt: skip
"""The calls that may run an app's hooks: they carry the fold views that changed."""


def _same_but_time(a: FoldContext, b: FoldContext) -> bool:
    """Whether two views differ at most in their time (the worker then gets the time alone)."""
    return (
        a.members == b.members
        and a.settings == b.settings
        and a.rates == b.rates
        and a.community == b.community
        and a.sender == b.sender
        and a.position == b.position
        and a.beacon == b.beacon
        and a.officers == b.officers
    )


def _tag(payload: Value) -> int | None:
    if isinstance(payload, OpaqueRecord):
        return payload.tag
    if isinstance(payload, Record):
        return payload.wire_tag
    return None


def _output(value: Value) -> HostOutput:
    if value is None:  # nothing to do
        return HostOutput()
    if not isinstance(value, dict):
        raise AppWorkerFailed("malformed host output")
    submit = value.get("submit", ())
    msgs = value.get("msgs", ())
    sends = value.get("sends", ())
    wake = value.get("wake_at_ms")
    if not isinstance(submit, tuple) or not isinstance(sends, tuple) or not isinstance(msgs, tuple):
        raise AppWorkerFailed("malformed host output")
    out = HostOutput()
    out.submit = [tx for tx in submit if isinstance(tx, Record)]
    for item in sends:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bytes)):
            continue
        place = item[1]
        if isinstance(place, int) and not isinstance(place, bool):  # a message in ``msgs``
            if not 0 <= place < len(msgs):
                raise AppWorkerFailed("malformed host output")
            out.sends.append((item[0], msgs[place]))
        else:
            out.sends.append((item[0], place))
    out.wake_at_ms = wake if isinstance(wake, int) and not isinstance(wake, bool) else None
    return out


def _parse_declaration(community: bytes, value: Value) -> dict[str, Declared]:
    if not isinstance(value, dict) or not isinstance(value.get("apps"), dict):
        raise AppWorkerFailed("the worker declared no apps")
    apps = value["apps"]
    assert isinstance(apps, dict)
    out: dict[str, Declared] = {}
    for name, d in apps.items():
        if not isinstance(d, dict):
            raise AppWorkerFailed(f"malformed declaration of {name!r}")
        records = d.get("lace_records", ())
        commands = d.get("commands", {})
        if not isinstance(records, tuple) or not isinstance(commands, dict):
            raise AppWorkerFailed(f"malformed declaration of {name!r}")
        purposes = {
            int(tag): str(purpose)
            for tag, purpose in (r for r in records if isinstance(r, tuple) and len(r) == 2)
            if isinstance(tag, int) and isinstance(purpose, str)
        }
        out[name] = Declared(
            lace=bytes(app_lace_id(community, name)),
            purposes=purposes,
            auto=frozenset(str(p) for p in _seq(d.get("auto"))),
            consent=frozenset(str(p) for p in _seq(d.get("consent"))),
            commands={str(c): tuple(str(p) for p in _seq(g)) for c, g in commands.items()},
            params=tuple(_param(name, p) for p in _seq(d.get("params"))),
        )
    return out


def _param(app: str, value: Value) -> ParamSpec:
    """A parameter as the worker declared it (the worker runs app code: checked here)."""
    if isinstance(value, dict):
        name, kind, choices = value.get("name"), value.get("kind"), value.get("choices", ())
        low, high = _bound(value.get("minimum")), _bound(value.get("maximum"))
        summary = value.get("summary", "")
        if (
            isinstance(name, str)
            and isinstance(summary, str)
            and kind in get_args(ParamKind)
            and isinstance(choices, tuple)
            and all(isinstance(c, str) for c in choices)
            and low is not False
            and high is not False
        ):
            return ParamSpec(
                name,
                kind,  # type: ignore[arg-type]  # checked: one of get_args(ParamKind)
                value.get("default"),
                summary,
                low,
                high,
                tuple(str(c) for c in choices),
            )
    raise AppWorkerFailed(f"malformed parameter of {app!r}: {value!r}")


def _bound(value: Value) -> int | str | Literal[False] | None:
    """A declared bound, or False if it is not one."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return False


def _broken(value: Value) -> list[tuple[str, str]]:
    rows = value.get("broken", ()) if isinstance(value, dict) else ()
    return [(str(r[0]), str(r[1])) for r in _seq(rows) if isinstance(r, tuple) and len(r) == 2]


def _seq(value: Value) -> tuple[Value, ...]:
    return value if isinstance(value, tuple) else ()


__all__ = ["CALL_DEADLINE_S", "AppWorkerFailed", "Declared", "RemoteAppHost"]
