"""A customer (a stranger) may use the customer protocol within its quota, and nothing more."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from structlog.testing import capture_logs

from peoplenet.actors.work.customers import sign_request
from peoplenet.actors.work.receipts import ReceiptQuery
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.net.conn_policy import PolicyConfig
from peoplenet.runtime.net.peer_message import CONSUMER_TAGS, record_tag
from peoplenet.runtime.social.dissemination import Disclose
from tests.net_attack import connect, running_node, until

COMMUNITY = b"f/" + bytes(32)


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


def test_a_customers_messages_go_on_at_once_within_its_quota() -> None:
    async def body() -> None:
        policy = PolicyConfig(customer_msgs_per_s=0.001, customer_burst=3)  # no refill here
        async with running_node(policy=policy) as node:
            customer = Identity.generate()
            client = await connect(node.port, customer)
            burst = node.service.policy.customer_burst
            request = sign_request(customer, COMMUNITY, "orders", 1, b"\x80")
            await client.send(request)
            await client.send(ReceiptQuery(COMMUNITY, request.digest, ""))
            with capture_logs() as logs:
                for _ in range(burst):  # two over the burst: refused, not forwarded
                    await client.send(ReceiptQuery(COMMUNITY, request.digest, ""))

                def forwarded() -> int:
                    return sum(1 for e in node.inbound() if record_tag(e.data) in CONSUMER_TAGS)

                assert await until(lambda: forwarded() == burst)
                await asyncio.sleep(0.2)
            assert forwarded() == burst
            assert all(e.peer == customer.member_id and not e.friend for e in node.inbound())
            refused = [e["reason"] for e in logs if e["event"] == "peer_refused"]
            assert refused == ["customer_quota", "customer_quota"]
            assert node.service.strangers.held_bytes == 0  # forwarded, never held
            other = Identity.generate()  # another customer has its own bucket
            second = await connect(node.port, other)
            await second.send(ReceiptQuery(COMMUNITY, request.digest, ""))
            assert await until(lambda: any(e.peer == other.member_id for e in node.inbound()))
            client.close()
            second.close()

    run(body())


def test_a_customer_gets_nothing_else_forwarded() -> None:
    async def body() -> None:
        async with running_node() as node:
            customer = Identity.generate()
            client = await connect(node.port, customer)
            await client.send(Disclose(()))  # a stranger's Disclose is held, not forwarded
            assert await until(lambda: node.service.strangers.held_bytes > 0)
            assert node.inbound() == []
            client.close()

    run(body())
