"""One ordered delivery, one call to the worker: what it gives is what one call per event gave.

The node queues what its governance fold tells the apps (clock moves, closed decisions, app
transactions) and sends a step of the order in one ``deliver`` call with the duties after it
(:meth:`RemoteAppHost.deliver`).  Here the worker's side runs a delivery both ways -- as one
``deliver`` and as one call per event, the path it replaces -- and must give the same results in
the same order, the same fault and the same states; and a node restarted on its stored apps
replays the order, in as many calls as the frames need, to the very results and states.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.coop.consumer import CoopConsumer
from peoplenet.bench import rides
from peoplenet.bench.coop_net import CoopNet
from peoplenet.plugins import guard as guard_module
from peoplenet.plugins.api import DecisionView, FoldContext, hookimpl
from peoplenet.plugins.host import AppHost
from peoplenet.plugins.manager import load_apps
from peoplenet.plugins.worker import remote_host
from peoplenet.plugins.worker.app_worker import (
    WorkerStateError,
    _Calls,
    _Worker,
    context_wire,
    decision_wire,
)
from peoplenet.runtime.consensus.consumer import IdentitySigner
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.wire.codec import Value, encode
from tests.plugin_fixtures import Add, CounterApp, RaisingApp

COMMUNITY = b"f/" + b"\x0b" * 32
ME = Identity.from_seed(b"\x41" * 32)
OTHER = Identity.from_seed(b"\x42" * 32)
MEMBERS = frozenset({bytes(ME.member_id), bytes(OTHER.member_id)})


class TickerApp(CounterApp):
    """A counter whose clock hook always raises: three clock moves fault it."""

    name = "ticker"

    @hookimpl
    def peoplenet_clock(self, state: Any, ctx: FoldContext) -> None:
        raise RuntimeError("tick")


APPS = ("counter", "raiser", "ticker")


def _view(now_ms: int) -> Value:
    return context_wire(FoldContext(COMMUNITY, now_ms, MEMBERS, {}, {"fee": "1/10"}))


@pytest.fixture
def calls() -> Iterator[Any]:
    """A worker's calls over an in-process host with a counter and an app that always raises,
    both enabled (a fresh pair per use)."""
    made: list[AppHost] = []

    def make() -> _Calls:
        registry = load_apps(
            bundled=(),
            use_entry_points=False,
            extra=[("c", CounterApp()), ("r", RaisingApp()), ("t", TickerApp())],
        )
        w = _Worker()
        w.host = AppHost(
            registry, COMMUNITY, bytes(ME.member_id), IdentitySigner(ME), folder=None,
            context=w.context,
        )  # fmt: skip
        made.append(w.host)
        w.take_contexts({name: _view(1_000) for name in APPS})
        w.need().set_members(MEMBERS)
        for name in APPS:
            w.need().app_changed(name, True, {}, None)
        return _Calls(w)

    try:
        yield make
    finally:
        for host in made:
            host.close()


def _apply(name: str, n: int, position: int) -> dict[str, Value]:
    return {
        "kind": "apply",
        "name": name,
        "body": encode(Add(n)),
        "sender": bytes(OTHER.member_id),
        "position": (0, position),
        "beacon": bytes([position]) * 32,
    }


def _delivery() -> list[dict[str, Value]]:
    """A step of the order: clock moves and a closed decision between app transactions, where
    the raiser faults midway (three failures in a row), the counter refuses one, and the ticker
    faults on its third clock move (its transactions after it refused, a malformed one too)."""
    decided = DecisionView(7, "rate", "fee", True, "1/10")

    def clock(now_ms: int) -> dict[str, Value]:
        return {"kind": "clock", "contexts": {name: _view(now_ms) for name in APPS}}

    decision: dict[str, Value] = {"kind": "decision", "decision": decision_wire(decided)}
    events: list[dict[str, Value]] = [clock(2_000), decision]
    script = [("counter", 1), ("raiser", 1), ("ticker", 1), ("counter", 99), ("raiser", 1)]
    script += [("counter", 2), ("raiser", 1), ("raiser", 1), ("counter", 3), ("counter", 0)]
    script += [("raiser", 1), ("ticker", 2)]
    events += [_apply(name, n, i) for i, (name, n) in enumerate(script, start=1)]
    events[5:5] = [clock(2_100)]
    events[9:9] = [clock(2_200)]  # the ticker's third failure: out of service from here
    bad = {**_apply("ticker", 1, len(script) + 1), "body": b"\xc1"}
    return [*events, bad]


def _one_by_one(c: _Calls, events: list[dict[str, Value]], now_ms: int) -> dict[str, Value]:
    """The path ``deliver`` replaces: one call per event, each with its views, then duties."""
    results: list[Value] = []
    for event in events:
        c._views_of(event)
        if event["kind"] == "clock":
            c.clock(event)
        elif event["kind"] == "decision":
            c.decision(event)
        else:
            ctx = c.w.context(str(event["name"]))
            whole = context_wire(ctx)
            assert isinstance(whole, dict)
            whole.update(sender=event["sender"], position=event["position"])
            whole["beacon"] = event["beacon"]
            results.append(c.apply_tx({**event, "ctx": whole}))
    c.w.contexts.clear()
    return {"results": tuple(results), "out": c.duties({"now_ms": now_ms})}


def _states(c: _Calls) -> list[Value]:
    host = c.w.need()
    return [{k: v for k, v in host.status(name).items() if k != "lace"} for name in APPS]


def test_a_delivery_in_one_call_gives_what_a_call_per_event_gave(calls: Any) -> None:
    batched, single = calls(), calls()
    events = _delivery()
    got = batched.deliver({"events": tuple(events), "duties": {"now_ms": 3_000}})
    expected = _one_by_one(single, events, 3_000)
    assert isinstance(got, dict) and isinstance(expected, dict)
    assert got["results"] == expected["results"]
    assert _states(batched) == _states(single)
    assert batched.w.need().snapshot("counter") == {"total": 6, "notes": 0}
    results = got["results"]
    assert isinstance(results, tuple)
    shown = [(r["status"], r.get("reason")) for r in results if isinstance(r, dict)]
    assert shown == [
        ("applied", None),
        ("rejected", "plugin_failed"),
        ("applied", None),  # the ticker, after its first failed clock hook
        ("rejected", "over_step"),  # a refusal mid-batch: the ones after it still apply
        ("rejected", "plugin_failed"),
        ("applied", None),
        ("rejected", "plugin_failed"),  # the third failure in a row faults the raiser ...
        ("rejected", "app_faulted"),  # ... and its transactions after it are refused
        ("applied", None),  # the counter goes on, unaffected
        ("rejected", "bad_amount"),
        ("rejected", "app_faulted"),
        ("rejected", "app_faulted"),  # the ticker's third clock hook faulted it
        ("rejected", "app_faulted"),  # (malformed, but refused as out of service first)
    ]
    assert [r["position"] for r in results if isinstance(r, dict)] == list(range(1, 14))
    ticker = batched.w.need().status("ticker")
    assert str(ticker["faulted"]).startswith("peoplenet_clock: 3 failures in a row")


def test_a_delivery_visits_each_app_s_thread_once_per_transaction(
    calls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clock move, a decision and a transaction of the counter (which has no clock hook): its
    decision hook, check and apply in one visit to its thread, then the duties in one more (a
    visit per hook made it four)."""
    visits: list[str] = []
    post = guard_module._Lane.post

    def counted(lane: Any, item: Any) -> None:
        if item is not None:
            visits.append(type(item).__name__)
        post(lane, item)

    c = calls()
    monkeypatch.setattr(guard_module._Lane, "post", counted)
    events = [*_delivery()[:2], _apply("counter", 1, 1)]
    c.w.need().instances["raiser"].guard.faulted = "out of the way"
    c.w.need().instances["ticker"].guard.faulted = "out of the way"
    got = c.deliver({"events": tuple(events), "duties": {"now_ms": 3_000}})
    assert isinstance(got, dict) and got["results"][0]["status"] == "applied"
    assert len(visits) == 2


