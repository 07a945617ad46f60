"""The worker's serving loop, in this process over pipes: however it ends, it closes."""

from __future__ import annotations

import os

import pytest

from peoplenet.plugins.worker.channel import Message
from peoplenet.plugins.worker.serve import Back, Handlers, serve
from peoplenet.runtime.wire.codec import Value


def _echo(args: Value, back: Back) -> Value:
    return args


@pytest.mark.parametrize("end", ["stop", "pipe_closed"])
def test_serve_runs_on_stop_before_it_returns(end: str) -> None:
    closed: list[str] = []
    handlers = Handlers({"echo": _echo}, on_stop=lambda: closed.append("closed"))
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    try:
        os.write(to_worker_w, Message("call", 1, "echo", 7).encode())
        if end == "stop":
            os.write(to_worker_w, Message("stop").encode())
        os.close(to_worker_w)
        to_worker_w = -1
        assert serve(handlers, to_worker_r, from_worker_w) == 0
        assert closed == ["closed"]
        assert os.read(from_worker_r, 1 << 16) == Message("ok", 1, value=7).encode()
    finally:
        for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w):
            if fd >= 0:
                os.close(fd)


def test_a_plain_mapping_still_serves() -> None:
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    try:
        os.write(to_worker_w, Message("stop").encode())
        assert serve({"echo": _echo}, to_worker_r, from_worker_w) == 0
    finally:
        for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w):
            os.close(fd)


def test_the_nodes_frames_are_not_checked_for_canonical_form_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The node's encoder made them canonical: the worker does not walk and re-pack each one
    (the check :func:`decode` does on a peer's bytes)."""
    from peoplenet.runtime.wire import codec  # noqa: PLC0415 - patched below

    checks: list[object] = []
    check = codec._check_decoded

    def counting(value: object, depth: int) -> None:
        checks.append(value)
        check(value, depth)

    monkeypatch.setattr(codec, "_check_decoded", counting)
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    try:
        os.write(to_worker_w, Message("call", 1, "echo", {"a": (1, b"x")}).encode())
        os.write(to_worker_w, Message("stop").encode())
        assert serve({"echo": _echo}, to_worker_r, from_worker_w) == 0
        assert os.read(from_worker_r, 1 << 16) == Message("ok", 1, value={"a": (1, b"x")}).encode()
        assert checks == []
    finally:
        for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w):
            os.close(fd)
