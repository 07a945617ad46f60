"""The fast paths across the app worker's boundary give what the general paths give.

Each crossing a payment makes costs a round trip between two processes, so the node batches
them: the fold views travel with the calls (instead of a ``context`` callback per call), the
blocks one hook published are signed in one ``sign_many`` request (instead of a ``sign``
callback per block, with ids answered before signing), the hooks of one call run in one visit
to the app's thread (``Guard.call_many``), and a message pushed to several members crosses
once.  Each is compared here with the general path it replaces: same results, same refusals,
same failure accounting, a failing worker still reported; and a payment's round trips are
counted so that the gain cannot silently regress.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.governance.state import GovernanceState
from peoplenet.apps.currency import plugin
from peoplenet.apps.currency.records import Approve, Issue, Mint
from peoplenet.bench import rides
from peoplenet.bench.coop_net import CoopNet
from peoplenet.plugins import host as host_module
from peoplenet.plugins.api import ConsentRefused, FoldContext
from peoplenet.plugins.coop_apps import CoopApps
from peoplenet.plugins.guard import AppFaulted, Guard, PluginFailed
from peoplenet.plugins.host_api import HostOutput
from peoplenet.plugins.signing import SignRequest, sign_all, sync_wal, unsigned_block, unsigned_id
from peoplenet.plugins.testing import AppHarness
from peoplenet.plugins.worker.app_worker import output_wire
from peoplenet.plugins.worker.process import WorkerProcess
from peoplenet.plugins.worker.remote_host import AppWorkerFailed, RemoteAppHost, _output
from peoplenet.runtime.errors import EncodeError, LocalError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.app_lace import LaceBlocks, app_lace_id
from peoplenet.runtime.lace.block import MAX_BLOCK_SIZE, Block
from peoplenet.runtime.wire.codec import Value

COMMUNITY = b"f/" + b"\x0a" * 32
ME = Identity.from_seed(b"\x31" * 32)
LACE = bytes(app_lace_id(COMMUNITY, "currency"))
OTHER = b"\x02" * 32


# -- one visit to the app's thread ----------------------------------------------------------


def _steps(script: list[Any], ran: list[int]) -> list[tuple[str, Any]]:
    """One hook call per script item: a value to return, an exception to raise."""

    def step(i: int) -> Any:
        def run() -> Any:
            ran.append(i)
            item = script[i]
            if isinstance(item, Exception):
                raise item
            return item

        return run

    return [(f"h{i % 2}", step(i)) for i in range(len(script))]


def _shape(outcome: Any) -> Any:
    if isinstance(outcome, PluginFailed):
        return ("failed", outcome.hook, outcome.faulted, repr(outcome.error))
    if isinstance(outcome, AppFaulted):
        return ("faulted", str(outcome))
    return ("ok", outcome)


@pytest.mark.parametrize(
    "script",
    [
        [1, 2, 3],
        [1, RuntimeError("a"), 3, 4],
        [RuntimeError("a"), RuntimeError("b"), RuntimeError("c"), 1, RuntimeError("d"), 2],
        [RuntimeError("x")] * 5 + [1, 2],  # faulted after the third: the rest never run
    ],
)
def test_call_many_runs_and_counts_as_one_call_each(script: list[Any]) -> None:
    one, many = Guard("g", max_failures=3), Guard("g", max_failures=3)
    ran_one: list[int] = []
    ran_many: list[int] = []
    singles = []
    try:
        for hook, fn in _steps(script, ran_one):
            try:
                singles.append(_shape(one.call(hook, fn, expected=())))
            except (PluginFailed, AppFaulted) as exc:
                singles.append(_shape(exc))
        batched = [_shape(o) for o in many.call_many(_steps(script, ran_many))]
        assert batched == singles
        assert ran_many == ran_one
        assert (many.faulted, many.failures) == (one.faulted, one.failures)
    finally:
        one.close()
        many.close()


def _credit_line(net: CoopNet) -> tuple[int, int, int]:
    """The currency enabled on three nodes, and a credit line from member 2 to member 0:
    the payer, the payee and the sovereign whose coins are paid."""
    net.connect()
    net.decide_app("currency", {})
    net.connect()
    payer, payee, sovereign = 0, 1, 2
    offer = net.app(sovereign, "credit", amount=50, limit=50, **{"with": net.hexid(payer)})
    net.settle()
    net.app(payer, "credit", offer=offer["offer"], limit=50)
    net.settle()
    return payer, payee, sovereign


def test_call_many_cuts_a_hung_hook_at_its_deadline_and_runs_nothing_after_it() -> None:
    guard = Guard("g", deadline_s=0.3)
    release = threading.Event()
    ran: list[str] = []

    def hang() -> None:
        ran.append("hang")
        release.wait(10)

    try:
        started = time.monotonic()
        outcomes = guard.call_many(
            [("a", lambda: ran.append("a")), ("b", hang), ("c", lambda: ran.append("c"))]
        )
        assert time.monotonic() - started < 3
        assert outcomes[0] is None  # list.append's result
        assert isinstance(outcomes[1], PluginFailed) and outcomes[1].faulted
        assert "hung" in guard.faulted and outcomes[1].hook == "b"
        assert isinstance(outcomes[2], AppFaulted)
    finally:
        release.set()
    time.sleep(0.1)
    assert ran == ["a", "hang"]  # released, the abandoned visit still ran nothing after it
    guard.close()


def test_call_many_faults_a_hook_that_answers_after_its_deadline() -> None:
    guard = Guard("g", deadline_s=0.05)
    try:
        outcomes = guard.call_many([("slow", lambda: time.sleep(0.3)), ("next", lambda: 1)])
        assert isinstance(outcomes[0], PluginFailed) and outcomes[0].faulted
        assert isinstance(outcomes[1], AppFaulted)
    finally:
        guard.close()


def _switches() -> int:
    """Context switches of every thread of this process so far (Linux ``/proc``)."""
    total = 0
    for task in Path("/proc/self/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if "ctxt_switches:" in line:
                total += int(line.split()[1])
    return total


def _open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_a_visit_to_the_app_thread_costs_two_context_switches() -> None:
    """The thread woken finds the GIL free (pipes, not a lock the waker signals while holding
    the GIL): there and back is two switches, where a lock or an event took five or six."""
    guard = Guard("g")
    try:
        guard.call_many([("h", lambda: 1)])  # the thread is up
        visits = 500
        before = _switches()
        for _ in range(visits):
            assert guard.call_many([("h", lambda: 1), ("h", lambda: 2)]) == [1, 2]
            assert guard.call("h", lambda: 3) == 3
        assert (_switches() - before) / (2 * visits) < 3.5
    finally:
        guard.close()


def _pipes(guard: Guard) -> list[int]:
    lane = guard._lane
    assert lane is not None
    return [lane._wake_r, lane._wake_w, lane._done_r, lane._done_w]


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def test_a_guard_s_thread_ends_and_closes_its_pipes_when_closed_dropped_or_released() -> None:
    closed = Guard("pipes-closed")
    closed.call("h", lambda: 1)
    dropped = Guard("pipes-dropped")
    dropped.call("h", lambda: 1)
    hung = Guard("pipes-hung", deadline_s=0.1)
    hung.call("h", lambda: 1)
    fds = _pipes(closed) + _pipes(dropped) + _pipes(hung)
    release = threading.Event()
    with pytest.raises(PluginFailed):
        hung.call("h", lambda: release.wait(10))
    assert not any(map(_closed, fds))  # the stuck thread keeps its pipes
    closed.close()
    del dropped  # never closed: collected, its idle thread still ends
    gc.collect()
    release.set()  # the stuck hook returns: the abandoned thread ends too
    names = {"app-pipes-closed", "app-pipes-dropped", "app-pipes-hung"}
    deadline = time.monotonic() + 5
    while any(t.name in names for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name in names for t in threading.enumerate())
    assert all(map(_closed, fds))


# -- ids before signatures, one request per hook ---------------------------------------------


class _Signer:
    """The runtime's signer, one block at a time (the general path); it may refuse mints."""

    def __init__(self, refuse: type | None = None) -> None:
        self.refuse = refuse
        self.asked = 0

    def block(self, lace: bytes, payload: Value, pointers: tuple[bytes, ...]) -> Block:
        self.asked += 1
        if self.refuse is not None and isinstance(payload, self.refuse):
            raise ConsentRefused(f"no consent for {type(payload).__name__}")
        return Block.create(ME, lace, payload, pointers)


