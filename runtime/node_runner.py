"""``peoplenet node start``: one node in the foreground, stopped cleanly by Ctrl-C or SIGTERM.

The foreground process holds the data directory's lock, unlocks the key, starts the actor
system (multiprocQueueBase: no thespian socket at all), serves the local control socket and, on
the way out whatever happened, stops the network (so peers see the goodbye) and shuts the actor
system down so no process is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, TextIO

from runtime import inbox
from runtime.codec import Value
from runtime.control import ControlError, ControlServer
from runtime.datadir import DataDir, DataDirError, NodeSettings
from runtime.errors import LocalError
from runtime.identity import fingerprint
from runtime.kernel import ActorSystemHandle, AskTimeout, RestartPolicy
from runtime.keyfile import load_identity
from runtime.node import AwaitReady, NodeSupervisor, Ready, StopNetwork
from runtime.node_messages import ControlReply, ControlRequest, NetworkFailed, NodeInit

SUPERVISOR_POLICY = RestartPolicy(
    max_restarts=3,
    window_s=60.0,
    backoff_initial_s=0.5,
    backoff_max_s=5.0,
    heartbeat_s=None,
    heartbeat_timeout_s=10.0,
)
NODE_BASE: Final = "multiproc_queue"


class NodeStartError(LocalError):
    """The node could not start (busy port, locked data directory ...)."""


@dataclass(frozen=True)
class Overrides:
    listen_host: str | None = None
    listen_port: int | None = None
    advertise_host: str | None = None
    peers: tuple[str, ...] = ()
    mdns: bool | None = None
    auto_accept: bool | None = None


def apply_overrides(settings: NodeSettings, over: Overrides) -> NodeSettings:
    changes: dict[str, object] = {}
    if over.listen_host is not None:
        changes["listen_host"] = over.listen_host
    if over.listen_port is not None:
        changes["listen_port"] = over.listen_port
    if over.advertise_host is not None:
        changes["advertise_host"] = over.advertise_host
    if over.peers:
        changes["peers"] = tuple(settings.peers) + over.peers
    if over.mdns is not None:
        changes["mdns"] = over.mdns
    if over.auto_accept is not None:
        changes["auto_accept"] = over.auto_accept
    return replace(settings, **changes)  # type: ignore[arg-type]


def run_node(
    data: DataDir,
    passphrase: str,
    overrides: Overrides,
    out: TextIO = sys.stdout,
    install_signals: bool = True,
) -> int:
    """Run until SIGINT/SIGTERM or a ``stop`` control request; return the exit status."""
    settings = apply_overrides(data.settings(), overrides)
    lock = data.lock()
    lock.acquire()
    try:
        identity = load_identity(data.key_file, passphrase)
        init = NodeInit(
            data_dir=str(data.root),
            seed=identity.seed(),
            listen_host=settings.listen_host,
            listen_port=settings.listen_port,
            advertise_host=settings.advertise_host,
            network_id=settings.network_id,
            mdns=settings.mdns,
            mdns_interfaces=settings.mdns_interfaces,
            peers=settings.peers,
            auto_accept=settings.auto_accept,
            owner_pid=os.getpid(),
        )
        del identity
        data.logs.mkdir(exist_ok=True)
        with ActorSystemHandle.start(NODE_BASE, "node", log_dir=data.logs) as system:
            supervisor = system.spawn(NodeSupervisor, "node", init, policy=SUPERVISOR_POLICY)
            ready = system.ask(supervisor, AwaitReady(), timeout=30.0)
            if isinstance(ready, NetworkFailed):
                raise NodeStartError(ready.reason)
            if not isinstance(ready, Ready):
                raise NodeStartError(f"the node did not start: {ready!r}")
            banner = (
                f"node {fingerprint(ready.member)} ({ready.member.hex()}) listening on "
                f"{ready.host}:{ready.port}, network {settings.network!r}, "
                f"actors in session {ready.session}"
            )
            try:
                asyncio.run(_serve(data, system, supervisor, install_signals, banner, out))
            finally:
                with contextlib.suppress(AskTimeout):
                    system.ask(supervisor, StopNetwork(), timeout=10.0)
            print("node stopped", file=out, flush=True)
        return 0
    finally:
        lock.release()


async def _serve(  # noqa: PLR0917 - the runner's locals, passed once
    data: DataDir,
    system: ActorSystemHandle,
    supervisor: object,
    install_signals: bool,
    banner: str,
    out: TextIO,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    ask_lock = threading.Lock()
    ids = itertools.count(1)

    def ask(op: str, args: dict[str, Value]) -> Value:
        with ask_lock:
            reply = system.ask(supervisor, ControlRequest(next(ids), op, args), timeout=20.0)  # type: ignore[arg-type]
        if not isinstance(reply, ControlReply):
            raise ControlError(f"unexpected answer {reply!r}", "BadReply")
        if not reply.ok:
            raise ControlError(reply.error, reply.kind)
        return reply.result

    async def handle(op: str, args: dict[str, Value]) -> Value:
        if op == "stop":
            stop.set()
            return "stopping"
        call: Callable[[], Value] = lambda: ask(op, args)  # noqa: E731
        if op == "inbox":  # one query gathered from the node's parts (runtime/inbox.py)
            call = lambda: inbox.gather(ask)  # noqa: E731
        return await loop.run_in_executor(None, call)

    server = ControlServer(data.control_socket, handle)
    await server.start()
    print(banner, file=out, flush=True)  # after the control socket is up: scripts wait for it
    try:
        await stop.wait()
    finally:
        await server.close()


__all__ = ["DataDirError", "NodeStartError", "Overrides", "run_node"]
