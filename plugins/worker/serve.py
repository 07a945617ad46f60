"""The app worker process: serves the node's calls with app code, holding no key.

``python -m peoplenet.plugins.worker MODULE:ATTR`` (the entry point; this module is its
body) loads
a mapping of handlers, each ``handler(args, back) -> result``, where ``back(method, args)``
calls the node and returns its answer (or raises :class:`CallbackRefused`); a
:class:`Handlers` mapping may also say what to close when the worker ends.  The channel keeps
file descriptor 1 for itself and points ``sys.stdout`` (and fd 1) at stderr, so an app's
``print`` cannot corrupt a frame.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from peoplenet.plugins.worker.channel import CallFailed, FrameReader, Message, WorkerError, parse
from peoplenet.runtime.kernel.gc_tuning import tune_gc
from peoplenet.runtime.wire.codec import Value


@dataclass(slots=True)
class _Channel:
    fd: int = -1


PROFILE_VARIABLE: Final = "PEOPLENET_WORKER_PROFILE"
"""Set to a folder, the worker profiles itself and its apps' threads (:mod:`cProfile`, in each
thread's CPU time: waiting on the channel costs nothing) and leaves the statistics there when
it stops (``worker-<pid>.prof``, ``worker-<pid>-<n>.prof``).  Off unless set; the node passes
this one variable on (see ``KEPT_ENVIRONMENT``)."""

CHANNEL: Final = _Channel()
"""``CHANNEL.fd``: the descriptor frames go out on, once :func:`main` set it up."""

Back = Callable[[str, Value], Value]
Handler = Callable[[Value, Back], Value]


class Handlers(dict[str, Handler]):
    """Handlers by method name, and what to close when the worker ends.

    Why: the node stops a worker with ``stop`` (or by closing its pipe) and then waits only
    briefly before killing it; whatever the handlers hold open (an app lace's SQLite store,
    whose blocks are still in its write-ahead log) must be closed before :func:`serve` returns.
    """

    def __init__(
        self, handlers: Mapping[str, Handler], on_stop: Callable[[], None] | None = None
    ) -> None:
        super().__init__(handlers)
        self.on_stop = on_stop


class CallbackRefused(CallFailed):
    """The node refused a callback (e.g. ``ConsentRefused`` for a signature)."""

    reason = "callback_refused"


class _Link:
    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.reader = FrameReader()
        self.ready: list[bytes] = []
        self.next_back = 0

    def send(self, msg: Message) -> None:
        self.send_raw(msg.encode())

    def send_raw(self, frame: bytes) -> None:
        data = memoryview(frame)
        while data:
            data = data[os.write(self.wfd, data) :]

    def receive(self) -> Message | None:
        while not self.ready:
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                return None
            self.ready.extend(self.reader.feed(chunk))
        return parse(self.ready.pop(0), own=True)  # the node's frames: canonical already

    def back(self, method: str, args: Value) -> Value:
        self.next_back += 1
        back_id = self.next_back
        self.send(Message("back", back_id, method, args))
        answer = self.receive()
        if answer is None or answer.id != back_id or answer.kind not in ("ok", "fail"):
            raise WorkerError("the node broke the callback protocol")
        if answer.kind == "fail":
            raise CallbackRefused(answer.method, answer.detail)
        return answer.value


def serve(handlers: Mapping[str, Handler], rfd: int, wfd: int) -> int:
    """Answer calls until ``stop`` or the node closes the pipe; the exit status.

    However it ends, a :class:`Handlers` mapping's ``on_stop`` runs before it returns."""
    try:
        return _answer(handlers, _Link(rfd, wfd))
    finally:
        on_stop = handlers.on_stop if isinstance(handlers, Handlers) else None
        if on_stop is not None:
            on_stop()


def _answer(handlers: Mapping[str, Handler], link: _Link) -> int:
    while True:
        msg = link.receive()
        if msg is None or msg.kind == "stop":
            return 0
        if msg.kind != "call":
            return 2
        handler = handlers.get(msg.method)
        if handler is None:
            link.send(Message("fail", msg.id, "UnknownMethod", detail=msg.method))
            continue
        try:
            answer = Message("ok", msg.id, value=handler(msg.value, link.back)).encode()
        except Exception as exc:  # the app's failure (or unencodable result) is the node's to judge
            answer = Message("fail", msg.id, type(exc).__name__, detail=str(exc)).encode()
        link.send_raw(answer)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or ":" not in argv[1]:
        print("usage: python -m peoplenet.plugins.worker MODULE:ATTR", file=sys.stderr)
        return 2
    tune_gc()  # a long-lived process of the node's, holding the apps' states and laces
    CHANNEL.fd = os.dup(1)
    os.dup2(2, 1)  # anything printed goes to stderr, never into a frame
    sys.stdout = sys.stderr
    module, _, attr = argv[1].partition(":")
    handlers = getattr(importlib.import_module(module), attr)
    profile_dir = os.environ.get(PROFILE_VARIABLE)
    if profile_dir:
        return _serve_profiled(handlers, Path(profile_dir))
    return serve(handlers, 0, CHANNEL.fd)


def _serve_profiled(handlers: Mapping[str, Handler], folder: Path) -> int:
    """:func:`serve` under :mod:`cProfile`, and every thread it starts (the apps' threads) too:
    ``folder/worker-<pid>.prof`` for the serving thread, ``worker-<pid>-<n>.prof`` for the
    others, written when :func:`serve` returns (read them with :mod:`pstats`)."""
    import cProfile  # noqa: PLC0415 - only when profiling
    import threading  # noqa: PLC0415

    profilers: list[cProfile.Profile] = []
    run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        profiler = cProfile.Profile(time.thread_time)
        profilers.append(profiler)
        profiler.runcall(run, thread)

    threading.Thread.run = profiled_run  # type: ignore[method-assign,assignment]
    main_profiler = cProfile.Profile(time.thread_time)
    try:
        return main_profiler.runcall(serve, handlers, 0, CHANNEL.fd)
    finally:
        threading.Thread.run = run  # type: ignore[method-assign]
        folder.mkdir(parents=True, exist_ok=True)
        main_profiler.dump_stats(folder / f"worker-{os.getpid()}.prof")
        for n, profiler in enumerate(profilers, 1):
            profiler.dump_stats(folder / f"worker-{os.getpid()}-{n}.prof")


__all__ = [
    "CHANNEL", "PROFILE_VARIABLE", "Back", "CallbackRefused", "Handler", "Handlers", "main",
    "serve",
]  # fmt: skip