class _BatchSigner(_Signer):
    def __init__(self, refuse: type | None = None) -> None:
        super().__init__(refuse)
        self.batches = 0

    def blocks(self, requests: list[SignRequest]) -> tuple[list[Block], ConsentRefused | None]:
        self.batches += 1
        out = []
        for r in requests:
            try:
                out.append(self.block(r.lace, r.payload, r.pointers))
            except ConsentRefused as exc:
                return out, exc
        return out, None


def _requests() -> list[SignRequest]:
    first = Approve(b"\x01" * 32)
    first_id = unsigned_id(bytes(ME.member_id), LACE, first, ())
    second = Mint(5, 5)
    third = Issue(OTHER, bytes(ME.member_id), 5, 0, "")
    ptrs = (first_id,)
    return [
        SignRequest(LACE, first, (), first_id),
        SignRequest(LACE, second, ptrs, unsigned_id(bytes(ME.member_id), LACE, second, ptrs)),
        SignRequest(LACE, third, ptrs, unsigned_id(bytes(ME.member_id), LACE, third, ptrs)),
    ]


def test_an_unsigned_id_is_the_signed_blocks_id_and_bad_drafts_are_refused_alike() -> None:
    me = bytes(ME.member_id)
    good: list[tuple[Value, tuple[bytes, ...]]] = [
        (Approve(b"\x01" * 32), ()),
        (Mint(5, 5), (b"\x09" * 32, b"\x03" * 32)),  # any order: sorted as signing sorts
    ]
    for payload, pointers in good:
        signed = Block.create(ME, LACE, payload, pointers)
        assert unsigned_id(me, LACE, payload, pointers) == signed.id
    bad: list[tuple[Value, tuple[bytes, ...], type[Exception]]] = [
        (Mint(1, 1), (b"\x03" * 32, b"\x03" * 32), LocalError),  # duplicate pointers
        (Mint(1, 1), (b"\x03" * 7,), LocalError),  # not a block id
        ("x" * MAX_BLOCK_SIZE, (), EncodeError),  # no peer would take it
    ]
    for bad_payload, bad_pointers, error in bad:
        with pytest.raises(error) as by_id:
            unsigned_id(me, LACE, bad_payload, bad_pointers)
        with pytest.raises(error) as by_signing:
            Block.create(ME, LACE, bad_payload, bad_pointers)
        assert str(by_id.value) == str(by_signing.value)