def test_a_delivery_sees_the_views_each_event_came_with(calls: Any) -> None:
    """A view sent with an event holds from that event on, not before it."""
    c = calls()
    first = _apply("counter", 1, 1)
    later = {**_apply("counter", 1, 2), "contexts": {"counter": _view(5_000)}}
    seen: list[int] = []
    host = c.w.need()
    apply_tx = host.apply_tx

    def watch(name: str, body: bytes, ctx: FoldContext) -> dict[str, Value]:
        seen.append(ctx.now_ms)
        result: dict[str, Value] = apply_tx(name, body, ctx)
        return result

    host.apply_tx = watch
    c.deliver({"events": (first, later)})
    assert seen == [1_000, 5_000]


def test_a_malformed_delivery_is_refused_typed(calls: Any) -> None:
    c = calls()
    for bad in ({"events": "no"}, {"events": ({"kind": "nap"},)}, {"events": ("text",)}):
        with pytest.raises(WorkerStateError):
            c.deliver(bad)
    broken = {**_apply("counter", 1, 1), "position": (0,)}
    with pytest.raises(WorkerStateError):
        c.deliver({"events": (broken,)})


# -- a node restarted on its stored apps replays the order ------------------------------------


def test_a_restarted_node_replays_to_the_same_results_and_states(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ride trips on three phones; member 0's node then restarts on a copy of its folder and
    replays the whole order in one batch cut into small frames: every transaction's recorded
    result (the apps' included) and every app's state come out the same."""
    told: list[Delivery] = []
    beacons: dict[bytes, bytes] = {}
    delivered = CoopConsumer.delivered

    def recording(
        self: CoopConsumer, deliveries: Any, geneses: Any, now_ms: int, step: Any = None
    ) -> Any:
        if self is net.nodes[0]:
            told.extend(deliveries)
            beacons.update(step or {})
        return delivered(self, deliveries, geneses, now_ms, step)

    monkeypatch.setattr(CoopConsumer, "delivered", recording)
    net = CoopNet(tmp_path / "net", n=3, carry=True)
    try:
        rides._setup(net, 2, "cash")
        for _ in range(2):
            rides._trip(net)
        node = net.nodes[0]
        results = {k: dict(v) for k, v in node.results.items()}
        statuses = [node.apps.host.status(name) for name in ("ride_hailing", "currency")]
        node.close()
        home = tmp_path / "restarted"
        shutil.copytree(net.homes[0], home)
        monkeypatch.setattr(remote_host, "MAX_BATCH_BYTES", 2_000)  # many frames
        again = CoopConsumer(net.genesis, home, IdentitySigner(net.people[0]), apps=net._apps)
        try:
            again.replay([net.genesis], told, beacons)
            assert again.results == results
            replayed = [again.apps.host.status(name) for name in ("ride_hailing", "currency")]
            assert replayed == statuses
            assert any(isinstance(r.get("app"), dict) for r in again.results.values()), (
                "the order holds app transactions"
            )
        finally:
            again.close()
    finally:
        net.close()


# -- a view whose time alone moved crosses as its time ---------------------------------------


def test_a_view_whose_time_alone_moved_crosses_as_the_time(tmp_path: Path) -> None:
    """The node sends the time alone when nothing else of an app's view changed (most
    deliveries), the whole view otherwise; the worker ends up holding the very same views."""
    views: dict[str, FoldContext] = {}
    host = remote_host.RemoteAppHost(
        COMMUNITY, bytes(ME.member_id), IdentitySigner(ME), folder=tmp_path,
        context=lambda name: views[name],
    )  # fmt: skip
    host._declared = {"counter": remote_host.Declared(b"", {}, frozenset(), frozenset(), {})}
    worker = _Worker()
    base = FoldContext(COMMUNITY, 1_000, MEMBERS, {"step": 5}, {"fee": "1/10"})
    steps = [
        base,
        FoldContext(COMMUNITY, 2_000, MEMBERS, {"step": 5}, {"fee": "1/10"}),  # time alone
        FoldContext(COMMUNITY, 2_000, MEMBERS, {"step": 5}, {"fee": "1/10"}),  # nothing
        FoldContext(COMMUNITY, 3_000, MEMBERS, {"step": 5}, {"fee": "1/5"}),  # a rate too
        FoldContext(COMMUNITY, 4_000, frozenset({bytes(ME.member_id)}), {"step": 5}, {}),
    ]
    sent: list[Value] = []
    for view in steps:
        views["counter"] = view
        changed = host._changed_contexts()
        sent.append(changed.get("counter"))
        worker.take_contexts(changed)
        assert worker.sent["counter"] == view
        assert host._sent_contexts["counter"] == context_wire(view)
    assert sent[1:3] == [2_000, None]
    assert isinstance(sent[0], dict) and isinstance(sent[3], dict) and isinstance(sent[4], dict)
    with pytest.raises(WorkerStateError):
        _Worker().take_contexts({"counter": 5_000})  # a time, but no view of it held
