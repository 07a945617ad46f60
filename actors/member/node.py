"""The actors of one node: supervisor, member (the signer), store and network.

::

    NodeSupervisor ── member   holds the secret key; the only code that signs
                   ├─ store    blocklace + SQLite + social graph + dissemination core
                   └─ network  transport, zeroconf, static peers (asyncio in a thread)

Why the dissemination core sits in the store actor: every decision it makes ("which blocks does
this friend lack") is a query on the blocklace, which the store actor owns; the network actor
carries its output and decides who may talk at all.  Actors only translate messages into calls
on pure cores (runtime/social/core.py, actors/member/network_service.py).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from peoplenet.actors.community.consensus_actor import ConsensusActor, community_name
from peoplenet.actors.member.command_errors import (
    CommandError,
    InvalidGenesisFile,
    UnknownCommunity,
)
from peoplenet.actors.member.control_relay import NODE_RESTARTING, ChildFailed, Relay
from peoplenet.actors.member.messages import (
    Batch,
    BlockSigned,
    ConsensusInit,
    ConsensusRoute,
    ControlReply,
    ControlRequest,
    Discovered,
    Forwarded,
    HelloSigned,
    Inbound,
    Listening,
    MemberInit,
    NetworkFailed,
    NetworkInit,
    NodeInit,
    Outbound,
    PeerDown,
    PeerUp,
    PeerViolation,
    SignBlock,
    SignHello,
    SocialView,
    StoreInit,
    Tick,
    Wiring,
    failure_reply,
)
from peoplenet.actors.member.store_check import check_genesis
from peoplenet.runtime.cli import names
from peoplenet.runtime.cli.names import KnownMember, merge
from peoplenet.runtime.consensus.constitution import Genesis
from peoplenet.runtime.errors import DiskFull, PeoplenetError, RemoteProtocolError, reason_of
from peoplenet.runtime.kernel import Actor, Bridge, Ref, RestartPolicy
from peoplenet.runtime.kernel.proctree import why_not_running
from peoplenet.runtime.keys.identity import Identity, MemberId, fingerprint, member_id
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.own_chain import CatchingUp, SigningRefused
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.net.noise_channel import static_private_key
from peoplenet.runtime.net.peer_message import (
    LACE_TAGS,
    decode_peer_message,
    record_lace,
    record_tag,
)
from peoplenet.runtime.social.core import SocialEvent, SocialNode
from peoplenet.runtime.social.dissemination import FriendRequest, Outgoing
from peoplenet.runtime.social.evidence_store import SqliteEvidenceStore
from peoplenet.runtime.social.graph import (
    Address,
    Befriend,
    Follow,
    Introduce,
    Post,
    Reply,
    Unfollow,
    Unfriend,
    lace_owner,
)
from peoplenet.runtime.wire.codec import Record, Value, decode_as, encode

HELLO_PREFIX = b"peoplenet.hello.v1"
CHILD_POLICY = RestartPolicy(
    max_restarts=5,
    window_s=60.0,
    backoff_initial_s=0.2,
    backoff_max_s=5.0,
    heartbeat_s=None,
    heartbeat_timeout_s=10.0,
)
TICK_S = 1.0
OWN_SYNC_WAIT_S = 10.0
"""How long a command that signs waits for the own-lace sync before it is refused."""
OWN_SYNC_OVERRIDE_AFTER_S = 30.0
"""After this long without a friend reached, ``--unsynced`` may sign anyway (docs)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AwaitReady:
    """External -> supervisor: answer once the network listens (or failed to)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    host: str
    port: int
    member: bytes
    session: int
    """The session (and process group) of the actor processes: thespian's admin calls setsid."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _CheckOwner:
    """Timer: is the foreground process still alive?"""


OWNER_CHECK_S = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class StopNetwork:
    """Supervisor -> network: close connections and unregister before the system goes down."""


# -- supervisor --------------------------------------------------------------------------------


