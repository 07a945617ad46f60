"""What a community's delivered order feeds on a node: the consumer protocol.

The consensus actor orders a community's transactions; what they *mean* belongs to the layer
above (a cooperative's governance today, federations later).  That layer plugs in here as a
:class:`Consumer`: a plain object, run inside the consensus actor (no extra thespian hop, one
cursor), fed every delivery in order, and asked for the transactions it wants submitted.

The runtime must not import the layers above it, so consumers are registered from above: the
community's first genesis says what it is by the prefix of its ``community`` field, and the
composer (``peoplenet/main.py``) calls :func:`register_consumer` with that prefix and the
layer's factory before any node starts.  A node's actor processes are forked from the process
that registered, so they inherit the registry.  A consumer never holds the member's
key: it gets a :class:`Signer` that signs only the few statements the core layer needs (an
amendment approval, a surety, a key-update vouch), each under its own domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from peoplenet.runtime.consensus.constitution import (
    Approval,
    Constitution,
    Genesis,
    approve_amendment,
)
from peoplenet.runtime.consensus.core import Delivery
from peoplenet.runtime.errors import LocalError, PeoplenetError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.wire.codec import Value


class ConsumerError(LocalError):
    """A consumer cannot be found or built for a community (a local, configuration fault)."""

    reason = "consumer_error"


class ConsumerBroken(PeoplenetError):
    """The consumer cannot go on (e.g. its app worker died): the community must be restarted,
    which replays it from the stored order.

    A mixin, as :class:`~peoplenet.runtime.errors.Unrecoverable` is: it says what to do, the
    concrete error's other base says whose fault it is (the app worker's: ``AppWorkerFailed``).
    """

    reason = "consumer_broken"


@dataclass(frozen=True, slots=True)
class ConsumerOutput:
    """What a consumer asks of the consensus actor after one call."""

    submit: tuple[Value, ...] = ()
    """Transactions to submit (durably queued, deduplicated by encoding)."""
    wake_at_ms: int | None = None
    """Wall-clock ms at which :meth:`Consumer.tick` should run at the latest.

    None asks for no new timer; it never cancels one asked for earlier (a command's output or a
    peer's message knows nothing of the consumer's deadlines).  An early tick is harmless: the
    consumer recomputes its duties and asks again.
    """
    sends: tuple[tuple[bytes, Value], ...] = ()
    """Messages to peers (the consumer's own laces: apps' replicated laces)."""


class Signer(Protocol):
    """The member's key, restricted to the statements a community consumer may ask for."""

    @property
    def member(self) -> MemberId: ...

    def approve(self, lace: bytes, constitution: Constitution) -> Approval:
        """Sign an amendment of the epoch ``lace`` to ``constitution``."""
        ...

    def sign(self, domain: bytes, digest: bytes) -> bytes:
        """Sign a 32-byte digest under one of :data:`SIGNING_DOMAINS`."""
        ...

    def block(self, lace: bytes, payload: Value, pointers: tuple[bytes, ...]) -> Block:
        """Sign a block of an app lace (``a/...``); no other lace."""
        ...


SIGNING_DOMAINS: Final = frozenset(
    {b"peoplenet/surety", b"peoplenet/key-vouch", b"peoplenet/customer-receipt"}
)
"""What a consumer may have the member sign: sureties, key vouches and receipts it gives
customers (docs/work-kit.md#customers).  Never a customer's request: that is the customer's."""
APP_LACE_PREFIX: Final = b"a/"


