"""The keyless app worker: calls, nested callbacks, typed failures, hangs killed, garbage refused.

Real child processes (``python -m peoplenet.plugins.worker``) with test handlers; the frame
reader
also gets random bytes from Hypothesis and may only ever raise ``WorkerProtocolError``.
"""

from __future__ import annotations

import os
import pstats
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peoplenet.plugins.worker.channel import (
    MAX_FRAME,
    CallFailed,
    FrameReader,
    Message,
    WorkerGone,
    WorkerHung,
    WorkerProtocolError,
    frame,
    parse,
)
from peoplenet.plugins.worker.process import WorkerProcess
from peoplenet.plugins.worker.serve import PROFILE_VARIABLE
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.kernel.gc_tuning import THRESHOLDS
from peoplenet.runtime.wire.codec import Value, encode

HANDLERS = "tests.worker_handlers:HANDLERS"


@pytest.fixture
def worker() -> Iterator[WorkerProcess]:
    proc = WorkerProcess(HANDLERS)
    try:
        yield proc
    finally:
        proc.close()
        assert not proc.alive()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_calls_and_nested_callbacks(worker: WorkerProcess) -> None:
    assert worker.call("echo", {"a": (1, b"x")}, deadline_s=10) == {"a": (1, b"x")}
    added: list[Value] = []

    def add(args: Value) -> Value:
        assert isinstance(args, tuple) and isinstance(args[0], int) and isinstance(args[1], int)
        added.append(args)
        return args[0] + args[1]

    assert worker.call("twice", 5, deadline_s=10, callbacks={"add": add}) == ("done", 16)
    assert added == [(5, 1), (6, 10)]


def test_a_refused_callback_reaches_the_app_typed(worker: WorkerProcess) -> None:
    def sign(args: Value) -> Value:
        raise LocalError("no consent for pay now")

    assert worker.call("refused", "pay", deadline_s=10, callbacks={"sign": sign}) == (
        "refused",
        "LocalError",
    )
    # an unknown callback is refused the same way
    assert worker.call("refused", "pay", deadline_s=10) == ("refused", "UnknownCallback")


def test_failures_are_typed_and_the_worker_goes_on(worker: WorkerProcess) -> None:
    with pytest.raises(CallFailed) as raised:
        worker.call("raise", "x", deadline_s=10)
    assert raised.value.kind == "ValueError" and "bad 'x'" in raised.value.detail
    with pytest.raises(CallFailed) as unknown:
        worker.call("nope", None, deadline_s=10)
    assert unknown.value.kind == "UnknownMethod"
    with pytest.raises(CallFailed) as unencodable:
        worker.call("unencodable", None, deadline_s=10)
    assert unencodable.value.kind == "EncodeError"
    assert worker.call("echo", 3, deadline_s=10) == 3


def test_a_hang_is_killed_at_the_deadline(worker: WorkerProcess) -> None:
    started = time.monotonic()
    with pytest.raises(WorkerHung):
        worker.call("hang", None, deadline_s=0.5)
    assert time.monotonic() - started < 3.0
    assert not worker.alive() and _gone(worker.pid)


def test_garbage_and_exits_are_refused(worker: WorkerProcess) -> None:
    with pytest.raises(WorkerProtocolError) as bad:
        worker.call("garbage", None, deadline_s=10)
    assert bad.value.reason == "bad_message"
    assert not worker.alive()
    other = WorkerProcess(HANDLERS)
    try:
        with pytest.raises(WorkerGone):
            other.call("exit", None, deadline_s=10)
        assert not other.alive()
    finally:
        other.close()


def test_the_worker_inherits_no_secret_and_prints_do_not_corrupt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PEOPLENET_PASSPHRASE", "hunter2")
    monkeypatch.setenv("PEOPLENET_DATA", "/somewhere")
    proc = WorkerProcess(HANDLERS)
    try:
        seen = proc.call("env", None, deadline_s=10)
        assert isinstance(seen, tuple)
        assert not any(str(name).startswith("PEOPLENET") for name in seen)
        assert proc.call("print", "x", deadline_s=10) == "printed"
        assert proc.call("echo", 1, deadline_s=10) == 1
    finally:
        proc.close()


def test_the_worker_collects_garbage_as_the_node_s_processes_do(worker: WorkerProcess) -> None:
    """A long-lived process holding the apps' states and laces: CPython's default young
    generation would rescan them after every few hundred allocations."""
    assert worker.call("gc", None, deadline_s=10) == THRESHOLDS


def test_messages_round_trip_and_malformed_ones_are_refused() -> None:
    for msg in (
        Message("call", 1, "m", (1, "a")),
        Message("back", 2, "sign", b"x"),
        Message("ok", 3, value={"k": None}),
        Message("fail", 4, "ValueError", detail="bad"),
        Message("stop"),
    ):
        (payload,) = FrameReader().feed(msg.encode())
        assert parse(payload) == msg
    for body in (
        (),
        ("ok",),
        ("ok", True, 1),
        ("call", 1, 2, 3),
        ("fail", 1, "k"),
        5,
        ("zap", 1, 2),
    ):
        with pytest.raises(WorkerProtocolError):
            parse(encode(body))
    with pytest.raises(WorkerProtocolError) as big:
        FrameReader().feed((MAX_FRAME + 1).to_bytes(4, "big"))
    assert big.value.reason == "frame_too_large"
    reader = FrameReader()
    whole = frame(encode(("ok", 1, "x")))
    assert reader.feed(whole[:3]) == [] and reader.pending == 3
    assert reader.feed(whole[3:]) == [whole[4:]]


@given(st.binary(max_size=200), st.integers(min_value=1, max_value=17))
def test_random_bytes_only_ever_give_protocol_errors(data: bytes, step: int) -> None:
    reader = FrameReader()
    try:
        for i in range(0, len(data), step):
            for payload in reader.feed(data[i : i + step]):
                parse(payload)
    except WorkerProtocolError:
        pass


def test_a_worker_asked_to_profile_itself_leaves_its_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROFILE_VARIABLE, str(tmp_path))
    proc = WorkerProcess(HANDLERS)
    try:
        assert proc.call("echo", 1, deadline_s=10) == 1
    finally:
        proc.close()
    stats = pstats.Stats(str(tmp_path / f"worker-{proc.pid}.prof"))
    assert any(name == "serve" for _, _, name in stats.stats)  # type: ignore[attr-defined]