class NodeSupervisor(Actor):
    """Starts the three node actors, rewires them after restarts, routes control requests."""

    def on_start(self, init: object) -> None:
        assert isinstance(init, NodeInit)
        self.init = init
        self.ready: Ready | NetworkFailed | None = None
        self.waiting: list[Ref] = []
        self.relay: Relay[Ref] = Relay()
        """Control requests passed to a child: answered at once if it dies holding them."""
        identity = Identity.from_seed(init.seed)
        member = bytes(identity.member_id)
        self.member = member
        x25519 = static_private_key(identity)  # the same derivation the transport uses
        del identity
        self.spawn(MemberActor, "member", MemberInit(seed=init.seed), policy=CHILD_POLICY)
        self.spawn(
            StoreActor,
            "store",
            StoreInit(data_dir=init.data_dir, member=member, auto_accept=init.auto_accept),
            policy=CHILD_POLICY,
        )
        self.spawn(
            NetworkActor,
            "network",
            NetworkInit(
                member=member,
                x25519_private=x25519,
                listen_host=init.listen_host,
                listen_port=init.listen_port,
                advertise_host=init.advertise_host,
                network_id=init.network_id,
                mdns=init.mdns,
                mdns_interfaces=init.mdns_interfaces,
                peers=init.peers,
            ),
            policy=CHILD_POLICY,
        )
        self.communities: dict[str, Genesis] = {}
        """Joined communities by consensus child name."""
        for path in DataDir(init.data_dir).genesis_files():
            check_genesis(path)  # a damaged file stops the node, named (not a restart loop)
            raw = path.read_bytes()
            self._spawn_community(decode_as(Genesis, raw), raw)
        self._rewire()
        if init.owner_pid:
            self.after(OWNER_CHECK_S, _CheckOwner())

    def _owner_alive(self) -> bool:
        try:
            os.kill(self.init.owner_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _rewire(self) -> None:
        wiring = Wiring(
            member=self.child("member"), store=self.child("store"), network=self.child("network")
        )
        for name in ("member", "store", "network", *self.communities):
            ref = self.child(name)
            if ref is not None:
                self.tell(ref, wiring)

    # -- communities ---------------------------------------------------------------------------

    def _spawn_community(self, genesis: Genesis, raw: bytes) -> str:
        name = f"consensus-{genesis.lace().hex()}"
        if name not in self.communities:
            self.communities[name] = genesis
            self.spawn(
                ConsensusActor,
                name,
                ConsensusInit(data_dir=self.init.data_dir, seed=self.init.seed, genesis=raw),
                policy=CHILD_POLICY,
            )
        return name

    def _community_control(self, req: ControlRequest, sender: Ref) -> None:
        try:
            if req.op == "community_join":
                self.tell(
                    sender, ControlReply(request=req.request, ok=True, result=self._join(req.args))
                )
            elif req.op == "community_list":
                listing = tuple(
                    {**_community_entry(g), "community": self._display_name(g)}
                    for g in self.communities.values()
                )
                self.tell(sender, ControlReply(request=req.request, ok=True, result=listing))
            else:
                name = self._community_child(req.args.get("community"), req.op)
                child = self.child(name)
                if child is None:
                    raise CommandError("the community is restarting; try again")
                self.tell(
                    child, Forwarded(msg=self.relay.pass_on(name, req, sender), reply_to=self.me)
                )
        except PeoplenetError as exc:
            self.tell(sender, failure_reply(req.request, exc))

    def _join(self, args: dict[str, Value]) -> Value:
        raw = args.get("genesis")
        if not isinstance(raw, bytes):
            raise InvalidGenesisFile("community_join needs the genesis file's bytes")
        try:
            genesis = decode_as(Genesis, raw)
        except RemoteProtocolError as exc:
            raise InvalidGenesisFile(f"not a community genesis: {exc}") from None
        if genesis.epoch != 0:
            raise InvalidGenesisFile("a community is joined from its first (epoch 0) genesis")
        data = DataDir(self.init.data_dir)
        lace_hex = genesis.lace().hex()
        for suffix in ("founding", "name"):
            extra = args.get(suffix)
            if isinstance(extra, str):
                extra = extra.encode()
            if isinstance(extra, bytes) and data.community_file(lace_hex, suffix) is None:
                data.save_community_file(lace_hex, suffix, extra)
        new = data.save_genesis(lace_hex, raw)
        self._spawn_community(genesis, raw)
        if new:
            self._rewire()
        entry = _community_entry(genesis)
        entry["community"] = self._display_name(genesis)
        entry["joined"] = new
        entry["participant"] = self.member in genesis.constitution.participants
        return entry

    def _display_name(self, genesis: Genesis) -> str:
        """A community's display name: a cooperative's comes from its founding (a sidecar)."""
        raw = DataDir(self.init.data_dir).community_file(genesis.lace().hex(), "name")
        return raw.decode("utf-8", errors="replace") if raw else community_name(genesis)

    def _community_child(self, text: Value, op: str = "") -> str:
        """The consensus child of a community given by name or by (a prefix of) its lace hex."""
        if not isinstance(text, str) or not text:
            raise UnknownCommunity("name a community")
        by_name = [n for n, g in self.communities.items() if self._display_name(g) == text]
        by_lace = [n for n, g in self.communities.items() if g.lace().hex().startswith(text)]
        matches = by_name or by_lace
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownCommunity(unknown_community_text(text, op, self._joined_names()))
        raise UnknownCommunity(f"{text!r} names {len(matches)} communities; give its lace hex")

    def _joined_names(self) -> list[str]:
        return sorted(self._display_name(g) for g in self.communities.values())

    def on_child_restarted(self, name: str, ref: Ref) -> None:
        self.log.warning("child_restarted", child=name)
        self._rewire()

    def on_child_failed(self, name: str, error_type: str, error: str) -> None:
        for asker, reply in self.relay.child_failed(name, f"{error_type}: {error}"):
            self.tell(asker, reply)

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, _CheckOwner):
            if self._owner_alive():
                self.after(OWNER_CHECK_S, _CheckOwner())
                return
            # Nobody is left to shut the actor system down: end every process of it at once.
            # SQLite (WAL, synchronous FULL) makes this as safe as a phone losing power.
            self.log.error("owner_gone", owner=self.init.owner_pid)
            os.killpg(os.getpgid(0), signal.SIGKILL)
        elif isinstance(msg, AwaitReady):
            if self.ready is None:
                self.waiting.append(sender)
            else:
                self.tell(sender, self.ready)
        elif isinstance(msg, Listening | NetworkFailed):
            if isinstance(msg, Listening):
                self.ready = Ready(
                    host=msg.host, port=msg.port, member=self.member, session=os.getsid(0)
                )
            else:
                self.ready = msg
            for ref in self.waiting:
                self.tell(ref, self.ready)
            self.waiting.clear()
        elif isinstance(msg, ControlRequest) and msg.op.startswith(("community_", "coop_")):
            self._community_control(msg, sender)
        elif isinstance(msg, ControlRequest):
            target = "network" if msg.op in NETWORK_OPS else "store"
            child = self.child(target)
            if child is None:
                why = self.relay.last_failure(target)
                text = "node restarting" + (f" (its {target} actor failed: {why})" if why else "")
                busy = ControlReply(
                    request=msg.request, ok=False, result=None, error=text, reason=NODE_RESTARTING
                )
                self.tell(sender, busy)
            elif (stuck := why_not_running(self.child_pid(target))) is not None:
                text = f"the node's {target} actor {stuck}: it cannot answer"
                stuck_reply = ControlReply(
                    request=msg.request, ok=False, result=None, error=text, reason=ChildFailed
                )
                self.tell(sender, stuck_reply)
            else:
                self.tell(
                    child, Forwarded(msg=self.relay.pass_on(target, msg, sender), reply_to=self.me)
                )
        elif isinstance(msg, ControlReply):  # a child's answer to a request passed on
            relayed = self.relay.answer(msg)
            if relayed is not None:
                self.tell(*relayed)
        elif isinstance(msg, StopNetwork):
            network = self.child("network")
            if network is not None:
                self.tell(network, Forwarded(msg=msg, reply_to=sender))
            else:
                self.reply(True)


