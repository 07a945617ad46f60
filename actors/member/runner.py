"""``peoplenet node start``: one node in the foreground, stopped cleanly by Ctrl-C or SIGTERM.

The foreground process holds the data directory's lock, unlocks the key, checks the node's
files (a damaged one refuses the start, naming it: actors/member/store_check.py), starts the actor
system (multiprocQueueBase: no thespian socket at all), serves the local control socket and, on
the way out whatever happened, stops the network (so peers see the goodbye) and shuts the actor
system down so no process is left behind.  While it serves it watches the root actor: when the
root gives the supervisor up (a fatal error, or its restart bound hit), the node ends with that
error instead of running on without actors.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, TextIO

from peoplenet.actors.member import inbox
from peoplenet.actors.member.control_relay import NODE_RESTARTING
from peoplenet.actors.member.lifecycle import AwaitReady, Ready, StopNetwork
from peoplenet.actors.member.messages import ControlReply, ControlRequest, NetworkFailed, NodeInit
from peoplenet.actors.member.store_check import check_node_files
from peoplenet.actors.member.supervisor import NodeSupervisor
from peoplenet.runtime.errors import LocalError, PeoplenetError
from peoplenet.runtime.kernel import (
    ActorFailed,
    ActorSystemHandle,
    AskTimeout,
    Failure,
    Ref,
    RestartPolicy,
)
from peoplenet.runtime.keys.identity import fingerprint
from peoplenet.runtime.keys.keyfile import load_identity
from peoplenet.runtime.local.control import BAD_REPLY, ControlError, ControlServer
from peoplenet.runtime.local.datadir import DataDir, DataDirError, NodeSettings
from peoplenet.runtime.local.file_modes import private_umask
from peoplenet.runtime.local.procs import end_orphans, write_pids
from peoplenet.runtime.log import get_logger
from peoplenet.runtime.wire.codec import Value

SUPERVISOR_POLICY = RestartPolicy(
    max_restarts=3,
    window_s=60.0,
    backoff_initial_s=0.5,
    backoff_max_s=5.0,
    heartbeat_s=None,
    heartbeat_timeout_s=10.0,
)
NODE_BASE: Final = "multiproc_queue"


READY_TIMEOUT_S: Final = 30.0
READY_POLL_S: Final = 0.5
WATCH_S: Final = 0.5
"""How often the runner asks the root whether it gave up the supervisor."""
STOP_NETWORK_S: Final = 5.0
ROOT_SILENT: Final = (
    "the node's actors did not answer (busy or stuck: see the node's log); try again"
)
"""A command's answer when the root actor does not say which supervisor runs (``actor_timeout``,
not ``node_restarting``: nothing is being restarted, and retrying soon may not help)."""

_log = get_logger("node")


class NodeStartError(LocalError):
    """The node could not start (busy port, locked data directory ...)."""

    reason = "node_start_failed"


class NodeFailed(PeoplenetError):
    """The running node's actors gave up (a damaged file, or a child that kept failing)."""

    reason = "node_failed"


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
    """Run until SIGINT/SIGTERM or a ``stop`` control request; return the exit status.

    Refuses to start on a damaged file (:class:`~peoplenet.runtime.errors.StoreCorrupt`, naming it)
    and
    raises :class:`NodeFailed` when the actors gave up while running (a file damaged under the
    node, or a child that kept failing): in both cases no process of the node is left.
    """
    private_umask()  # every file the node and its processes create: 0600, directories 0700
    settings = apply_overrides(data.settings(), overrides)
    for fix in data.make_private():
        print(f"made private: {fix}", file=out, flush=True)
    orphans = end_orphans(data)
    if orphans:
        print(
            f"ended {len(orphans)} processes left by a node that died "
            f"(pids {' '.join(map(str, sorted(orphans)))})",
            file=out,
            flush=True,
        )
    lock = data.lock()
    lock.acquire()
    try:
        identity = load_identity(data.key_file, passphrase)
        check_node_files(data)
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
        data.logs.mkdir(exist_ok=True, mode=0o700)
        failure: Failure | None = None
        with ActorSystemHandle.start(NODE_BASE, "node", log_dir=data.logs) as system:
            system.spawn(NodeSupervisor, "node", init, policy=SUPERVISOR_POLICY)
            ready = _await_ready(system)
            write_pids(data, os.getpid(), ready.session)
            banner = (
                f"node {fingerprint(ready.member)} ({ready.member.hex()}) listening on "
                f"{ready.host}:{ready.port}, network {settings.network!r}, "
                f"actors in session {ready.session}"
            )
            try:
                failure = asyncio.run(_serve(data, system, install_signals, banner, out))
            finally:
                supervisor = None if failure is not None else _current(system)
                if supervisor is not None:
                    with contextlib.suppress(AskTimeout, ActorFailed):
                        system.ask(supervisor, StopNetwork(), timeout=STOP_NETWORK_S)
        if failure is not None:
            raise NodeFailed(f"the node stopped: {failure.error}")
        print("node stopped", file=out, flush=True)
        return 0
    finally:
        with contextlib.suppress(FileNotFoundError):
            data.pids_file.unlink()
        lock.release()