def test_one_request_signs_what_one_by_one_signs_and_stops_at_the_same_refusal() -> None:
    requests = _requests()
    single, batch = _Signer(), _BatchSigner()
    one_by_one, none1 = sign_all(single, requests)
    batched, none2 = sign_all(batch, requests)
    assert none1 is None and none2 is None and batch.batches == 1
    assert [b.to_bytes() for b in batched] == [b.to_bytes() for b in one_by_one]
    assert [bytes(b.id) for b in batched] == [r.id for r in requests]
    # a refusal: the blocks before it are signed, nothing after it
    single, batch = _Signer(refuse=Mint), _BatchSigner(refuse=Mint)
    one_by_one, refused1 = sign_all(single, requests)
    batched, refused2 = sign_all(batch, requests)
    assert [b.id for b in batched] == [b.id for b in one_by_one] == [requests[0].id]
    assert str(refused1) == str(refused2) == "no consent for Mint"
    assert single.asked == batch.asked == 2


def test_a_signed_answer_is_taken_byte_for_byte_and_anything_else_refused() -> None:
    """The worker checks the node's answer against the block it drafted, without parsing."""
    me = bytes(ME.member_id)
    pointer = Block.create(ME, LACE, Mint(1, 1), ()).id
    draft = unsigned_block(me, LACE, Mint(5, 5), (pointer,))
    signed = Block.create(ME, LACE, Mint(5, 5), (pointer,))
    taken = draft.signed_as(signed.to_bytes())
    assert taken is not None and taken.signature_ok()
    assert taken == signed and taken.id == signed.id and taken.to_bytes() == signed.to_bytes()
    raw = signed.to_bytes()
    stranger = Identity.from_seed(b"\x32" * 32)
    for bad in (
        Block.create(ME, LACE, Mint(6, 5), (pointer,)).to_bytes(),  # another payload
        Block.create(ME, LACE, Mint(5, 5), ()).to_bytes(),  # other pointers
        Block.create(stranger, LACE, Mint(5, 5), (pointer,)).to_bytes(),  # another creator
        raw[:-1],
        raw + b"\x00",
        b"",
    ):
        assert draft.signed_as(bad) is None


def test_a_signer_that_signs_something_else_is_caught() -> None:
    class Liar(_Signer):
        def block(self, lace: bytes, payload: Value, pointers: tuple[bytes, ...]) -> Block:
            return Block.create(ME, lace, Mint(9, 9), pointers)

    with pytest.raises(LocalError, match="something else"):
        sign_all(Liar(), _requests())


