"""Apps see who holds the cooperative's offices: ``FoldContext.officers`` (role -> member id).

An ``officer`` decision makes the winning candidate's name the role's value; a member stands
under their full id.  The app platform turns the values into ``officers`` where it computes
the rates (``CoopApps``), keeps only current members, carries the view to the keyless worker
only when it changed, and shares one object among the apps' views while it stays equal.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.governance.records import AppTx, Close, GovTx, Open, Remove, Vote
from peoplenet.bench import coop_net
from peoplenet.bench.coop_net import CoopNet
from peoplenet.plugins.api import FoldContext
from peoplenet.plugins.coop_apps import officers_of
from peoplenet.plugins.testing import AppHarness
from peoplenet.plugins.worker import remote_host
from peoplenet.plugins.worker.app_worker import (
    WorkerStateError,
    _Worker,
    context_from_wire,
    context_wire,
)
from peoplenet.plugins.worker.remote_host import RemoteAppHost
from peoplenet.runtime.consensus.consumer import IdentitySigner
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.wire.codec import Value, decode, encode
from tests import officer_app
from tests.officer_app import NAME, ROLE, Dispatch

COMMUNITY = b"f/" + b"\x0c" * 32
A = bytes(Identity.from_seed(b"\x51" * 32).member_id)
B = bytes(Identity.from_seed(b"\x52" * 32).member_id)


# -- the offices from the fold's values ---------------------------------------------------------


def test_only_roles_held_by_a_current_member_are_offices() -> None:
    values: dict[tuple[str, str], object] = {
        ("officer", "treasurer"): A.hex(),
        ("officer", "dispatcher"): B.hex().upper(),  # the same id, however it is spelled
        ("officer", "secretary"): "vacant",
        ("officer", "chair"): "ana",  # a name standing that is no member's id
        ("officer", "auditor"): (b"\x07" * 32).hex(),  # an id, but no member's (or no longer)
        ("officer", "clerk"): A.hex() + "00",
        ("rate", "fee"): 5,
        ("board", "council"): (A.hex(),),
    }
    got = officers_of(values, {A, B})
    assert got == {"dispatcher": B, "treasurer": A}
    assert list(got) == ["dispatcher", "treasurer"]  # by role: the same on every node
    assert officers_of(values, {A}) == {"treasurer": A}


# -- through the real cooperative, and into the worker -------------------------------------------


def _install(folder: Path) -> Path:
    """The test app as an installed distribution: an entry point naming ``tests.officer_app``."""
    dist = folder / "peoplenet_officers-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: peoplenet-officers\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(f"[peoplenet.apps]\n{NAME} = tests.officer_app\n")
    return folder


@pytest.fixture
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CoopNet]:
    """Four members whose charter declares a ``dispatcher`` office, the test app enabled in
    every member's worker."""
    site = str(_install(tmp_path / "site"))
    sys.path.insert(0, site)  # the workers inherit sys.path as their PYTHONPATH
    importlib.invalidate_caches()
    monkeypatch.setattr(coop_net, "CHARTER", {**coop_net.CHARTER, "officers": [ROLE]})
    net = CoopNet(tmp_path / "net")
    try:
        net.connect()
        net.decide_app(NAME, {})
        yield net
    finally:
        net.close()
        sys.path.remove(site)
        importlib.invalidate_caches()


def _decide(net: CoopNet, action: Open, ballot: Value) -> None:
    """``action`` opened, every member votes ``ballot``, closed once its period has passed."""
    net.clocks()
    net.queue.append((net.people[0], GovTx(net.now, action)))
    net.order()
    number = len(net.nodes[0].governance.state.decisions)
    for p in net.people:
        net.queue.append((p, GovTx(net.now, Vote(number, ballot))))
    net.order()
    net.now += 2_000
    for p in (net.people[0], net.people[2], net.people[3]):
        net.queue.append((p, GovTx(net.now, Close(number))))
    net.settle()
    decision = net.nodes[0].governance.state.decision(number)
    assert decision is not None and decision.adopted and decision.applied, decision


def _dispatch(net: CoopNet, i: int, note: str) -> list[Any]:
    """Member ``i`` dispatches: each node's result for the transaction."""
    tx = GovTx(net.now, AppTx(NAME, encode(Dispatch(note))))
    net.queue.append((net.people[i], tx))
    net.settle()
    return [net.status(n, tx)["app"] for n in range(len(net.nodes))]


def _seen_by_worker(net: CoopNet, n: int) -> dict[str, Any]:
    """What node ``n``'s app, in its worker, saw: its snapshot and ``node.fold`` of a command."""
    snapshot = net.apps[n].host.snapshot(NAME)
    result, _ = net.nodes[n].command(
        "coop_app", {"app": NAME, "command": "officers", "args": {}}, net.now
    )
    assert isinstance(snapshot, dict) and isinstance(result, dict)
    return {**snapshot, "command": result["result"]}


