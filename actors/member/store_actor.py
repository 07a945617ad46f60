"""The store actor: owns the blocklace file and runs the social/dissemination core next to it.

Why the dissemination core sits here: every decision it makes ("which blocks does this friend
lack") is a query on the blocklace, which this actor owns; the network actor carries its output
and decides who may talk at all.  The actor only translates messages into calls on the pure core
(runtime/social/core.py); the control queries over that core are in social_queries.py.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from peoplenet.actors.member.command_errors import (
    CommandError,
)
from peoplenet.actors.member.messages import (
    Batch,
    BlockSigned,
    ControlReply,
    ControlRequest,
    Discovered,
    Forwarded,
    Inbound,
    Listening,
    Outbound,
    PeerDown,
    PeerUp,
    PeerViolation,
    SignBlock,
    SocialView,
    StoreInit,
    Wiring,
    failure_reply,
)
from peoplenet.actors.member.social_queries import (
    NAMED_REPORTS,
    feed_report,
    introduction,
    own_chain_report,
    resolve_block,
    resolve_member,
)
from peoplenet.runtime.errors import DiskFull, PeoplenetError, RemoteProtocolError
from peoplenet.runtime.kernel import Actor, Ref
from peoplenet.runtime.keys.identity import MemberId, fingerprint
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.own_chain import CatchingUp, SigningRefused
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.net.peer_message import (
    decode_peer_message,
)
from peoplenet.runtime.social.core import SocialEvent, SocialNode, SocialStep
from peoplenet.runtime.social.evidence_store import SqliteEvidenceStore
from peoplenet.runtime.social.graph import (
    Address,
    Befriend,
    Follow,
    Post,
    Reply,
    Unfollow,
    Unfriend,
)
from peoplenet.runtime.wire.codec import Record, Value, encode

OWN_SYNC_WAIT_S = 10.0
"""How long a command that signs waits for the own-lace sync before it is refused."""
OWN_SYNC_OVERRIDE_AFTER_S = 30.0
"""After this long without a friend reached, ``--unsynced`` may sign anyway (docs)."""


SIGNING_OPS = frozenset(
    {"post", "befriend", "accept", "unfriend", "follow", "unfollow", "introduce"}
)
"""Control operations that sign a block of my personal lace (``unsynced`` applies)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _SocialWake:
    """Timer for the core's ``wake_at``; stale generations are ignored (cancel by generation)."""

    generation: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _QueueDeadline:
    """Timer: a queued command's OWN_SYNC_WAIT_S is over (refused if still not signable)."""

    at: float
    """The command's deadline (monotonic seconds)."""


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
        self.generation = 0
        self.wake_at: float | None = None
        self.started = time.monotonic()
        self._problems_logged = 0
        self._log_own_chain()
        self._run(self.core.tick(self.started))  # what is due at the start sets the timer

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
            self._run(outcome)
            self._push_view()
            self._sign_queued()
        elif isinstance(msg, PeerUp):
            self._run(self.core.peer_up(MemberId(msg.peer), now))
        elif isinstance(msg, PeerDown):
            self.core.peer_down(MemberId(msg.peer))  # a later wake finds nothing: harmless
        elif isinstance(msg, _SocialWake):
            if msg.generation == self.generation:
                self.wake_at = None
                self._run(self.core.tick(now))
        elif isinstance(msg, _QueueDeadline):
            if now < msg.at:  # fired a little early: wait out the rest
                self.after(msg.at - now, msg)
            else:
                self._expire_queued(now)
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

    def _run(self, step: SocialStep) -> None:
        """Carry out one core step: its events, its sends, its timer."""
        for event in step.events:
            self._on_event(event)
        self._send(step)
        self._schedule(step.wake_at)

    def _send(self, step: SocialStep) -> None:
        if self.network is None:
            return
        encoded: dict[int, bytes] = {}  # one Disclose often goes to every friend
        for peer, msg in step.sends:
            data = encoded.get(id(msg))
            if data is None:
                data = encoded[id(msg)] = encode(msg)
            self._outbox.append(Outbound(peer=bytes(peer), data=data))

    def _schedule(self, wake_at: float | None) -> None:
        """Keep one timer at the core's latest ``wake_at`` (runtime/sans_io.py)."""
        if wake_at == self.wake_at:
            return
        self.wake_at = wake_at
        self.generation += 1
        if wake_at is not None:
            self.after(
                max(0.0, wake_at - time.monotonic()), _SocialWake(generation=self.generation)
            )

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
            deadline = None
            if failed is not None:
                deadline = time.monotonic() + OWN_SYNC_WAIT_S
                self.after(OWN_SYNC_WAIT_S, _QueueDeadline(at=deadline))
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
                    step = self.core.add_own(block, time.monotonic())
                except DiskFull as exc:  # not stored, nothing lost: say so now, stay up
                    self.log.error("disk_full", error=str(exc))
                    if failed is not None:
                        failed(exc)
                    return
                self._run(step)
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