# -- the trusted side judges a batch as it judges each block ---------------------------------


def _context(name: str) -> FoldContext:
    return FoldContext(COMMUNITY, 1_000, frozenset({bytes(ME.member_id)}), {}, {})


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[RemoteAppHost]:
    host = RemoteAppHost(
        COMMUNITY, bytes(ME.member_id), _Signer(), folder=tmp_path, context=_context,
        use_entry_points=False,
    )  # fmt: skip
    try:
        yield host
    finally:
        host.close()


def _wire(payload: Value, lace: bytes = LACE) -> Value:
    return {"lace": lace, "payload": payload, "pointers": ()}


def test_the_node_judges_a_batch_as_it_judges_each_block(remote: RemoteAppHost) -> None:
    remote.declared  # noqa: B018 - starts the worker: its declaration is what is judged
    pay = Issue(OTHER, bytes(ME.member_id), 5, 0, "")
    asks = [_wire(Approve(b"\x01" * 32)), _wire(pay), _wire(pay), _wire(Mint(5, 5))]

    def one_by_one() -> tuple[list[Value], str | None]:
        signed: list[Value] = []
        for ask in asks:
            try:
                signed.append(remote._on_sign(ask))
            except ConsentRefused as exc:
                return signed, str(exc)
        return signed, None

    for grants in ([], ["pay"], ["pay", "mint"]):
        remote._grant_app, remote._grants = "currency", list(grants)
        expected = one_by_one()
        remote._grant_app, remote._grants = "currency", list(grants)
        answer = remote._on_sign_many(tuple(asks))
        assert isinstance(answer, dict)
        assert (list(answer["blocks"]), answer["refused"]) == expected  # type: ignore[arg-type]
    # a hostile batch: another lace, an undeclared record, garbage
    for bad in (_wire(Approve(b"\x01" * 32), b"a/" + bytes(32)), _wire("text"), "garbage"):
        answer = remote._on_sign_many((bad,))
        assert isinstance(answer, dict) and answer["blocks"] == () and answer["refused"]
    with pytest.raises(ConsentRefused):
        remote._on_sign_many("not a list")


# -- the fold views travel with the calls ----------------------------------------------------


def _drive(host: RemoteAppHost) -> list[Value]:
    host.set_members([bytes(ME.member_id), OTHER])
    host.app_changed("currency", True, {"ubi_per_period": 0}, None)
    seen: list[Value] = []
    for step in range(3):
        result, out = host.command("currency", "mint", {"amount": 3 + step}, 2_000 + step)
        seen.append((result, tuple(bytes(p) for p, _ in out.sends)))
    seen.append(host.command("currency", "balance", {}, 5_000)[0])
    seen.append(host.snapshot("currency"))
    return seen


def test_views_sent_with_the_calls_give_what_the_callback_gives(tmp_path: Path) -> None:
    asked: Counter[str] = Counter()
    results = []
    for fast in (True, False):
        folder = tmp_path / str(fast)
        folder.mkdir()
        host = RemoteAppHost(
            COMMUNITY, bytes(ME.member_id), _Signer(), folder=folder, context=_context,
            use_entry_points=False,
        )  # fmt: skip
        if not fast:  # the general path: the worker asks for each view
            host._changed_contexts = dict  # type: ignore[method-assign]
        on_context = host._on_context

        def counted(name: Value, fast: bool = fast, on_context: Any = on_context) -> Value:
            asked[f"context/{fast}"] += 1
            view: Value = on_context(name)
            return view

        host._on_context = counted  # type: ignore[method-assign]
        try:
            results.append(_drive(host))
        finally:
            host.close()
    assert results[0] == results[1]
    assert asked["context/True"] == 0 and asked["context/False"] > 0


# -- a message to several members crosses once ------------------------------------------------


def test_a_message_to_several_members_crosses_once_and_comes_back_to_each() -> None:
    msg = LaceBlocks(LACE, (b"raw",))
    out = HostOutput(sends=[(b"\x01" * 32, msg), (b"\x03" * 32, msg)], wake_at_ms=7)
    wire = output_wire(out)
    assert isinstance(wire, dict) and wire["msgs"] == (msg,)
    back = _output(wire)
    assert back.sends == out.sends and back.wake_at_ms == 7
    bad = {**wire, "sends": ((b"\x01" * 32, 5),)}
    with pytest.raises(AppWorkerFailed, match="malformed"):
        _output(bad)
    garbage_outputs: list[Value] = ["text", (1, 2), {"sends": "x"}]
    for garbage in garbage_outputs:
        with pytest.raises(AppWorkerFailed, match="malformed"):
            _output(garbage)
    assert output_wire(HostOutput()) is None  # nothing to do: nothing crosses
    empty = _output(None)
    assert (empty.submit, empty.sends, empty.wake_at_ms) == ([], [], None)