def _current(system: ActorSystemHandle) -> Ref | None:
    """The supervisor's Ref now (it changes when the root restarts it)."""
    with contextlib.suppress(AskTimeout):
        return system.child("node")
    return None


def _supervisor_for_command(system: ActorSystemHandle) -> Ref:
    """The supervisor to ask; ``node_restarting`` only while the root is restarting it."""
    try:
        supervisor = system.child("node")
    except AskTimeout:  # not a restart: the root could not even say (busy or stuck)
        raise AskTimeout(ROOT_SILENT) from None
    if supervisor is None:
        raise ControlError("the node is restarting; try again", NODE_RESTARTING)
    return supervisor


def _await_ready(system: ActorSystemHandle) -> Ready:
    """Wait for the network to listen; fail at once, with the reason, if the actors gave up."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        supervisor = _current(system)
        answer: object = None
        if supervisor is not None:
            with contextlib.suppress(AskTimeout, ActorFailed):
                answer = system.ask(supervisor, AwaitReady(), timeout=READY_POLL_S)
        if isinstance(answer, NetworkFailed):
            raise NodeStartError(answer.reason)
        if isinstance(answer, Ready):
            return answer
        failures = system.failures()
        if failures:
            raise NodeStartError(f"the node did not start: {failures[0].error}")
        if time.monotonic() > deadline:
            raise NodeStartError(f"the node did not start within {READY_TIMEOUT_S:.0f} s")
        if supervisor is None:
            time.sleep(READY_POLL_S)


async def _serve(
    data: DataDir,
    system: ActorSystemHandle,
    install_signals: bool,
    banner: str,
    out: TextIO,
) -> Failure | None:
    """Serve the control socket until asked to stop; the actors' failure if they gave up."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    ask_lock = threading.Lock()
    ids = itertools.count(1)
    failed: list[Failure] = []

    def ask(op: str, args: dict[str, Value]) -> Value:
        with ask_lock:
            supervisor = _supervisor_for_command(system)
            reply = system.ask(
                supervisor, ControlRequest(request=next(ids), op=op, args=args), timeout=20.0
            )
        if not isinstance(reply, ControlReply):
            raise ControlError(f"unexpected answer {reply!r}", BAD_REPLY)
        if not reply.ok:
            raise ControlError(reply.error, reply.reason)
        return reply.result

    def given_up() -> tuple[Failure, ...]:
        with ask_lock, contextlib.suppress(AskTimeout):
            return system.failures()
        return ()

    async def watch() -> None:
        """The root gives up the supervisor (restart bound hit, or a fatal error): end the node."""
        while not stop.is_set():
            await asyncio.sleep(WATCH_S)
            found = await loop.run_in_executor(None, given_up)
            if found:
                failed.append(found[0])
                stop.set()

    async def handle(op: str, args: dict[str, Value]) -> Value:
        if op == "stop":
            stop.set()
            return "stopping"
        call: Callable[[], Value] = lambda: ask(op, args)  # noqa: E731
        if op == "inbox":  # one query gathered from the node's parts (actors/member/inbox.py)
            call = lambda: inbox.gather(ask)  # noqa: E731
        return await loop.run_in_executor(None, call)

    server = ControlServer(data.control_socket, handle)
    await server.start()
    print(banner, file=out, flush=True)  # after the control socket is up: scripts wait for it
    watcher = asyncio.create_task(watch())
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await server.close()
    if failed:
        _log.error("node_failed", error_type=failed[0].error_type, error=failed[0].error)
    return failed[0] if failed else None


__all__ = ["DataDirError", "NodeFailed", "NodeStartError", "Overrides", "run_node"]
