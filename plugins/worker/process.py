"""The node's side of an app worker: a child process that holds no key, called synchronously.

Why a process: app code is third-party Python; in the node's own process it could reach the
member's key and sign anything.  The worker is started with a scrubbed environment (no
passphrase, nothing but what Python needs to import the project), in the node's process group
(a node killed as a whole, as a phone dies, takes its workers with it); a hung worker is
killed by its PID and reaped, never abandoned.  A process an app's code started itself is not
tracked: an app that starts processes must stop them.  Calls are synchronous: the node
sends one call and serves the worker's callbacks until the answer comes; every wait for the
worker has a deadline.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Final

from peoplenet.plugins.worker.channel import (
    CallFailed,
    FrameReader,
    Message,
    WorkerGone,
    WorkerHung,
    WorkerProtocolError,
    parse,
)
from peoplenet.runtime.errors import PeoplenetError
from peoplenet.runtime.wire.codec import Value

KEPT_ENVIRONMENT: Final = (
    "PATH", "LANG", "LC_ALL", "TZ", "PYTHONHASHSEED", "PEOPLENET_WORKER_PROFILE",
)  # fmt: skip
"""The only variables a worker inherits: never a passphrase or a data directory."""

STOP_WAIT_S: Final = 3.0

Callback = Callable[[Value], Value]


class WorkerProcess:
    """One running worker (``python -m peoplenet.plugins.worker HANDLERS``)."""

    def __init__(self, handlers: str, *, cwd: str | None = None) -> None:
        env = {k: os.environ[k] for k in KEPT_ENVIRONMENT if k in os.environ}
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        self._proc = subprocess.Popen(  # noqa: S603 - our interpreter, our module, no shell
            [sys.executable, "-m", "peoplenet.plugins.worker", handlers],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._to = self._proc.stdin.fileno()
        self._from = self._proc.stdout.fileno()
        self._reader = FrameReader()
        self._ready: list[bytes] = []
        self._next_id = 0

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def call(
        self,
        method: str,
        args: Value,
        *,
        deadline_s: float,
        callbacks: Mapping[str, Callback] | None = None,
    ) -> Value:
        """Run ``method`` in the worker; serve its callbacks; return its result.

        ``deadline_s`` bounds each wait for the worker (time spent in callbacks, on the node's
        side, does not count).  Raises :class:`CallFailed` (the handler raised),
        :class:`WorkerHung` (killed), :class:`WorkerGone` or :class:`WorkerProtocolError`
        (killed: a worker that speaks garbage is not trusted with the next call).
        """
        self._next_id += 1
        call_id = self._next_id
        self._send(Message("call", call_id, method, args))
        served = callbacks or {}
        while True:
            msg = self._receive(deadline_s)
            if msg.kind == "back":
                self._send(self._serve(msg, served))
            elif msg.kind in ("ok", "fail") and msg.id == call_id:
                if msg.kind == "fail":
                    raise CallFailed(msg.method, msg.detail)
                return msg.value
            else:
                self.kill()
                raise WorkerProtocolError("unexpected", f"{msg.kind} #{msg.id} during #{call_id}")

    def _serve(self, msg: Message, callbacks: Mapping[str, Callback]) -> Message:
        handler = callbacks.get(msg.method)
        if handler is None:
            return Message("fail", msg.id, "UnknownCallback", detail=msg.method)
        try:
            return Message("ok", msg.id, value=handler(msg.value))
        except PeoplenetError as exc:  # a refusal the worker's code should see, typed
            return Message("fail", msg.id, type(exc).__name__, detail=str(exc))

    def _send(self, msg: Message) -> None:
        data = memoryview(msg.encode())
        try:
            while data:
                written = os.write(self._to, data)
                data = data[written:]
        except (BrokenPipeError, OSError) as exc:
            self.kill()
            raise WorkerGone(f"the worker's pipe closed: {exc}") from None

    def _receive(self, deadline_s: float) -> Message:
        until = time.monotonic() + deadline_s
        while not self._ready:
            left = until - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerHung(f"no answer within {deadline_s} s; the worker was killed")
            readable, _, _ = select.select([self._from], [], [], left)
            if not readable:
                continue
            chunk = os.read(self._from, 1 << 16)
            if not chunk:
                self.kill()
                raise WorkerGone("the worker exited")
            try:
                self._ready.extend(self._reader.feed(chunk))
            except WorkerProtocolError:
                self.kill()
                raise
        try:
            return parse(self._ready.pop(0))
        except WorkerProtocolError:
            self.kill()
            raise

    def close(self) -> None:
        """Ask the worker to exit; kill its group if it does not within :data:`STOP_WAIT_S`."""
        if self.alive():
            with contextlib.suppress(WorkerGone):
                self._send(Message("stop"))
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(STOP_WAIT_S)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the worker (by its PID) and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            self._proc.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(STOP_WAIT_S)
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


__all__ = ["KEPT_ENVIRONMENT", "Callback", "WorkerProcess"]