def unknown_community_text(text: str, op: str, joined: list[str]) -> str:
    """Why ``text`` names no joined community, and the join command that fits the request."""
    if op.startswith("coop_"):
        how = "join a cooperative with `peoplenet coop join FILE.coop`"
        what = "cooperative"
    else:
        how = "join a community with `peoplenet community join FILE`"
        what = "community"
    known = f" (joined: {', '.join(joined)})" if joined else " (none joined yet)"
    return f"no joined {what} {text!r}{known}: {how}"


def _community_entry(genesis: Genesis) -> dict[str, Value]:
    c = genesis.constitution
    return {
        "community": community_name(genesis),
        "lace": genesis.lace().hex(),
        "participants": c.n,
        "quorum": c.quorum,
        "timeout_ms": c.timeout_ms,
    }


NETWORK_OPS = frozenset({"peers", "connections"})
SIGNING_OPS = frozenset(
    {"post", "befriend", "accept", "unfriend", "follow", "unfollow", "introduce"}
)
"""Control operations that sign a block of my personal lace (``unsynced`` applies)."""


# -- member ------------------------------------------------------------------------------------


class MemberActor(Actor):
    """The signer: signs blocks the store prepared and hello transcripts, nothing else."""

    def on_start(self, init: object) -> None:
        assert isinstance(init, MemberInit)
        self.identity = Identity.from_seed(init.seed)

    def receive(self, msg: object, sender: Ref) -> None:
        if isinstance(msg, SignBlock):
            block = Block.create(self.identity, LaceId(msg.lace), msg.payload, msg.pointers)
            self.reply(BlockSigned(request=msg.request, raw=block.to_bytes()))
        elif isinstance(msg, SignHello):
            if not msg.transcript.startswith(HELLO_PREFIX):
                self.log.error("refused_to_sign", reason="not a hello transcript")
                return
            self.reply(
                HelloSigned(request=msg.request, signature=self.identity.sign(msg.transcript))
            )


