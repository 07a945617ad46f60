"""Keeping connections to wanted peers: exponential backoff and an asyncio redialer.

Why: phones and laptops drop off the network all the time; the node says once which friends it
wants to be connected to, and this module keeps dialing them, slower and slower (with jitter, so
a restarted peer is not hit by everyone at the same instant), until they answer again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

from peoplenet.runtime.errors import LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import MemberId, fingerprint
from peoplenet.runtime.log import get_logger
from peoplenet.runtime.net.transport import Connection, Transport


class Backoff:
    """Pure exponential backoff with multiplicative jitter: ``initial * factor**n``, capped."""

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial_s <= max_s or factor < 1 or not 0 <= jitter < 1:
            raise LocalError("backoff needs 0 < initial <= max, factor >= 1, 0 <= jitter < 1")
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self.jitter = jitter
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not secrets
        self._attempt = 0

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts one more failure."""
        base = min(self.max_s, self.initial_s * self.factor**self._attempt)
        if base < self.max_s:
            self._attempt += 1
        spread = 1 + self.jitter * self._rng.uniform(-1.0, 1.0)
        return min(self.max_s, base * spread)

    def reset(self) -> None:
        """A connection succeeded: the next failure starts from ``initial_s`` again."""
        self._attempt = 0


@dataclass
class _Want:
    host: str
    port: int
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Redialer:
    """Keeps one connection to each wanted member, redialing with backoff after a loss.

    An existing connection to the member (say, one it dialed to us) counts: the redialer waits
    on it rather than dialing a second one.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        initial_s: float = 0.5,
        max_s: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self._transport = transport
        self._initial_s = initial_s
        self._max_s = max_s
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not secrets
        self._wants: dict[MemberId, _Want] = {}
        self._closed = False

    def want(self, member: MemberId, host: str, port: int) -> None:
        """Keep a connection to ``member`` at ``host:port`` (idempotent; updates the address)."""
        if self._closed:
            raise LocalError("the redialer is closed")
        wanted = self._wants.get(member)
        if wanted is not None:
            self.update_address(member, host, port)
            return
        wanted = _Want(host, port)
        self._wants[member] = wanted
        wanted.task = asyncio.create_task(self._keep(member, wanted))

    def update_address(self, member: MemberId, host: str, port: int) -> None:
        """Use a new address from now on; a pending backoff wait is cut short."""
        wanted = self._wants.get(member)
        if wanted is None:
            return
        wanted.host, wanted.port = host, port
        wanted.wake.set()

    def unwant(self, member: MemberId) -> None:
        """Stop redialing ``member``; an open connection is left to its owner."""
        wanted = self._wants.pop(member, None)
        if wanted is not None and wanted.task is not None:
            wanted.task.cancel()

    def wanted(self) -> list[MemberId]:
        return list(self._wants)

    def connection(self, member: MemberId) -> Connection | None:
        for conn in self._transport.connections():
            if conn.peer == member:
                return conn
        return None

    async def close(self) -> None:
        """Stop every redial loop and wait for them (connections stay with the transport)."""
        self._closed = True
        tasks = [w.task for w in self._wants.values() if w.task is not None]
        self._wants.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep(self, member: MemberId, wanted: _Want) -> None:
        backoff = Backoff(self._initial_s, self._max_s, rng=self._rng)
        log = get_logger("redialer", member=fingerprint(member))
        while True:
            conn = self.connection(member)
            if conn is None:
                try:
                    conn = await self._transport.connect(wanted.host, wanted.port, expect=member)
                except (OSError, RemoteProtocolError, LocalError) as exc:
                    delay = backoff.next_delay()
                    log.info(
                        "redial_failed",
                        peer=f"{wanted.host}:{wanted.port}",
                        error=type(exc).__name__,
                        retry_in_s=round(delay, 3),
                    )
                    await self._pause(wanted, delay)
                    continue
                backoff.reset()
            await conn.wait_closed()
            await self._pause(wanted, backoff.next_delay())

    @staticmethod
    async def _pause(wanted: _Want, delay: float) -> None:
        wanted.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wanted.wake.wait(), delay)
