"""The customer's side of the customer protocol: dial members' nodes, hand over, collect receipts.

A customer belongs to no community, so its node has nothing to keep running between requests:
each ``peoplenet customer`` command is the customer's node for as long as it runs.  It opens
the same encrypted, authenticated transport every node uses (Noise XX, then a Hello signed by
the customer's own key, so a member's node knows exactly which customer it talks to), sends one
message to each member's node it asks, and waits for that node's :class:`CustomerReceipt` about
the request -- from that member and about that request only; anything else is ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from peoplenet.actors.work.customers import CustomerRequest
from peoplenet.actors.work.receipts import CustomerReceipt, ReceiptQuery
from peoplenet.runtime.errors import PeoplenetError, reason_of
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.net.transport import Connection, Transport, TransportConfig
from peoplenet.runtime.wire.codec import Value

ANSWER_S: Final = 10.0
"""How long one member's node may take to answer (a carrier runs the app's check first)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A member's node to ask: who must answer (the transport checks it) and where."""

    member: bytes
    host: str
    port: int


@dataclass(slots=True)
class Answer:
    """What one member's node said: its receipt, or why there is none."""

    target: Target
    receipt: CustomerReceipt | None = None
    error: str = ""
    """Why no receipt came (``unreachable: ...``, ``timeout``), empty if one did."""


@dataclass
class _Collector:
    """The transport's handler: keeps each peer's first receipt about ``request``."""

    request: bytes
    waiting: dict[bytes, asyncio.Future[CustomerReceipt]] = field(default_factory=dict)

    async def on_connected(self, conn: Connection) -> None:
        return None

    async def on_message(self, conn: Connection, msg: Value) -> None:
        future = self.waiting.get(bytes(conn.peer))
        if (
            future is not None
            and not future.done()
            and isinstance(msg, CustomerReceipt)
            and msg.member == conn.peer
            and msg.request == self.request
        ):
            future.set_result(msg)

    async def on_closed(self, conn: Connection, error: Exception | None) -> None:
        return None


def hand_over(
    identity: Identity,
    network_id: bytes,
    targets: Sequence[Target],
    message: CustomerRequest | ReceiptQuery,
    timeout_s: float = ANSWER_S,
) -> list[Answer]:
    """Send ``message`` to every target at once; each one's answer (blocking)."""
    request = message.digest if isinstance(message, CustomerRequest) else message.request
    collector = _Collector(request)
    return asyncio.run(_exchange(identity, network_id, targets, message, collector, timeout_s))


async def _exchange(  # noqa: PLR0917 - one call's parts
    identity: Identity,
    network_id: bytes,
    targets: Sequence[Target],
    message: CustomerRequest | ReceiptQuery,
    collector: _Collector,
    timeout_s: float,
) -> list[Answer]:
    transport = Transport(identity, TransportConfig(network_id=network_id), collector)
    try:
        return list(
            await asyncio.gather(
                *(_ask(transport, collector, t, message, timeout_s) for t in targets)
            )
        )
    finally:
        await transport.close()


async def _ask(
    transport: Transport,
    collector: _Collector,
    target: Target,
    message: CustomerRequest | ReceiptQuery,
    timeout_s: float,
) -> Answer:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[CustomerReceipt] = loop.create_future()
    collector.waiting[target.member] = future
    try:
        conn = await transport.connect(target.host, target.port, expect=MemberId(target.member))
        await conn.send(message)
        receipt = await asyncio.wait_for(future, timeout_s)
    except TimeoutError:
        return Answer(target, error="timeout: no answer")
    except (OSError, PeoplenetError) as exc:
        reason = reason_of(exc) if isinstance(exc, PeoplenetError) else "unreachable"
        return Answer(target, error=f"{reason}: {exc}")
    return Answer(target, receipt)


__all__ = ["ANSWER_S", "Answer", "Target", "hand_over"]