# -- store -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OwnBlock:
    """An own block waiting for the one being signed: its payload and whom to tell."""

    payload: Record
    done: Callable[[bytes], None]
    failed: Callable[[PeoplenetError], None] | None
    deadline: float | None = None
    """A command's: refused if the node still may not sign by then (see OWN_SYNC_WAIT_S)."""


class StoreActor(Actor):
    """Owns the blocklace file and runs the social/dissemination core next to it."""

    def on_start(self, init: object) -> None:
        assert isinstance(init, StoreInit)
        self.member_id = MemberId(init.member)
        self.auto_accept = init.auto_accept
        self.data_dir = init.data_dir
        data = DataDir(init.data_dir)
        self.store = SqliteStore(str(data.blocks_db))
        self.evidence = SqliteEvidenceStore(str(data.evidence_db))
        lace = Blocklace(self.store)
        for aside in lace.set_aside:  # damaged rows: out of the store, fetched again from peers
            self.log.warning("block_set_aside", block=aside.block_id.hex(), reason=aside.reason)
        self.core = SocialNode(self.member_id, lace, self.evidence)
        self.member: Ref | None = None
        self.network: Ref | None = None
        self.requests = itertools.count(1)
        self.pending: dict[int, Callable[[bytes], None]] = {}
        self.signing: SignBlock | None = None
        """The own block at the member actor now (sent again if the member restarts)."""
        self.own_queue: deque[_OwnBlock] = deque()
        self.listening: Listening | None = None
        self.view: SocialView | None = None
        self.discovered: dict[MemberId, tuple[str, int]] = {}
        self._outbox: list[object] = []
        self.started = time.monotonic()
        self._problems_logged = 0
        self._log_own_chain()
        self.after(TICK_S, Tick())

    def on_stop(self) -> None:
        self.store.close()
        self.evidence.close()

    def receive(self, msg: object, sender: Ref) -> None:
        self._outbox = []
        try:
            for item in msg.items if isinstance(msg, Batch) else (msg,):
                self._handle(item)
        finally:
            if self._outbox and self.network is not None:
                self.tell(self.network, Batch(items=tuple(self._outbox)))
            self._outbox = []

    def _handle(self, msg: object) -> None:
        now = time.monotonic()
        if isinstance(msg, Wiring):
            self.member = msg.member if isinstance(msg.member, Ref) else None
            self.network = msg.network if isinstance(msg.network, Ref) else None
            self.view = None
            self._push_view()
            if self.signing is not None and self.member is not None:
                self.tell(self.member, self.signing)  # a restarted member lost it
            self._sign_queued()
        elif isinstance(msg, Inbound):
            try:
                message = decode_peer_message(msg.data)
            except RemoteProtocolError as exc:  # the transport left the decoding to us
                peer = fingerprint(msg.peer)
                self.log.warning("peer_input_refused", peer=peer, reason=exc.reason)
                self._outbox.append(
                    PeerViolation(peer=msg.peer, reason=exc.reason, detail=exc.detail)
                )
                return
            try:
                outcome = self.core.on_wire(MemberId(msg.peer), message, now)
            except DiskFull as exc:  # the blocks were not stored: peers send them again later
                self.log.error("disk_full", error=str(exc), peer=fingerprint(msg.peer))
                return
            for error in outcome.errors:
                self.log.warning(
                    "peer_input_refused",
                    peer=fingerprint(msg.peer),
                    reason=error.reason,
                    detail=error.detail,
                )
            for event in outcome.events:
                self._on_event(event)
            self._send(outcome.outgoing)
            self._push_view()
            self._sign_queued()
        elif isinstance(msg, PeerUp):
            self._send(self.core.peer_up(MemberId(msg.peer), now))
        elif isinstance(msg, PeerDown):
            self.core.peer_down(MemberId(msg.peer))
        elif isinstance(msg, Tick):
            self._send(self.core.tick(now))
            self._expire_queued(now)
            self.after(TICK_S, Tick())
        elif isinstance(msg, BlockSigned):
            done = self.pending.pop(msg.request, None)
            if done is not None:
                done(msg.raw)
        elif isinstance(msg, Listening):
            self.listening = msg
            self._publish_address()
        elif isinstance(msg, Discovered):
            self.discovered[MemberId(msg.member)] = (msg.host, msg.port)
        elif isinstance(msg, Forwarded) and isinstance(msg.msg, ControlRequest):
            assert isinstance(msg.reply_to, Ref)
            self._control(msg.msg, msg.reply_to)

    # -- helpers -----------------------------------------------------------------------------

    def _send(self, outgoing: Sequence[Outgoing]) -> None:
        if self.network is None:
            return
        encoded: dict[int, bytes] = {}  # one Disclose often goes to every friend
        for out in outgoing:
            data = encoded.get(id(out.msg))
            if data is None:
                data = encoded[id(out.msg)] = encode(out.msg)
            self._outbox.append(Outbound(peer=bytes(out.peer), data=data))

    def _push_view(self) -> None:
        if self.network is None:
            return
        requests: list[tuple[bytes, Value]] = []
        for member in sorted(self.core.outgoing_requests()):
            request = self.core.friend_request_for(member)
            if request is not None:
                requests.append((bytes(member), request))
        addresses = dict(self.core.addresses())
        for intro in self.core.introductions():
            if intro.hints[0] and intro.other not in addresses:
                addresses[intro.other] = intro.hints
        view = SocialView(
            friends=tuple(sorted(bytes(f) for f in self.core.friends())),
            addresses=tuple(sorted((bytes(m), h, p) for m, (h, p) in addresses.items())),
            requests=tuple(requests),
        )
        if view != self.view:
            self.view = view
            self._outbox.append(view)

    def _on_event(self, event: SocialEvent) -> None:
        if event.kind == "post_received":
            return  # one per block: the feed shows them; a log line each would flood
        if event.kind in ("own_fork", "another_device"):
            self._log_own_chain()
            return
        if event.kind == "self_synced":
            self.log.info(
                "self_synced",
                friend=fingerprint(event.member),
                after_s=round(time.monotonic() - self.started, 3),
            )
            return
        self.log.info(
            "social_event",
            kind=event.kind,
            member=fingerprint(event.member),
            by=fingerprint(event.by) if event.by else None,
        )
        if self.auto_accept and event.kind == "request_received":
            self._create(Befriend(bytes(event.member)), lambda _raw: None)

    def _create(
        self,
        payload: Record,
        done: Callable[[bytes], None],
        failed: Callable[[PeoplenetError], None] | None = None,
    ) -> None:
        """Have the member actor sign ``payload`` as my next block, then store and push it.

        One own block at a time: the next one's pointers are taken only after the previous
        one is stored.  Two taken together would point at the same predecessor, and the two
        signed blocks would fork my own lace for good.  While one is being signed, later ones
        wait in order; a queued one that can no longer be made reports to ``failed``.
        """
        if self.member is None:
            raise CommandError("the member actor is not running")
        problems = self.core.own_problems()
        if problems:
            refused = SigningRefused(f"refusing to sign: {problems[0].message()}")
            if failed is None:
                self.log.warning("own_block_not_made", error=str(refused))
                return
            raise refused
        if self.signing is not None or self.own_queue or not self.core.may_sign():
            # Not self-synced yet: a command waits a little, the node's own blocks (address,
            # auto-accept) until the sync (or the member's override).
            deadline = time.monotonic() + OWN_SYNC_WAIT_S if failed is not None else None
            self.own_queue.append(_OwnBlock(payload, done, failed, deadline))
            return
        self._sign(payload, done, failed)

    def _sign(
        self,
        payload: Record,
        done: Callable[[bytes], None],
        failed: Callable[[PeoplenetError], None] | None = None,
    ) -> None:
        assert self.member is not None
        lace, pointers = self.core.next_block(payload)
        request = next(self.requests)

        def signed(raw: bytes) -> None:
            self.signing = None
            try:
                block = Block.from_bytes(raw)
                try:
                    self._send(self.core.add_own(block, time.monotonic()))
                except DiskFull as exc:  # not stored, nothing lost: say so now, stay up
                    self.log.error("disk_full", error=str(exc))
                    if failed is not None:
                        failed(exc)
                    return
                for event in self.core.take_events():
                    self._on_event(event)
                self._push_view()
                done(raw)
            finally:
                self._sign_queued()

        self.pending[request] = signed
        self.signing = SignBlock(
            request=request, lace=bytes(lace), payload=payload, pointers=tuple(pointers)
        )
        self.tell(self.member, self.signing)

    def _sign_queued(self) -> None:
        if self.core.own_problems():
            self._fail_queued()
            return
        while (
            self.own_queue
            and self.signing is None
            and self.member is not None
            and self.core.may_sign()
        ):
            item = self.own_queue.popleft()
            try:
                self._sign(item.payload, item.done, item.failed)
            except PeoplenetError as exc:
                if item.failed is not None:
                    item.failed(exc)
                else:
                    self.log.warning("own_block_not_made", error=str(exc))

    def _expire_queued(self, now: float) -> None:
        """Commands that waited OWN_SYNC_WAIT_S for the own-lace sync are refused, saying why."""
        if self.core.may_sign() or not self.own_queue:
            return
        kept: deque[_OwnBlock] = deque()
        for item in self.own_queue:
            if item.deadline is not None and now >= item.deadline:
                self._refuse(item)
            else:
                kept.append(item)
        self.own_queue = kept

    def _fail_queued(self) -> None:
        """An own-chain problem: nothing queued will be signed; tell whoever waits."""
        queued, self.own_queue = self.own_queue, deque()
        for item in queued:
            self._refuse(item)

    def _refuse(self, item: _OwnBlock) -> None:
        try:
            self.core.next_block(item.payload)
        except PeoplenetError as exc:
            if isinstance(exc, CatchingUp):
                waited = time.monotonic() - self.started
                if waited < OWN_SYNC_OVERRIDE_AFTER_S:
                    hint = f"--unsynced signs anyway from {OWN_SYNC_OVERRIDE_AFTER_S:.0f} s"
                else:
                    hint = "--unsynced signs anyway (see docs/security.md)"
                exc = CatchingUp(f"{exc} ({hint})")
            if item.failed is not None:
                item.failed(exc)
            else:
                self.log.warning("own_block_not_made", error=str(exc))
            return
        self.own_queue.appendleft(item)  # it may sign after all: keep it

    def _override_sync(self, args: dict[str, Value]) -> None:
        """``--unsynced``: sign without a friend's answer, allowed once the wait is long."""
        if args.get("unsynced") is not True or self.core.may_sign():
            return
        waited = time.monotonic() - self.started
        if self.core.own_problems():
            return  # a problem is not overridden: the refusal says what to do
        if waited < OWN_SYNC_OVERRIDE_AFTER_S:
            raise CatchingUp(
                f"not yet: --unsynced is accepted {OWN_SYNC_OVERRIDE_AFTER_S:.0f} s after the "
                f"start ({waited:.0f} s so far) so that friends can answer first"
            )
        self.log.warning("self_sync_overridden", waited_s=round(waited, 1))
        self.core.override_self_sync()

    def _log_own_chain(self) -> None:
        """Log each new own-chain problem once, loudly (an error event), with what to do."""
        problems = self.core.own_problems()
        if len(problems) != self._problems_logged:
            self._problems_logged = len(problems)
            for problem in problems:
                self.log.error(
                    "own_chain_problem",
                    kind=problem.kind,
                    detail=problem.detail,
                    advice=problem.advice(),
                )
            self._fail_queued()

    def _publish_address(self) -> None:
        if self.listening is None or self.member is None:
            return
        mine = (self.listening.advertise_host, self.listening.port)
        if self.core.graph.address(self.member_id) != mine:
            self._create(Address(*mine), lambda _raw: None)

    def _resolve(self, text: Value) -> MemberId:
        if not isinstance(text, str):
            raise CommandError("a member must be given as hex id or fingerprint")
        return resolve_member(self.core, text, self.discovered)

    def _status(self) -> dict[str, Value]:
        status = dict(self.core.status())
        status["member"] = self.member_id.hex()
        status["fingerprint"] = fingerprint(self.member_id)
        if self.listening is not None:
            status["listen"] = f"{self.listening.host}:{self.listening.port}"
        status.update(own_chain_report(self.core))
        return status

    def _control(self, req: ControlRequest, reply_to: Ref) -> None:
        def answer(result: Value) -> None:
            self.tell(reply_to, ControlReply(request=req.request, ok=True, result=result))

        def fail(exc: PeoplenetError) -> None:
            self.tell(reply_to, failure_reply(req.request, exc))

        def created(raw: bytes) -> None:
            answer({"block": Block.from_bytes(raw).id.hex()})

        args = req.args
        try:
            op = req.op
            if op in SIGNING_OPS:
                self._override_sync(args)
            if op == "status":
                answer(self._status())
            elif op in ("friends", "names"):
                answer(NAMED_REPORTS[op](self.core, self.discovered))
            elif op == "feed":
                limit = args.get("limit", 50)
                answer(feed_report(self.core, limit if isinstance(limit, int) else 50))
            elif op in ("befriend", "accept"):
                self._create(Befriend(self._resolve(args.get("member"))), created, fail)
            elif op == "unfriend":
                self._create(Unfriend(self._resolve(args.get("member"))), created, fail)
            elif op == "follow":
                self._create(Follow(self._resolve(args.get("member"))), created, fail)
            elif op == "unfollow":
                self._create(Unfollow(self._resolve(args.get("member"))), created, fail)
            elif op == "introduce":
                a = self._resolve(args.get("a"))
                b = self._resolve(args.get("b"))
                self._create(
                    introduction(self.core, a, b, str(args.get("note", ""))), created, fail
                )
            elif op == "post":
                text = args.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise CommandError("nothing to post")
                reply_to_block = args.get("reply")
                if isinstance(reply_to_block, str) and reply_to_block:
                    creator, block_id = resolve_block(self.core, reply_to_block)
                    self._create(Reply(creator, block_id, text), created, fail)
                else:
                    self._create(Post(text), created, fail)
            else:
                raise CommandError(f"unknown control operation {op!r}")
        except PeoplenetError as exc:
            fail(exc)
        except ValueError as exc:
            fail(CommandError(str(exc)))


