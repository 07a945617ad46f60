"""The actor kernel: typed API, asks, timers, supervision, hangs, bridge, clean shutdown."""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.kernel import (
    ActorFailed,
    ActorSystemHandle,
    AskTimeout,
    Ref,
    RestartPolicy,
)
from peoplenet.runtime.kernel.gc_tuning import THRESHOLDS
from tests.runtime.kernel.kernel_actors import (
    BridgeInit,
    BridgeUser,
    Event,
    Recorder,
    Supervisor,
    SupervisorInit,
    Worker,
    WorkerInit,
)

pytestmark = pytest.mark.processes

ALL_BASES = ["simple", "multiproc_queue", "multiproc_tcp"]
FAST = RestartPolicy(max_restarts=3, window_s=30, backoff_initial_s=0.05, backoff_max_s=0.2)


def events(handle: ActorSystemHandle, recorder: Ref) -> tuple[Event, ...]:
    got = handle.ask(recorder, "events", 5)
    assert isinstance(got, tuple)
    return got


def wait_for(
    probe: Callable[[], tuple[Event, ...]], ok: Callable[[tuple[Event, ...]], bool], s: float = 8
) -> tuple[Event, ...]:
    deadline = time.monotonic() + s
    while True:
        got = probe()
        if ok(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


@pytest.mark.parametrize("actor_system", ALL_BASES, indirect=True)
def test_spawn_ask_and_refs(actor_system: ActorSystemHandle) -> None:
    ref = actor_system.spawn(Worker, "w", WorkerInit(label="hello"))
    assert actor_system.ask(ref, "label", 5) == "hello"  # init reached on_start
    assert actor_system.ask(ref, "gc", 5) == THRESHOLDS  # a long-lived process's collector
    assert actor_system.ask(ref, ("echo", b"x" * 300), 5) == b"x" * 300
    me = actor_system.ask(ref, "me", 5)
    assert me == ref and hash(me) == hash(ref) and {me: 1}[ref] == 1
    assert pickle.loads(pickle.dumps(ref)) == ref
    assert "Ref(" in repr(ref)
    assert isinstance(actor_system.ask(ref, "parent", 5), Ref)  # the root supervisor
    assert actor_system.child("w") == ref
    with pytest.raises(LocalError):
        actor_system.spawn(Worker, "w", WorkerInit())


@pytest.mark.parametrize("actor_system", ["simple", "multiproc_queue"], indirect=True)
def test_late_answer_is_never_the_answer_to_a_later_ask(actor_system: ActorSystemHandle) -> None:
    ref = actor_system.spawn(Worker, "w", WorkerInit())
    with pytest.raises(AskTimeout):
        actor_system.ask(ref, ("later", 0.3, "first"), 0.05)
    time.sleep(0.4)  # the late "first" is now waiting for the handle
    assert actor_system.ask(ref, ("later", 0.01, "second"), 5) == "second"
    assert actor_system.ask(ref, ("echo", "third"), 5) == "third"


@pytest.mark.parametrize("actor_system", ["simple", "multiproc_queue"], indirect=True)
def test_timers_fire_and_cancel_and_system_messages_never_reach_receive(
    actor_system: ActorSystemHandle,
) -> None:
    rec = actor_system.spawn(Recorder, "rec", None)
    ref = actor_system.spawn(Worker, "w", WorkerInit(recorder=rec, label="t"))
    actor_system.tell(ref, ("timers", "keep", "drop"))
    got = wait_for(lambda: events(actor_system, rec), lambda e: any(x.kind == "fired" for x in e))
    time.sleep(0.1)  # room for the cancelled one to (wrongly) fire
    got = events(actor_system, rec)
    assert [x.detail for x in got if x.kind == "fired"] == [("keep",)]
    seen = actor_system.ask(ref, "seen", 5)
    assert isinstance(seen, tuple)
    assert seen and not [s for s in seen if s.startswith(("thespian", "peoplenet.runtime.kernel"))]


def test_crash_restarts_with_backoff_and_keeps_init(actor_system: ActorSystemHandle) -> None:
    rec = actor_system.spawn(Recorder, "rec", None)
    policy = RestartPolicy(max_restarts=5, window_s=30, backoff_initial_s=0.1, backoff_max_s=0.15)
    sup = actor_system.spawn(Supervisor, "sup", SupervisorInit(rec, WorkerInit(rec, "w1"), policy))
    first = wait_for(lambda: events(actor_system, rec), lambda e: len(e) >= 1)[0]
    assert first.kind == "started"
    crashes: list[float] = []
    for n in range(3):
        child = actor_system.ask(sup, "child", 5)
        assert isinstance(child, Ref)
        with pytest.raises(ActorFailed):
            actor_system.ask(child, "crash", 5)
        crashes.append(time.monotonic())
        wait_for(
            lambda: events(actor_system, rec),
            lambda e, n=n: sum(x.kind == "started" for x in e) >= n + 2,  # type: ignore[misc]
        )
    got = events(actor_system, rec)
    starts = [x for x in got if x.kind == "started"]
    restarts = [x for x in got if x.kind == "restarted"]
    assert len(starts) == 4 and {x.label for x in starts} == {"w1"}  # same init each time
    assert len({x.pid for x in starts}) == 4  # a fresh process each time
    assert [x.ref for x in restarts] == [x.ref for x in starts[1:]]  # on_child_restarted
    assert len({x.ref for x in starts}) == 4
    for crash, start, backoff in zip(crashes, starts[1:], (0.1, 0.15, 0.15), strict=True):
        assert start.at - crash >= backoff - 0.01  # initial, doubled, capped
    assert actor_system.failures() == ()
    child = actor_system.ask(sup, "child", 5)
    assert isinstance(child, Ref)
    assert actor_system.ask(child, "label", 5) == "w1"


def test_repeated_failures_escalate_to_the_top(actor_system: ActorSystemHandle) -> None:
    rec = actor_system.spawn(Recorder, "rec", None)
    child_policy = RestartPolicy(max_restarts=2, window_s=30, backoff_initial_s=0.01)
    never = RestartPolicy(max_restarts=0, window_s=30)
    init = SupervisorInit(rec, WorkerInit(rec, "doomed", fail_on_start=True), child_policy)
    actor_system.spawn(Supervisor, "sup", init, never)
    deadline = time.monotonic() + 8
    while not actor_system.failures() and time.monotonic() < deadline:
        time.sleep(0.02)
    (failure,) = actor_system.failures()
    assert failure.name == "sup" and failure.error_type == "Escalated"
    assert "RuntimeError: cannot start" in failure.error
    assert sum(x.kind == "started" for x in events(actor_system, rec)) == 3  # 1 + 2 restarts
    assert actor_system.child("sup") is None


@pytest.mark.parametrize("actor_system", ALL_BASES, indirect=True)
def test_unrecoverable_error_is_not_restarted_but_ends_the_tree_at_once(
    actor_system: ActorSystemHandle,
) -> None:
    rec = actor_system.spawn(Recorder, "rec", None)
    patient = RestartPolicy(max_restarts=5, window_s=30, backoff_initial_s=0.01)
    init = SupervisorInit(rec, WorkerInit(rec, "w"), patient)
    sup = actor_system.spawn(Supervisor, "sup", init, patient)
    wait_for(lambda: events(actor_system, rec), lambda e: len(e) >= 1)
    actor_system.tell(sup, ("to_child", "damaged"))
    deadline = time.monotonic() + 8
    while not actor_system.failures() and time.monotonic() < deadline:
        time.sleep(0.02)
    (failure,) = actor_system.failures()
    assert failure.name == "sup" and failure.fatal
    assert failure.error_type == "StoreCorrupt"
    assert failure.error == "store.sqlite is damaged"  # the child's own words reach the top
    time.sleep(0.3)  # a restart (0.01 s backoff) would have started by now
    assert sum(x.kind == "started" for x in events(actor_system, rec)) == 1
    assert actor_system.child("sup") is None


def test_hung_child_is_killed_and_restarted(actor_system: ActorSystemHandle) -> None:
    rec = actor_system.spawn(Recorder, "rec", None)
    policy = RestartPolicy(
        max_restarts=3,
        window_s=30,
        backoff_initial_s=0.01,
        heartbeat_s=0.1,
        heartbeat_timeout_s=0.2,
    )
    ref = actor_system.spawn(Worker, "w", WorkerInit(rec, "h"), policy)
    hung_pid = actor_system.ask(ref, "pid", 5)
    assert isinstance(hung_pid, int)
    time.sleep(0.3)  # a few heartbeats answered: no false alarm
    assert actor_system.child("w") == ref
    hung_at = time.monotonic()
    actor_system.tell(ref, "hang")
    got = wait_for(
        lambda: events(actor_system, rec), lambda e: sum(x.kind == "started" for x in e) >= 2
    )
    starts = [x for x in got if x.kind == "started"]
    assert len(starts) == 2 and starts[1].pid != hung_pid
    assert 0.2 <= starts[1].at - hung_at < 3.0  # detected after the timeout, not never
    assert not os.path.exists(f"/proc/{hung_pid}") or _state(hung_pid) == "Z"
    new = actor_system.child("w")
    assert new is not None and new != ref
    assert actor_system.ask(new, "label", 5) == "h"


def test_clean_stop_does_not_restart(actor_system: ActorSystemHandle) -> None:
    rec = actor_system.spawn(Recorder, "rec", None)
    ref = actor_system.spawn(Worker, "w", WorkerInit(rec, "s"), FAST)
    assert actor_system.ask(ref, "label", 5) == "s"
    actor_system.stop(ref)
    got = wait_for(lambda: events(actor_system, rec), lambda e: any(x.kind == "stopped" for x in e))
    time.sleep(0.3)  # longer than FAST's backoff
    got = events(actor_system, rec)
    assert [x.kind for x in got] == ["started", "stopped"]
    assert actor_system.child("w") is None
    with pytest.raises((AskTimeout, ActorFailed)):
        actor_system.ask(ref, "label", 0.3)  # a dead actor: an answer or an error, never a hang


def test_bridge_delivers_in_order_from_another_thread(actor_system: ActorSystemHandle) -> None:
    ref = actor_system.spawn(BridgeUser, "b", BridgeInit(count=2000))
    deadline = time.monotonic() + 8
    while True:
        answer = actor_system.ask(ref, "result", 5)
        assert isinstance(answer, tuple)
        got, _, senders_ok, _ = answer
        if len(got) == 2000 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got == tuple(range(2000)) and senders_ok


def test_context_manager_shuts_down_when_the_body_raises(tmp_path: Path) -> None:
    with (  # noqa: PT012
        pytest.raises(ZeroDivisionError),
        ActorSystemHandle.start("multiproc_queue", "cm", log_dir=tmp_path) as handle,
    ):
        ref = handle.spawn(Worker, "w", WorkerInit())
        pid = handle.ask(ref, "pid", 5)
        _ = 1 / 0
    assert not handle.running
    assert isinstance(pid, int) and _gone(pid, 5)
    handle.shutdown()  # idempotent
    with pytest.raises(LocalError):
        handle.tell(ref, "pid")


def test_shutdown_leaves_no_process_behind(tmp_path: Path) -> None:
    handle = ActorSystemHandle.start("multiproc_queue", "leftovers", log_dir=tmp_path)
    try:
        rec = handle.spawn(Recorder, "rec", None)
        sup = handle.spawn(Supervisor, "sup", SupervisorInit(rec, WorkerInit(rec, "x"), FAST))
        refs = [handle.spawn(Worker, f"w{n}", WorkerInit()) for n in range(3)]
        child = handle.ask(sup, "child", 5)
        assert isinstance(child, Ref)
        pids = {handle.ask(ref, "pid", 5) for ref in [*refs, child]}
        assert all(isinstance(pid, int) for pid in pids) and len(pids) == 4
        # thespian double-forks the admin (its parent becomes PID 1), so find it as the top
        # ancestor of the actors, then take everything under it: admin, logger, all actors.
        parents = _parents()
        admins = {_top_ancestor(int(str(pid)), parents) for pid in pids}
        assert len(admins) == 1 and os.getpid() not in admins
        tree = admins | _descendants(admins.pop(), parents)
        assert pids < tree and len(tree) >= len(pids) + 3  # + admin, logger and root actor
    finally:
        handle.shutdown()
    assert all(_gone(pid, 5) for pid in tree), {p: _state(p) for p in tree}
    assert handle.killed_on_shutdown == frozenset()  # thespian's own shutdown did it all


def test_kernel_logging_survives_a_closed_stream(tmp_path: Path) -> None:
    import io  # noqa: PLC0415

    import structlog  # noqa: PLC0415

    from peoplenet.runtime.kernel.safelog import SafeLogger  # noqa: PLC0415

    stream = io.StringIO()
    stream.close()
    log = SafeLogger(structlog.wrap_logger(structlog.WriteLogger(stream)))
    assert log.bind(actor="x").error("boom", n=1) is None  # swallowed, not raised


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while _state(pid) not in ("gone", "Z"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _parents() -> dict[int, int]:
    """pid -> ppid for every live (not zombie) process, from /proc/*/stat."""
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                out[int(entry)] = int(fields[1])
    return out


def _top_ancestor(pid: int, parents: dict[int, int]) -> int:
    me = os.getpid()
    while parents.get(pid, 1) not in (1, me):
        pid = parents[pid]
    return pid


def _descendants(root: int, parents: dict[int, int]) -> set[int]:
    out: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - out
        out |= frontier
    return out


@pytest.mark.slow
def test_bases_benchmark_reports_rates_and_sockets(capsys: pytest.CaptureFixture[str]) -> None:
    import json  # noqa: PLC0415

    from peoplenet.bench.actor_bases import main  # noqa: PLC0415

    assert main(["--seconds", "0.3"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{\n") :])  # after any debug log lines
    for base in ("simple", "multiproc_queue", "multiproc_tcp"):
        assert report[base]["one_way_small_per_s"] > 100
        assert report[base]["ask_round_trips_per_s"] > 50
    assert report["multiproc_queue"]["listening_sockets"] == []
    assert report["multiproc_tcp"]["listening_sockets"]  # admin + one port per actor
    assert report["multiproc_queue"]["bridge"]["burst_posts_per_s"] > 1000