def test_the_elected_dispatcher_is_every_apps_officer_until_they_leave(net: CoopNet) -> None:
    dispatcher, other = 1, 2
    held = bytes(net.people[dispatcher].member_id)
    for apps in net.apps:
        assert apps.context(NAME).officers == {}
    assert {r["reason"] for r in _dispatch(net, dispatcher, "too soon")} == {"not_dispatcher"}

    candidates = (net.hexid(dispatcher),)
    _decide(net, Open("officer", ROLE, candidates, None, None), (held.hex(), "vacant"))
    for n, apps in enumerate(net.apps):
        assert net.nodes[n].governance.state.value("officer", ROLE) == held.hex()
        assert apps.context(NAME).officers == {ROLE: held}
        seen = _seen_by_worker(net, n)
        assert seen["at_decision"] == ("officer", {ROLE: held.hex()})  # with the decision
        assert seen["command"] == {ROLE: held.hex()}  # NodeContext.fold
    assert {r["reason"] for r in _dispatch(net, other, "not mine")} == {"not_dispatcher"}
    assert {r["status"] for r in _dispatch(net, dispatcher, "go")} == {"applied"}
    for n in range(len(net.nodes)):  # the worker's check passed it, its apply saw the office
        assert _seen_by_worker(net, n)["dispatched"] == (("go", {ROLE: held.hex()}),)

    _decide(net, Open("removal", "", (), Remove(held), None), True)
    for n, apps in enumerate(net.apps):
        state = net.nodes[n].governance.state
        assert not state.is_member(held)
        assert state.value("officer", ROLE) == held.hex()  # the record stands: the app sees
        assert apps.context(NAME).officers == {}  # no office held by who is no member
        seen = _seen_by_worker(net, n)
        assert seen["at_decision"] == ("removal", {})
        assert seen["command"] == {}
    assert {r["reason"] for r in _dispatch(net, other, "still not")} == {"not_dispatcher"}


def test_the_offices_cross_to_the_worker_only_when_they_change(
    net: CoopNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The election sends each worker a whole view once (the offices changed); the clock
    moving afterwards sends its time alone; every app's view shares one offices object, kept
    while the offices stay."""
    crossed: list[tuple[int, Value]] = []
    changed_contexts = RemoteAppHost._changed_contexts

    def counted(self: RemoteAppHost) -> dict[str, Value]:
        changed = changed_contexts(self)
        if NAME in changed:
            crossed.append((id(self), changed[NAME]))
        return changed

    monkeypatch.setattr(RemoteAppHost, "_changed_contexts", counted)
    held = bytes(net.people[1].member_id)
    net.clocks()
    crossed.clear()
    _decide(net, Open("officer", ROLE, (held.hex(),), None, None), (held.hex(), "vacant"))
    with_office = [
        (host, v) for host, v in crossed if isinstance(v, dict) and v["officers"] == {ROLE: held}
    ]
    assert len(with_office) == len(net.nodes)  # once per member's worker
    assert len({host for host, _ in with_office}) == len(net.nodes)
    before = [apps._view(NAME).officers for apps in net.apps]
    for apps, officers in zip(net.apps, before, strict=True):
        assert apps._view("currency").officers is officers  # one object for all the apps
    crossed.clear()
    for _ in range(3):
        net.clocks()
    assert crossed and all(isinstance(v, int) for _, v in crossed)  # the time alone
    for apps, officers in zip(net.apps, before, strict=True):
        assert apps._view(NAME).officers is officers  # the state moved, the offices stayed
    for apps in net.apps:
        host = apps.host
        assert isinstance(host, RemoteAppHost)
        sent = host._sent_contexts[NAME]
        assert isinstance(sent, dict) and sent["officers"] == {ROLE: held}


# -- the view on the wire ------------------------------------------------------------------------


def _view(now_ms: int, officers: dict[str, bytes]) -> FoldContext:
    return FoldContext(COMMUNITY, now_ms, frozenset({A, B}), {}, {"fee": "1/10"}, officers=officers)


def test_a_view_whose_offices_changed_crosses_whole() -> None:
    """An election changes nothing of a view but its offices (and time): the worker must get
    the whole view, not the time alone, or its apps would go on seeing the old officer."""
    views: dict[str, FoldContext] = {}
    host = RemoteAppHost(
        COMMUNITY, A, IdentitySigner(Identity.from_seed(b"\x51" * 32)), folder=None,
        context=lambda name: views[name],
    )  # fmt: skip
    host._declared = {NAME: remote_host.Declared(b"", {}, frozenset(), frozenset(), {})}
    worker = _Worker()
    steps = [_view(1_000, {}), _view(2_000, {ROLE: A}), _view(3_000, {ROLE: B}), _view(4_000, {})]
    sent: list[Value] = []
    for view in steps:
        views[NAME] = view
        changed = host._changed_contexts()
        sent.append(changed.get(NAME))
        worker.take_contexts(changed)
        assert worker.sent[NAME] == view
    assert all(isinstance(v, dict) for v in sent)


def test_the_offices_survive_the_wire_and_a_malformed_one_is_refused() -> None:
    view = _view(1_000, {ROLE: A, "treasurer": B})
    back = context_from_wire(decode(encode(context_wire(view))))
    assert back == view and back.officers == {ROLE: A, "treasurer": B}
    wire = context_wire(view)
    assert isinstance(wire, dict)
    malformed: list[Any] = [{ROLE: A.hex()}, {1: A}, (ROLE, A)]
    for bad in malformed:
        with pytest.raises(WorkerStateError):
            context_from_wire({**wire, "officers": bad})


# -- the conformance kit's harness -----------------------------------------------------------------


def test_the_harness_elects_officers_as_a_node_would() -> None:
    with AppHarness(officer_app, members=3) as h:
        h.enable({})
        assert h.check(Dispatch("x"), member=1) == "not_dispatcher"
        h.elect(ROLE, 1)
        assert h.officers == {ROLE: h.members[1]}
        assert h.check(Dispatch("x"), member=1) is None
        assert h.check(Dispatch("x"), member=2) == "not_dispatcher"
        assert h.submit(Dispatch("go"), member=1)["status"] == "applied"
        result, _ = h.command("officers")
        assert result == {ROLE: h.members[1].hex()}
        snapshot = h.snapshot()
        assert isinstance(snapshot, dict)
        assert snapshot["at_decision"] == ("officer", {ROLE: h.members[1].hex()})
        h.elect(ROLE, None)
        assert h.officers == {} and h.check(Dispatch("x"), member=1) == "not_dispatcher"
        assert h.problems() == []