# -- control queries over the social core ------------------------------------------------------


def own_chain_report(core: SocialNode) -> dict[str, Value]:
    """The status keys of my own lace: problems (own fork, another device) and the self-sync."""
    problems = core.own_problems()
    return {
        "problems": tuple(p.to_value("personal lace") for p in problems),
        "own_fork": any(p.kind == "own_fork" for p in problems),
        "own_chain": core.own_chain_status(),
    }


def _who(member: bytes) -> dict[str, Value]:
    return {"member": member.hex(), "fingerprint": fingerprint(member)}


def known_members(
    core: SocialNode, discovered: dict[MemberId, tuple[str, int]]
) -> list[KnownMember]:
    """Every member this node knows, with where from and whether its identity is verified.

    Verified: friends, follows, members I befriended, members a friend introduced, creators of
    laces I hold, and me.  Unverified (named only by full id or fingerprint, see
    runtime/cli/names.py): pending friend requests and mDNS announcements.
    """
    known: list[KnownMember] = [KnownMember(core.me, ("me",))]
    known += [KnownMember(m, ("friend",)) for m in core.friends()]
    known += [KnownMember(m, ("follow",)) for m in core.follows() if m != core.me]
    known += [KnownMember(m, ("outgoing request",)) for m in core.outgoing_requests()]
    known += [KnownMember(i.other, ("introduced",)) for i in core.introductions()]
    for lace in core.lace.laces():
        owner = lace_owner(lace)
        if owner is not None and owner != core.me:
            known.append(KnownMember(owner, ("blocks",)))
    known += [KnownMember(m, ("pending request",), verified=False) for m in core.pending_requests()]
    known += [KnownMember(m, ("discovered",), verified=False) for m in discovered]
    return merge(known, {})