# -- a payment's round trips, counted -------------------------------------------------------


def test_a_payment_crosses_to_each_worker_ten_times_in_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue, approve, accept between three members: 7 calls (the command, then each block
    arriving at each other member) and 3 signing requests, one per block; no other callback.
    Before the batching it was 17: a ``context`` callback per call and a ``sign`` per block.
    Ten is the floor: a block is signed only after its hook returned, and leaves the node only
    once the worker stored and synced it, so its signature is a crossing within the call."""
    crossings: Counter[str] = Counter()
    call, serve = WorkerProcess.call, WorkerProcess._serve

    def counted_call(self: WorkerProcess, method: str, args: Value, **kw: Any) -> Value:
        crossings[f"call:{method}"] += 1
        return call(self, method, args, **kw)

    def counted_serve(self: WorkerProcess, msg: Any, callbacks: Any) -> Any:
        crossings[f"back:{msg.method}"] += 1
        return serve(self, msg, callbacks)

    monkeypatch.setattr(WorkerProcess, "call", counted_call)
    monkeypatch.setattr(WorkerProcess, "_serve", counted_serve)
    net = CoopNet(tmp_path, n=3)
    try:
        payer, payee, sovereign = _credit_line(net)
        payments = 5
        crossings.clear()
        for _ in range(payments):
            net.app(payer, "pay", to=net.hexid(payee), amount=1, currency=net.hexid(sovereign))
            net.settle()
        counted = dict(crossings)
        assert net.app(payee, "balance")["coins"] == {net.hexid(sovereign): payments}
    finally:
        net.close()
    per_payment = {k: v / payments for k, v in counted.items()}
    assert per_payment == {
        "call:command": 1.0,
        "call:receive_then_duties": 6.0,
        "back:sign_many": 3.0,
    }


def _count_crossings(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every call to a worker and every callback from one, by method."""
    crossings: Counter[str] = Counter()
    call, serve = WorkerProcess.call, WorkerProcess._serve

    def counted_call(self: WorkerProcess, method: str, args: Value, **kw: Any) -> Value:
        crossings[f"call:{method}"] += 1
        return call(self, method, args, **kw)

    def counted_serve(self: WorkerProcess, msg: Any, callbacks: Any) -> Any:
        crossings[f"back:{msg.method}"] += 1
        return serve(self, msg, callbacks)

    monkeypatch.setattr(WorkerProcess, "call", counted_call)
    monkeypatch.setattr(WorkerProcess, "_serve", counted_serve)
    return crossings


def test_a_ride_trip_crosses_once_per_phone_and_ordered_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cash trip (``peoplenet bench rides``): 10 commands, and one call per phone and step of
    the order -- its clock move, its app transactions in order and the duties after them
    travel together (``deliver``).  It was 85: a clock, an apply and a duties call for each
    ordered app transaction on each of the three phones (10 + 24 + 27 + 24).  App transactions
    that close no decision leave the consensus bridge's inputs alone: it is not recomputed."""
    crossings = _count_crossings(monkeypatch)
    targets: Counter[int] = Counter()
    target = GovernanceState.consensus_target

    def counted_target(self: GovernanceState) -> Any:
        targets[0] += 1
        return target(self)

    monkeypatch.setattr(GovernanceState, "consensus_target", counted_target)
    net = CoopNet(tmp_path, n=3, carry=True)
    trips = 3
    try:
        rides._setup(net, trips, "cash")
        steps = net.position
        crossings.clear()
        targets.clear()
        for _ in range(trips):
            rides._trip(net)
        counted = dict(crossings)
        txs = (net.position - steps) / trips
    finally:
        net.close()
    per_trip = {k: v / trips for k, v in counted.items()}
    assert txs == 9.0  # one of the 8 steps carries two transactions (both ratings)
    assert per_trip == {"call:command": 10.0, "call:deliver": 24.0}
    assert targets[0] == 0


