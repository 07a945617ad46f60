"""Control requests to a child that dies are answered at once, with the reason.

Before, a request sent to the store actor just after it died was lost with it and the
member's command waited the whole 20 s for "no answer".
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from peoplenet.actors.member.control_relay import NODE_RESTARTING, ChildFailed, Relay
from peoplenet.actors.member.messages import ControlReply, ControlRequest
from peoplenet.actors.member.runner import ROOT_SILENT
from peoplenet.runtime.kernel import ActorSystemHandle
from peoplenet.runtime.kernel.proctree import why_not_running
from peoplenet.runtime.local import control
from peoplenet.runtime.local.procs import lock_holders
from peoplenet.runtime.sim.localnet import LocalNode
from tests.relay_actors import Forwarder

ANSWER_WITHIN_S = 6.0
"""A dead child is noticed by its parent within ~2 s (thespian's queue wait); 20 s before."""


def test_answers_go_back_to_the_asker_under_its_own_number() -> None:
    relay: Relay[str] = Relay()
    passed = relay.pass_on("store", ControlRequest(request=7, op="status", args={}), "asker-a")
    other = relay.pass_on("store", ControlRequest(request=7, op="feed", args={}), "asker-b")
    assert passed.request != other.request and passed.op == "status"
    assert relay.answer(ControlReply(request=other.request, ok=True, result="feed!")) == (
        "asker-b",
        ControlReply(request=7, ok=True, result="feed!"),
    )
    assert (
        relay.answer(ControlReply(request=other.request, ok=True, result="again")) is None
    )  # answered once
    assert len(relay) == 1


def test_a_failed_child_answers_its_open_requests_with_the_reason() -> None:
    relay: Relay[str] = Relay()
    relay.pass_on("store", ControlRequest(request=1, op="post", args={}), "a")
    relay.pass_on("network", ControlRequest(request=2, op="peers", args={}), "b")
    relay.pass_on("store", ControlRequest(request=3, op="status", args={}), "c")
    lost = relay.child_failed("store", "DiskFull: disk full")
    assert [(asker, r.request, r.ok, r.reason) for asker, r in lost] == [
        ("a", 1, False, ChildFailed),
        ("c", 3, False, ChildFailed),
    ]
    assert "store actor failed (DiskFull: disk full)" in lost[0][1].error
    assert relay.last_failure("store") == "DiskFull: disk full"
    assert len(relay) == 1  # the network's request is still open
    assert relay.child_failed("store", "again") == []


def test_a_child_that_crashes_holding_a_request_has_it_answered_at_once(
    actor_system: ActorSystemHandle,
) -> None:
    parent = actor_system.spawn(Forwarder, "forwarder", None)
    assert actor_system.ask(
        parent, ControlRequest(request=41, op="echo", args={}), timeout=10
    ) == ControlReply(request=41, ok=True, result="echo")
    started = time.monotonic()
    answer = actor_system.ask(parent, ControlRequest(request=42, op="boom", args={}), timeout=20)
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert isinstance(answer, ControlReply)
    assert (answer.request, answer.ok, answer.reason) == (42, False, ChildFailed)
    assert "child actor failed (RuntimeError: boom on purpose)" in answer.error


def _store_processes(node: LocalNode) -> set[int]:
    """The node's processes that have blocks.sqlite open: the store actor."""
    return lock_holders(node.data.blocks_db) & node.group_pids()


@pytest.mark.processes
def test_a_command_to_a_killed_store_actor_answers_at_once(
    lone_node: Callable[..., LocalNode],
) -> None:
    node = lone_node()
    node.call("post", {"text": "before"})
    store = _store_processes(node)
    assert len(store) == 1
    os.kill(store.pop(), signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(control.ControlError) as lost:
        node.call("status")
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert lost.value.reason in (ChildFailed, NODE_RESTARTING), lost.value
    said = str(lost.value)
    assert "store actor failed" in said or "store actor has ended" in said, said
    deadline = time.monotonic() + 20
    while True:  # restarted: it answers again, the post made before is there
        try:
            feed = node.call("feed")
            break
        except control.ControlError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert [item["text"] for item in feed] == ["before"]
    assert node.stop() == 0


@pytest.mark.processes
def test_a_command_to_a_stopped_store_actor_answers_at_once(
    lone_node: Callable[..., LocalNode],
) -> None:
    node = lone_node()
    node.call("post", {"text": "before"})
    (store,) = _store_processes(node)
    os.kill(store, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(control.ControlError) as stuck:
            node.call("feed")
        assert time.monotonic() - started < ANSWER_WITHIN_S
        assert stuck.value.reason == ChildFailed
        assert f"store actor is stopped (process {store}" in str(stuck.value)
    finally:
        os.kill(store, signal.SIGCONT)
    assert [item["text"] for item in node.call("feed")] == ["before"]  # going on again
    assert node.stop() == 0


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


@pytest.mark.processes
def test_a_root_actor_that_does_not_answer_is_not_called_a_restart(
    lone_node: Callable[..., LocalNode],
) -> None:
    """Before, a command whose root actor did not say which supervisor runs answered
    ``node_restarting`` -- for minutes when the root was stuck, though nothing restarted."""
    node = lone_node()
    (store,) = _store_processes(node)
    root = _parent_of(_parent_of(store))  # the store's parent is the supervisor, its the root
    os.kill(root, signal.SIGSTOP)
    try:
        with pytest.raises(control.ControlError) as silent:
            node.call("status")
        assert silent.value.reason == "actor_timeout", silent.value
        assert str(silent.value) == ROOT_SILENT
    finally:
        os.kill(root, signal.SIGCONT)
    assert node.call("status") is not None  # going on again
    assert node.stop() == 0


def test_why_not_running_reads_the_process_state() -> None:
    assert why_not_running(os.getpid()) is None
    assert why_not_running(None) is None
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only waits to be stopped and killed
        time.sleep(30)
        os._exit(0)
    try:
        os.kill(child, signal.SIGSTOP)
        os.waitpid(child, os.WUNTRACED)
        assert "is stopped" in (why_not_running(child) or "")
        os.kill(child, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while "has ended" not in (why_not_running(child) or "") and time.monotonic() < deadline:
            time.sleep(0.01)  # a zombie until reaped
        assert "has ended" in (why_not_running(child) or "")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)
    assert why_not_running(child) == f"has ended (process {child})"
