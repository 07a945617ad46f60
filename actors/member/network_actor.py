"""The network actor: runs the NetworkService on an asyncio loop in a thread.

It relays between the service (actors/member/network_service.py) and the store actor, routes
epoch and app-lace messages to the consensus actor of their lace (and customers' messages to
the one of the community they name), and forwards hello transcripts to the member actor to be
signed.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from peoplenet.actors.member.lifecycle import StopNetwork
from peoplenet.actors.member.messages import (
    Batch,
    ConsensusRoute,
    ControlReply,
    ControlRequest,
    Discovered,
    Forwarded,
    HelloSigned,
    Inbound,
    Listening,
    NetworkFailed,
    NetworkInit,
    Outbound,
    PeerDown,
    PeerUp,
    PeerViolation,
    SignHello,
    SocialView,
    Wiring,
)
from peoplenet.runtime.errors import RemoteProtocolError, reason_of
from peoplenet.runtime.kernel import Actor, Bridge, Ref
from peoplenet.runtime.keys.identity import MemberId, fingerprint
from peoplenet.runtime.net.peer_message import (
    CONSUMER_TAGS,
    LACE_TAGS,
    record_community,
    record_lace,
    record_tag,
)
from peoplenet.runtime.social.dissemination import FriendRequest
from peoplenet.runtime.wire.codec import Value


class NetworkActor(Actor):
    """Runs the NetworkService on an asyncio loop in a thread; relays between it and the store."""

    def on_start(self, init: object) -> None:
        from peoplenet.actors.member.network_service import (  # noqa: PLC0415 - heavy imports only here
            ListenFailed,
            NetworkService,
            NetworkSettings,
        )

        assert isinstance(init, NetworkInit)
        self.init = init
        self.store: Ref | None = None
        self.member: Ref | None = None
        self.bridge: Bridge = self.start_bridge()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="network", daemon=True)
        self.thread.start()
        self.hello_requests = itertools.count(1)
        self.hello_waiting: dict[int, asyncio.Future[bytes]] = {}
        self.backlog: list[object] = []
        self.routes: dict[bytes, ConsensusRoute] = {}
        """Epoch lace -> the consensus actor that runs it and the lace's participants."""
        self.up: set[bytes] = set()
        """Members with a kept connection now (from the service's PeerUp/PeerDown)."""
        settings = NetworkSettings(
            member=MemberId(init.member),
            network_id=init.network_id,
            listen_host=init.listen_host,
            listen_port=init.listen_port,
            advertise_host=init.advertise_host,
            mdns=init.mdns,
            mdns_interfaces=init.mdns_interfaces,
            peers=init.peers,
        )
        signer = _ActorHelloSigner(self, MemberId(init.member), init.x25519_private)
        self.service = NetworkService(settings, signer, self.bridge.post)

        async def start() -> None:
            try:
                await self.service.start()
            except ListenFailed as exc:
                self.bridge.post(NetworkFailed(reason=str(exc)))

        asyncio.run_coroutine_threadsafe(start(), self.loop)

    def on_stop(self) -> None:
        self._stop_loop()

    def _stop_loop(self) -> None:
        thread: threading.Thread | None = getattr(self, "thread", None)
        if thread is None or not thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop)
        try:
            future.result(timeout=5.0)
        except Exception as exc:
            self.log.warning("network_stop_error", error=repr(exc))
        self.loop.call_soon_threadsafe(self.loop.stop)
        thread.join(timeout=5.0)

    def _call(self, fn: Callable[[], object]) -> None:
        self.loop.call_soon_threadsafe(fn)

    def receive(self, msg: object, sender: Ref) -> None:
        self._dispatch(msg.items if isinstance(msg, Batch) else (msg,))

    def _dispatch(self, items: Sequence[object]) -> None:
        """Peer events go to the store, epoch messages to their community, in one batch each."""
        for_store: list[object] = []
        for_consensus: dict[Ref, list[object]] = {}
        for item in items:
            if isinstance(item, Inbound) and record_tag(item.data) in CONSUMER_TAGS:
                self._to_community(item, for_consensus)
            elif isinstance(item, Inbound) and record_tag(item.data) in LACE_TAGS:
                lace = record_lace(item.data)
                if lace is None:  # not even its header is canonical: the owner never sees it
                    self._violation(
                        PeerViolation(
                            peer=item.peer, reason="malformed", detail="lace message header"
                        )
                    )
                    continue
                route = self.routes.get(lace)
                if route is None or item.peer not in route.members:
                    self.log.info(
                        "epoch_message_dropped",
                        peer=fingerprint(item.peer),
                        lace=lace.hex()[:20],
                        reason="unknown lace" if route is None else "not a participant",
                    )
                    continue
                assert isinstance(route.actor, Ref)
                for_consensus.setdefault(route.actor, []).append(item)
            elif isinstance(item, PeerUp | PeerDown | Inbound | Discovered):
                for_store.append(item)
                if isinstance(item, PeerDown):
                    self.up.discard(item.peer)
                if isinstance(item, PeerUp):
                    self.up.add(item.peer)
                    for route in self._routes_of(item.peer):
                        assert isinstance(route.actor, Ref)
                        for_consensus.setdefault(route.actor, []).append(item)
            else:
                self._handle(item)
        if for_store:
            self._to_store(Batch(items=tuple(for_store)))
        for ref, batch in for_consensus.items():
            self.tell(ref, Batch(items=tuple(batch)))

    def _to_community(self, item: Inbound, batches: dict[Ref, list[object]]) -> None:
        """A customer's message: to the consumer of the community it names, from anyone (the
        network service admitted it within the customer's quota; the consumer decodes it)."""
        community = record_community(item.data)
        route = None if community is None else self.routes.get(community)
        if route is None:
            self.log.info(
                "customer_message_dropped",
                peer=fingerprint(item.peer),
                reason="malformed" if community is None else "unknown community",
            )
            return
        assert isinstance(route.actor, Ref)
        batches.setdefault(route.actor, []).append(item)

    def _routes_of(self, peer: bytes) -> list[ConsensusRoute]:
        seen: dict[Ref, ConsensusRoute] = {}
        for route in self.routes.values():
            if peer in route.members and isinstance(route.actor, Ref):
                seen[route.actor] = route
        return list(seen.values())

    def _set_route(self, route: ConsensusRoute) -> None:
        """A consensus actor (re)announced itself: route its laces, keep its members dialled."""
        for lace in route.laces:
            self.routes[lace] = route
        assert isinstance(route.actor, Ref)
        already = tuple(PeerUp(peer=m) for m in route.members if m in self.up)
        if already:  # the actor (re)started after these came up: it greets them now
            self.tell(route.actor, Batch(items=already))
        community = {MemberId(m) for r in self.routes.values() for m in r.members}
        self._call(lambda: self.service.set_community(community))

    def _handle(self, msg: object) -> None:
        if isinstance(msg, Wiring):
            self.store = msg.store if isinstance(msg.store, Ref) else None
            self.member = msg.member if isinstance(msg.member, Ref) else None
            if self.store is not None:
                for item in self.backlog:
                    self.tell(self.store, item)
                self.backlog.clear()
        elif isinstance(msg, Outbound):
            peer, body = MemberId(msg.peer), msg.data
            self._call(lambda: self.service.send(peer, body))
        elif isinstance(msg, PeerViolation):
            self._violation(msg)
        elif isinstance(msg, SocialView):
            friends = {MemberId(f) for f in msg.friends}
            addresses = {MemberId(m): (h, p) for m, h, p in msg.addresses}
            requests = {MemberId(m): r for m, r in msg.requests if isinstance(r, FriendRequest)}
            self._call(lambda: self.service.set_social(friends, addresses, requests))
        elif isinstance(msg, SignHello):  # posted by the loop thread through the bridge
            if self.member is not None:
                self.tell(self.member, msg)
        elif isinstance(msg, HelloSigned):
            waiter = self.hello_waiting.pop(msg.request, None)
            if waiter is not None:
                self.loop.call_soon_threadsafe(_settle, waiter, msg.signature)
        elif isinstance(msg, Listening):
            self._to_parent(msg)
            self._to_store(msg)
        elif isinstance(msg, NetworkFailed):
            self._to_parent(msg)
        elif isinstance(msg, ConsensusRoute):
            self._set_route(msg)
        elif isinstance(msg, Forwarded):
            self._forwarded(msg)

    def _violation(self, msg: PeerViolation) -> None:
        peer, error = MemberId(msg.peer), RemoteProtocolError(msg.reason, msg.detail)
        self._call(lambda: self.service.violation(peer, error))

    def _to_parent(self, msg: object) -> None:
        if self.parent is not None:
            self.tell(self.parent, msg)

    def _to_store(self, msg: object) -> None:
        if self.store is None:
            self.backlog.append(msg)
        else:
            self.tell(self.store, msg)

    def _forwarded(self, fwd: Forwarded) -> None:
        inner = fwd.msg
        assert isinstance(fwd.reply_to, Ref)
        if isinstance(inner, StopNetwork):
            self._stop_loop()
            self.tell(fwd.reply_to, True)
            return
        assert isinstance(inner, ControlRequest)
        future: Future[Value] = asyncio.run_coroutine_threadsafe(self._peers(inner.op), self.loop)
        try:
            result = future.result(timeout=5.0)
        except Exception as exc:
            failed = ControlReply(
                request=inner.request, ok=False, result=None, error=repr(exc), reason=reason_of(exc)
            )
            self.tell(fwd.reply_to, failed)
            return
        self.tell(fwd.reply_to, ControlReply(request=inner.request, ok=True, result=result))

    async def _peers(self, op: str) -> Value:
        if op == "connections":
            return tuple(self.service.status())
        return tuple(self.service.discovered())

    def register_hello(self, future: asyncio.Future[bytes]) -> int:
        request = next(self.hello_requests)
        self.hello_waiting[request] = future
        return request


def _settle(future: asyncio.Future[bytes], value: bytes) -> None:
    if not future.done():
        future.set_result(value)


class _ActorHelloSigner:
    """The transport's signer: forwards hello transcripts to the member actor and awaits them."""

    def __init__(self, actor: NetworkActor, member: MemberId, x25519_private: bytes) -> None:
        self._actor = actor
        self.member_id = member
        self.x25519_private = x25519_private

    async def sign_hello(self, transcript: bytes) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        # The request id is taken on the loop thread; the dict write is a single atomic store.
        request = self._actor.register_hello(future)
        self._actor.bridge.post(SignHello(request=request, transcript=transcript))
        return await asyncio.wait_for(future, timeout=10.0)