def names_report(
    core: SocialNode, discovered: dict[MemberId, tuple[str, int]]
) -> tuple[Value, ...]:
    """The ``names`` control query: what a short member name may resolve against."""
    return tuple(
        {**_who(k.member), "sources": k.sources, "verified": k.verified}
        for k in known_members(core, discovered)
    )


def resolve_member(
    core: SocialNode, text: str, discovered: dict[MemberId, tuple[str, int]]
) -> MemberId:
    """A member from a full hex id, a fingerprint, or a unique prefix (runtime/cli/names.py)."""
    return member_id(names.resolve_member(text, known_members(core, discovered)))


def resolve_block(core: SocialNode, text: str) -> tuple[bytes, bytes]:
    """A block of my lace from its full hex id or a unique prefix of it."""
    block_id = BlockId(names.resolve_id(text, core.lace.metas.keys(), "block"))
    if block_id not in core.lace:
        raise names.UnknownName(f"no block {text!r} in this node's lace")
    return bytes(core.lace.meta(block_id).creator), bytes(block_id)


def friends_report(
    core: SocialNode, _discovered: dict[MemberId, tuple[str, int]] | None = None
) -> dict[str, Value]:
    intros: list[Value] = []
    for intro in core.introductions():
        entry = _who(intro.other)
        entry["by"] = fingerprint(intro.introducer)
        intros.append(entry)
    return {
        "friends": tuple(_who(m) for m in sorted(core.friends())),
        "pending": tuple(_who(m) for m in core.pending_requests()),
        "outgoing": tuple(_who(m) for m in core.outgoing_requests()),
        "follows": tuple(_who(m) for m in sorted(core.follows()) if m != core.me),
        "introductions": tuple(intros),
    }