def test_views_and_bridge_duties_are_computed_once_per_fold_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Payments change no governance state: the fold views and the consensus bridge are not
    recomputed for them; a delivered transaction makes the next call send the new view."""
    views: Counter[int] = Counter()
    targets: Counter[int] = Counter()
    context, target = CoopApps.context_rates, GovernanceState.consensus_target

    def counted_context(self: CoopApps, *args: Any) -> Any:
        views[0] += 1  # (once per view of a state: all the apps' views share the rates)
        return context(self, *args)

    def counted_target(self: GovernanceState) -> Any:
        targets[0] += 1
        return target(self)

    monkeypatch.setattr(CoopApps, "context_rates", counted_context)
    monkeypatch.setattr(GovernanceState, "consensus_target", counted_target)
    net = CoopNet(tmp_path, n=3)
    try:
        payer, payee, sovereign = _credit_line(net)
        views.clear()
        targets.clear()
        for _ in range(3):
            net.app(payer, "pay", to=net.hexid(payee), amount=1, currency=net.hexid(sovereign))
            net.settle()
        assert (views[0], targets[0]) == (0, 0)
        net.clocks()  # community time moves: every member folds new transactions
        assert views[0] > 0 and targets[0] > 0
        for node in net.nodes:
            host = node.apps.host
            assert isinstance(host, RemoteAppHost)
            sent = host._sent_contexts["currency"]
            assert isinstance(sent, dict) and sent["now_ms"] == node.governance.state.time
    finally:
        net.close()


def test_an_own_block_is_not_verified_again_a_received_one_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked: list[bytes] = []
    signature_ok = Block.signature_ok

    def counted(self: Block) -> bool:
        checked.append(bytes(self.id))
        return signature_ok(self)

    monkeypatch.setattr(Block, "signature_ok", counted)
    with AppHarness(plugin, members=2) as h:
        h.enable({})
        minted, _ = h.command("mint", {"amount": 5})
        assert isinstance(minted, dict) and minted["block"] and checked == []
        other = h.sign(1, Mint(3, 3), ())
        h.deliver([other])
        assert checked == [bytes(other.id)]
        assert h.host.status("currency")["lace_blocks"] == 2


# -- received blocks commit without a sync, our own are synced before they leave --------------


def test_own_blocks_are_synced_before_they_leave_received_ones_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    sync = sync_wal

    def counted(db: Path) -> None:
        synced.append(db)
        sync(db)

    monkeypatch.setattr(host_module, "sync_wal", counted)  # where the host looks it up
    with AppHarness(plugin, members=2) as h:
        h.host.folder = tmp_path  # a real SQLite lace
        h.enable({})
        inst = h.host.instances["currency"]
        assert inst.store is not None and inst.store.durability == "normal"
        wal = Path(f"{inst.store.path}-wal")
        minted, _ = h.command("mint", {"amount": 5})
        assert isinstance(minted, dict) and minted["block"]
        assert synced == [inst.store.path] and wal.exists()
        other = h.sign(1, Mint(3, 3), ())
        h.deliver([other])  # a received block: stored, folded, not synced on its own
        assert len(synced) == 1 and h.host.status("currency")["lace_blocks"] == 2


# -- a failing worker is still handled ------------------------------------------------------


def test_a_worker_given_a_wrong_signature_or_dying_mid_batch_is_reported(
    remote: RemoteAppHost,
) -> None:
    remote.set_members([bytes(ME.member_id), OTHER])
    remote.app_changed("currency", True, {}, None)

    def wrong(args: Value) -> Value:  # a block, but not the one asked for
        other = Block.create(ME, LACE, Mint(99, 99), ())
        return {"blocks": (other.to_bytes(),), "refused": None}

    remote._on_sign_many = wrong  # type: ignore[method-assign]
    with pytest.raises(AppWorkerFailed, match="signed something else"):
        remote.command("currency", "mint", {"amount": 5}, 2_000)
    assert remote.worker_pid is not None

    # a fresh host over the same folder: the unsigned block was never stored
    fresh = RemoteAppHost(
        COMMUNITY, bytes(ME.member_id), _Signer(), folder=remote._folder, context=_context,
        use_entry_points=False,
    )  # fmt: skip
    try:
        fresh.set_members([bytes(ME.member_id), OTHER])
        fresh.app_changed("currency", True, {}, None)
        assert fresh.status("currency")["lace_blocks"] == 0
        honest = fresh._on_sign_many

        def dying(args: Value) -> Value:  # the worker dies while the node signs its batch
            proc = fresh._proc
            assert proc is not None
            proc.kill()
            return honest(args)

        fresh._on_sign_many = dying  # type: ignore[method-assign]
        with pytest.raises(AppWorkerFailed):
            fresh.command("currency", "mint", {"amount": 5}, 2_000)
    finally:
        fresh.close()
