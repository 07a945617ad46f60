"""Messages between the actors of one node: frozen, slotted, keyword-only dataclasses.

Frozen and at module level because thespian's multiproc bases pickle every message and find
its class by module path; slotted because they are many and small; keyword-only so that adding
or reordering a field cannot silently shift values between fields at a construction site.
Fields holding an actor are typed :class:`~peoplenet.runtime.kernel.ref.Ref`.

These never leave the phone: what travels between phones is in runtime/social/dissemination.py and
runtime/net/transport.py.  Member ids and block ids are raw bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peoplenet.runtime.errors import reason_of
from peoplenet.runtime.kernel.ref import Ref
from peoplenet.runtime.wire.codec import Value

# -- start-up ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeInit:
    """What the node supervisor needs: where the data lives and the unlocked key's seed."""

    data_dir: str
    seed: bytes = field(repr=False)
    listen_host: str
    listen_port: int
    advertise_host: str
    network_id: bytes
    mdns: bool
    mdns_interfaces: tuple[str, ...]
    peers: tuple[str, ...]
    auto_accept: bool
    owner_pid: int = 0
    """The foreground process; if it dies, the node's actors end themselves (no leftovers)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberInit:
    seed: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreInit:
    data_dir: str
    member: bytes
    auto_accept: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkInit:
    member: bytes
    x25519_private: bytes = field(repr=False)
    listen_host: str
    listen_port: int
    advertise_host: str
    network_id: bytes
    mdns: bool
    mdns_interfaces: tuple[str, ...]
    peers: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Wiring:
    """The supervisor tells each child where its siblings are (again after every restart)."""

    member: Ref | None
    store: Ref | None
    network: Ref | None


# -- member actor: signs the member's own blocks (a consensus actor signs its community's) ---------


@dataclass(frozen=True, slots=True, kw_only=True)
class SignBlock:
    """Ask the member actor to sign a block; answered with ``BlockSigned``."""

    request: int
    lace: bytes
    payload: Value
    pointers: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockSigned:
    request: int
    raw: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SignHello:
    """Ask the member actor to sign a transport hello transcript (domain-separated there)."""

    request: int
    transcript: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloSigned:
    request: int
    signature: bytes


# -- network <-> store -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerUp:
    peer: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerDown:
    peer: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    """A message a peer sent, as its bytes (its owner decodes it: runtime/net/peer_message.py);
    ``friend`` says whether the connection is a friendship edge."""

    peer: bytes
    data: bytes
    friend: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Outbound:
    """A message for a peer, encoded once by the actor that made it."""

    peer: bytes
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerViolation:
    """Owner -> network: a message from ``peer`` broke the protocol (``reason`` as the codec's
    or the record's); the connection is closed and the peer scored, as the transport does."""

    peer: bytes
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SocialView:
    """What the network actor needs from the social graph to decide whom to talk to."""

    friends: tuple[bytes, ...]
    addresses: tuple[tuple[bytes, str, int], ...]
    requests: tuple[tuple[bytes, Value], ...]  # (member, FriendRequest record) to cold-call


@dataclass(frozen=True, slots=True, kw_only=True)
class Listening:
    host: str
    port: int
    advertise_host: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovered:
    member: bytes
    host: str
    port: int
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkFailed:
    """The network could not start (for example the port is busy)."""

    reason: str


# -- control (CLI -> node) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlRequest:
    request: int
    op: str
    args: dict[str, Value]


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlReply:
    """The answer to a :class:`ControlRequest`: its ``result``, or the ``error`` in words and
    its stable ``reason`` (docs/network.md, "The control socket": never a class name)."""

    request: int
    ok: bool
    result: Value
    error: str = ""
    reason: str = ""


def failure_reply(request: int, exc: BaseException) -> ControlReply:
    """The answer to request ``request`` that failed with ``exc``."""
    return ControlReply(
        request=request, ok=False, result=None, error=str(exc), reason=reason_of(exc)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Forwarded:
    """A control request the supervisor passed on to a child, with the Ref to answer."""

    msg: object
    reply_to: Ref


# -- consensus (actors/community/consensus_actor.py)
# ----------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsensusInit:
    """One community's consensus actor: its data dir, the signing seed and the genesis."""

    data_dir: str
    seed: bytes = field(repr=False)
    genesis: bytes
    """The encoded epoch-0 ``Genesis`` (the file everyone got out of band)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsensusRoute:
    """Consensus actor -> network: send me the epoch messages of ``laces``; keep ``members`` up."""

    laces: tuple[bytes, ...]
    members: tuple[bytes, ...]
    actor: Ref
    """The consensus actor's own Ref."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """Several messages in one hop between the network and store actors.

    Why: thespian's queue base routes sibling messages through its admin process, and bursts
    of small messages both ways (fifty friends connecting at once) stalled it.  One batch per
    event-loop turn or per handled message keeps the message count low whatever the load.
    """

    items: tuple[object, ...]