NAMED_REPORTS: dict[str, Callable[[SocialNode, dict[MemberId, tuple[str, int]]], Value]] = {
    "friends": friends_report,
    "names": names_report,
}


def feed_report(core: SocialNode, limit: int) -> tuple[Value, ...]:
    out: list[Value] = []
    for item in core.feed(max(1, min(limit, 1000))):
        out.append(
            {
                "author": fingerprint(item.creator),
                "member": item.creator.hex(),
                "block": item.block_id.hex(),
                "seq": item.seq,
                "kind": item.kind,
                "text": item.text,
                "reply_to": item.reply_to[1].hex() if item.reply_to else None,
            }
        )
    return tuple(out)


def introduction(core: SocialNode, a: MemberId, b: MemberId, note: str) -> Introduce:
    friends = core.friends()
    for m in (a, b):
        if m not in friends:
            raise CommandError(f"{fingerprint(m)} is not your friend: introduce friends only")
    a_host, a_port = core.graph.address(a) or ("", 0)
    b_host, b_port = core.graph.address(b) or ("", 0)
    return Introduce(bytes(a), bytes(b), a_host, a_port, b_host, b_port, note)


# -- network -----------------------------------------------------------------------------------


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
            if isinstance(item, Inbound) and record_tag(item.data) in LACE_TAGS:
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


__all__ = [
    "AwaitReady",
    "MemberActor",
    "NetworkActor",
    "NodeSupervisor",
    "Ready",
    "StopNetwork",
    "StoreActor",
    "member_id",
]