class Consumer(Protocol):
    """One community's meaning, folded from its delivered order (pure but for the clock)."""

    @property
    def name(self) -> str:
        """The community's display name."""
        ...

    def replay(
        self,
        geneses: Sequence[Genesis],
        history: Sequence[Delivery],
        beacons: Mapping[bytes, bytes] | None = None,
    ) -> None:
        """Rebuild the state from the stored order (on start), before anything new arrives.

        ``beacons``: block id -> the beacon of the step of the order that delivered it
        (:mod:`peoplenet.runtime.consensus.beacon`), for the blocks of ``history``.
        """
        ...

    def delivered(
        self,
        deliveries: Sequence[Delivery],
        geneses: Sequence[Genesis],
        now_ms: int,
        beacons: Mapping[bytes, bytes] | None = None,
    ) -> ConsumerOutput:
        """New deliveries in order; ``geneses`` holds every epoch's genesis known so far;
        ``beacons`` as for :meth:`replay`."""
        ...

    def tick(self, now_ms: int) -> ConsumerOutput: ...

    def command(
        self, op: str, args: Mapping[str, Value], now_ms: int
    ) -> tuple[Value, ConsumerOutput]:
        """A member's control request (``coop_*`` operations)."""
        ...

    def status(self) -> dict[str, Value]: ...

    def laces(self) -> tuple[bytes, ...]:
        """Extra laces whose messages (``LaceBlocks``/``LaceHave``) the consumer takes, and the
        community ids whose customer messages (``peer_message.CONSUMER_TAGS``) it takes."""
        ...

    def receive(self, peer: bytes, data: bytes, now_ms: int) -> ConsumerOutput:
        """A message of one of :meth:`laces` from a connected member, as the bytes that arrived
        (its owner decodes them); :class:`~peoplenet.runtime.errors.RemoteProtocolError` if it
        is malformed (the peer is then reported)."""
        ...

    def peer_up(self, peer: bytes, now_ms: int) -> ConsumerOutput: ...

    def close(self) -> None:
        """Release what the consumer started (its apps' worker process, files)."""
        ...


def domain_message(domain: bytes, digest: bytes) -> bytes:
    """What a :class:`Signer` actually signs: never a bare digest, which could be a block id."""
    return domain + b"\x00" + digest


class IdentitySigner:
    """The runtime's :class:`Signer` over the member's identity (kept inside the runtime)."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity

    @property
    def member(self) -> MemberId:
        return self._identity.member_id

    def approve(self, lace: bytes, constitution: Constitution) -> Approval:
        return approve_amendment(self._identity, lace, constitution)

    def sign(self, domain: bytes, digest: bytes) -> bytes:
        if domain not in SIGNING_DOMAINS:
            raise ConsumerError(f"a community consumer may not sign under {domain!r}")
        if len(digest) != 32:
            raise ConsumerError("a community consumer signs 32-byte digests only")
        return self._identity.sign(domain_message(domain, digest))

    def block(self, lace: bytes, payload: Value, pointers: tuple[bytes, ...]) -> Block:
        if not lace.startswith(APP_LACE_PREFIX):
            raise ConsumerError("a community consumer signs blocks of app laces only")
        return Block.create(self._identity, lace, payload, pointers)

    def open_sealed_box(self, box: bytes) -> bytes | None:
        """The key of sealed details in a box sealed to the member (apps' sealed details, opened
        for the member's own commands and duties); None if it does not open.  Only 80-byte
        boxes holding a 32-byte key: see :meth:`Identity.open_sealed_box`."""
        return self._identity.open_sealed_box(box)


class ConsumerFactory(Protocol):
    def __call__(self, genesis: Genesis, folder: Path, signer: Signer) -> Consumer: ...


_FACTORIES: dict[bytes, ConsumerFactory] = {}
"""Community-name prefix -> the consumer factory of that kind of community (see
:func:`register_consumer`)."""


def register_consumer(prefix: bytes, factory: ConsumerFactory) -> None:
    """Communities whose name starts with ``prefix`` get their consumer from ``factory``.

    Called from above (the composer) before a node starts.  Registering the same factory
    again is harmless; a second factory for a prefix, or a prefix overlapping another, is a
    :class:`ConsumerError` (which kind a community is must never depend on the order of
    registration).
    """
    if not prefix:
        raise ConsumerError("a community consumer needs a non-empty name prefix")
    for known, other in _FACTORIES.items():
        if known == prefix and other is factory:
            return
        if known.startswith(prefix) or prefix.startswith(known):
            raise ConsumerError(
                f"the community prefix {prefix!r} overlaps {known!r}, which has its consumer"
            )
    _FACTORIES[prefix] = factory


def consumer_factory(genesis: Genesis) -> ConsumerFactory | None:
    """The consumer factory of this community's kind, or None for a plain community."""
    for prefix, factory in _FACTORIES.items():
        if genesis.community.startswith(prefix):
            return factory
    return None


def registered_prefixes() -> tuple[bytes, ...]:
    """The community-name prefixes that have a consumer in this process."""
    return tuple(_FACTORIES)


__all__ = [
    "APP_LACE_PREFIX",
    "SIGNING_DOMAINS",
    "Consumer",
    "ConsumerBroken",
    "ConsumerError",
    "ConsumerFactory",
    "ConsumerOutput",
    "IdentitySigner",
    "Signer",
    "consumer_factory",
    "domain_message",
    "register_consumer",
    "registered_prefixes",
]
