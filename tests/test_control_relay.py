"""Control requests to a child that dies are answered at once, with the reason.

Before, a request sent to the store actor just after it died was lost with it and the
member's command waited the whole 20 s for "no answer".
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from runtime import control
from runtime.control_relay import ChildFailed, Relay
from runtime.localnet import LocalNode, create_node
from runtime.node_messages import ControlReply, ControlRequest

ANSWER_WITHIN_S = 6.0
"""A dead child is noticed by its parent within ~2 s (thespian's queue wait); 20 s before."""


def test_answers_go_back_to_the_asker_under_its_own_number() -> None:
    relay: Relay[str] = Relay()
    passed = relay.pass_on("store", ControlRequest(7, "status", {}), "asker-a")
    other = relay.pass_on("store", ControlRequest(7, "feed", {}), "asker-b")
    assert passed.request != other.request and passed.op == "status"
    assert relay.answer(ControlReply(other.request, True, "feed!")) == (
        "asker-b",
        ControlReply(7, True, "feed!"),
    )
    assert relay.answer(ControlReply(other.request, True, "again")) is None  # answered once
    assert len(relay) == 1


def test_a_failed_child_answers_its_open_requests_with_the_reason() -> None:
    relay: Relay[str] = Relay()
    relay.pass_on("store", ControlRequest(1, "post", {}), "a")
    relay.pass_on("network", ControlRequest(2, "peers", {}), "b")
    relay.pass_on("store", ControlRequest(3, "status", {}), "c")
    lost = relay.child_failed("store", "DiskFull: disk full")
    assert [(asker, r.request, r.ok, r.kind) for asker, r in lost] == [
        ("a", 1, False, ChildFailed),
        ("c", 3, False, ChildFailed),
    ]
    assert "store actor failed (DiskFull: disk full)" in lost[0][1].error
    assert relay.last_failure("store") == "DiskFull: disk full"
    assert len(relay) == 1  # the network's request is still open
    assert relay.child_failed("store", "again") == []


def _store_processes(node: LocalNode) -> set[int]:
    target = os.fspath(node.data.blocks_db.resolve())
    found = set()
    for pid in node.group_pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        if any(os.path.realpath(f"/proc/{pid}/fd/{fd}") == target for fd in fds):
            found.add(pid)
    return found


@pytest.mark.processes
def test_a_command_to_a_killed_store_actor_answers_at_once(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    data, identity = create_node(tmp_path / "n", network=f"t-{time.time_ns()}", mdns=False)
    node = LocalNode("n", data, identity.member_id)
    nodes.append(node)
    node.start()
    node.call("post", {"text": "before"})
    store = _store_processes(node)
    assert len(store) == 1
    os.kill(store.pop(), signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(control.ControlError) as lost:
        node.call("status")
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert lost.value.kind in (ChildFailed, "Busy"), lost.value
    assert "store actor failed" in str(lost.value), lost.value
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
