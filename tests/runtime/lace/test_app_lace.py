"""The app lace replica: push, pull, forks, refusals and convergence over a faulty network."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Sequence

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.errors import InvalidBlock, LocalError, RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace import app_lace
from peoplenet.runtime.lace.app_lace import (
    MAX_HAVE_ENTRIES,
    MAX_LACE_BLOCKS,
    MAX_LACE_BYTES,
    MAX_LACE_MESSAGE_SIZE,
    LaceBlocks,
    LaceHave,
    LaceReplica,
    ReplicaOutput,
    app_lace_id,
    decode_lace_message,
)
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.wire.codec import RECORD_EXT, Value, decode, encode
from peoplenet.runtime.wire.fast_parsers import record_bytes
from tests.strategies import mutate_bytes

LACE = app_lace_id(b"coop-1", "flash")


def identity(i: int) -> Identity:
    return Identity.from_seed(bytes([i + 1]) * 32)


def make_block(
    who: Identity, bl: Blocklace, payload: Value, lace: LaceId = LACE, pointers: bool = True
) -> Block:
    """A cordial block: our latest block plus every other creator's tips in ``bl``."""
    tips: set[BlockId] = set()
    if pointers:
        own = bl.latest(lace, who.member_id)
        tips = {t for t in bl.lace_tips(lace) if bl.meta(t).creator != who.member_id}
        if own is not None:
            tips.add(own)
    return Block.create(who, lace, payload, tuple(tips))


def reasons(out: ReplicaOutput) -> list[str]:
    return [e.reason for _, e in out.rejected if isinstance(e, RemoteProtocolError)]


class Net:
    """Replicas joined by a seeded network: random delays (so reordering), drops, offline nodes.

    Every message goes through the codec, as it would on the wire.
    """

    def __init__(
        self,
        n: int,
        seed: int,
        *,
        drop: float = 0.0,
        delay: tuple[float, float] = (0.01, 0.4),
        resend: float = 0.5,
    ) -> None:
        self.rng = random.Random(seed)
        self.ids = [identity(i) for i in range(n)]
        self.members = [x.member_id for x in self.ids]
        self.replicas = {
            m: LaceReplica(LACE, Blocklace(MemoryStore()), m, self.members, resend_after_s=resend)
            for m in self.members
        }
        self.drop = drop
        self.delay = delay
        self.now = 0.0
        self.offline: set[MemberId] = set()
        self.queue: list[tuple[float, int, MemberId, MemberId, bytes]] = []
        self.wake: dict[MemberId, float] = {}
        self.added: dict[MemberId, list[Block]] = {m: [] for m in self.members}
        self.equivocations: dict[MemberId, list[MemberId]] = {m: [] for m in self.members}
        self.rejected: list[str] = []
        self.messages = 0
        self.haves = 0
        self.bytes = 0
        self._seq = 0

    def apply(self, who: MemberId, out: ReplicaOutput) -> None:
        self.added[who].extend(out.added)
        self.equivocations[who].extend(e.creator for e in out.equivocations)
        self.rejected.extend(reasons(out))
        for dst, msg in out.sends:
            assert dst != who and dst in self.replicas[who].members
            data = encode(msg)
            self.haves += isinstance(msg, LaceHave)
            self.messages += 1
            self.bytes += len(data)
            lost = dst not in self.replicas or self.rng.random() < self.drop
            if lost or who in self.offline or dst in self.offline:
                continue
            self._seq += 1
            at = self.now + self.rng.uniform(*self.delay)
            heapq.heappush(self.queue, (at, self._seq, who, dst, data))
        if out.wake_at is None:
            self.wake.pop(who, None)
        else:
            assert out.wake_at > self.now
            self.wake[who] = out.wake_at

    def post(self, i: int, payload: Value) -> Block:
        who = self.ids[i]
        rep = self.replicas[who.member_id]
        block = make_block(who, rep._bl, payload)
        self.apply(who.member_id, rep.add_own(block, self.now))
        return block

    def connect(self, a: MemberId, b: MemberId) -> None:
        self.apply(a, self.replicas[a].peer_up(b, self.now))
        self.apply(b, self.replicas[b].peer_up(a, self.now))

    def run(self, until: float = 1e9) -> None:
        while True:
            next_msg = self.queue[0][0] if self.queue else None
            waker = min(self.wake, key=self.wake.__getitem__) if self.wake else None
            next_wake = self.wake[waker] if waker is not None else None
            times = [t for t in (next_msg, next_wake) if t is not None]
            if not times or min(times) > until:
                self.now = max(self.now, until) if until < 1e9 else self.now
                return
            if next_wake is not None and (next_msg is None or next_wake < next_msg):
                assert waker is not None
                self.now = next_wake
                del self.wake[waker]
                self.apply(waker, self.replicas[waker].tick(self.now))
                continue
            at, _, src, dst, data = heapq.heappop(self.queue)
            self.now = at
            if dst in self.offline:
                continue
            msg = decode_lace_message(data)
            self.apply(dst, self.replicas[dst].receive(src, msg, self.now))

    def ids_of(self, m: MemberId) -> set[BlockId]:
        return set(self.replicas[m]._bl.iter_lace(LACE))


def assert_added_in_pointee_order(added: Sequence[Block]) -> None:
    seen: set[BlockId] = set()
    for block in added:
        assert block.id not in seen, "a block was reported added twice"
        assert all(p in seen for p in block.pointers), "a block came before its pointees"
        seen.add(block.id)


def run_posts(net: Net, posts_each: int, horizon: float, offline: MemberId | None = None) -> int:
    """Every member posts at random times; ``offline`` is cut off during the middle third."""
    schedule = sorted(
        (net.rng.uniform(0, horizon), i, k) for i in range(len(net.ids)) for k in range(posts_each)
    )
    went_down = came_up = False
    for at, i, k in schedule:
        if offline is not None and not went_down and at > horizon / 3:
            net.run(until=horizon / 3)
            net.offline.add(offline)
            went_down = True
        if offline is not None and not came_up and at > 2 * horizon / 3:
            net.run(until=2 * horizon / 3)
            net.offline.discard(offline)
            came_up = True
            for other in net.members:
                if other != offline:
                    net.connect(offline, other)
        net.run(until=at)
        net.post(i, {"t": "pay", "from": i, "k": k})
    net.run()
    return len(schedule)


# -- convergence -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_push_alone_converges_despite_reordering(seed: int) -> None:
    net = Net(5, seed, delay=(0.01, 0.6))
    total = run_posts(net, posts_each=8, horizon=3.0)
    first = net.ids_of(net.members[0])
    assert len(first) == total
    for m in net.members:
        rep = net.replicas[m]
        assert net.ids_of(m) == first
        assert rep.missing() == 0
        assert {b.id for b in net.added[m]} == first
        assert_added_in_pointee_order(net.added[m])
    assert not net.rejected and not net.wake and not net.queue
    assert net.haves > 0  # some blocks overtook their pointees and were asked for


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_drops_and_an_offline_member_converge_after_reconnecting(seed: int) -> None:
    net = Net(6, seed, drop=0.2)
    offline = net.members[5]
    total = run_posts(net, posts_each=6, horizon=6.0, offline=offline)
    # Connections come back (the transport reconnects); one Have each way repairs every drop.
    net.drop = 0.0
    for i, a in enumerate(net.members):
        for b in net.members[i + 1 :]:
            net.connect(a, b)
    net.run()
    first = net.ids_of(net.members[0])
    assert len(first) == total
    for m in net.members:
        assert net.ids_of(m) == first
        assert net.replicas[m].missing() == 0
        assert_added_in_pointee_order(net.added[m])
        assert {b.id for b in net.added[m]} == first
    assert not net.wake


def test_synced_replicas_are_idle() -> None:
    net = Net(4, 7)
    run_posts(net, posts_each=3, horizon=1.0)
    a, b = net.members[0], net.members[1]
    for m in net.members:
        out = net.replicas[m].tick(net.now + 100)
        assert out == ReplicaOutput()
    have = net.replicas[a].peer_up(b, net.now)
    assert [type(msg) for _, msg in have.sends] == [LaceHave]
    assert have.wake_at is None
    answer = net.replicas[b].receive(a, have.sends[0][1], net.now)
    assert answer == ReplicaOutput()  # nothing to send back, nothing to ask


# -- forks -----------------------------------------------------------------------------------------


def test_fork_is_reported_on_every_replica_and_both_blocks_kept() -> None:
    net = Net(4, 8)
    evil = identity(9)
    members = [*net.members, evil.member_id]
    for rep in net.replicas.values():
        rep.set_members(members)
    twin_a = Block.create(evil, LACE, {"t": "pay", "to": "alice"})
    twin_b = Block.create(evil, LACE, {"t": "pay", "to": "bob"})
    # The double spender shows each half of the cooperative a different payment.
    for i, twin in ((0, twin_a), (1, twin_a), (2, twin_b), (3, twin_b)):
        m = net.members[i]
        out = net.replicas[m].receive(evil.member_id, LaceBlocks(LACE, (twin.to_bytes(),)), 0.0)
        assert [b.id for b in out.added] == [twin.id]
        net.apply(m, out)
    net.post(0, {"t": "accept"})  # points to twin_a: the other half must fetch it
    net.run()
    for m in net.members:
        bl = net.replicas[m]._bl
        assert twin_a.id in bl and twin_b.id in bl
        assert net.equivocations[m] == [evil.member_id]
        assert bl.equivocators(LACE) == {evil.member_id}
        assert net.replicas[m].missing() == 0
    assert net.ids_of(net.members[0]) == net.ids_of(net.members[3])


def test_a_forked_creator_is_answered_with_every_branch() -> None:
    """Frontiers alone cannot tell twins apart: a Have is answered with both of them."""
    a, b, evil = identity(0), identity(1), identity(2)
    members = [a.member_id, b.member_id, evil.member_id]
    ra = LaceReplica(LACE, Blocklace(MemoryStore()), a.member_id, members)
    rb = LaceReplica(LACE, Blocklace(MemoryStore()), b.member_id, members)
    twin_a = Block.create(evil, LACE, {"n": 1})
    twin_b = Block.create(evil, LACE, {"n": 2})
    ra.receive(evil.member_id, LaceBlocks(LACE, (twin_a.to_bytes(),)), 0.0)
    out = ra.receive(evil.member_id, LaceBlocks(LACE, (twin_b.to_bytes(),)), 0.0)
    assert [e.creator for e in out.equivocations] == [evil.member_id]
    evidence = [msg for peer, msg in out.sends if peer == b.member_id]
    assert len(evidence) == 1  # the evidence goes to every other member once
    rb.receive(evil.member_id, LaceBlocks(LACE, (twin_a.to_bytes(),)), 0.0)
    have = rb.peer_up(a.member_id, 1.0).sends[0][1]
    answer = ra.receive(b.member_id, have, 1.0)
    got = rb.receive(a.member_id, answer.sends[0][1], 1.0)
    assert [b.id for b in got.added] == [twin_b.id]
    assert [e.creator for e in got.equivocations] == [evil.member_id]


# -- refusals --------------------------------------------------------------------------------------


@pytest.fixture
def pair() -> tuple[Identity, Identity, LaceReplica, Identity]:
    a, b, outsider = identity(0), identity(1), identity(7)
    rb = LaceReplica(LACE, Blocklace(MemoryStore()), b.member_id, [a.member_id, b.member_id])
    return a, b, rb, outsider


def test_refusals_carry_reasons_and_nothing_is_stored(
    pair: tuple[Identity, Identity, LaceReplica, Identity],
) -> None:
    a, _, rb, outsider = pair
    good = Block.create(a, LACE, {"n": 0})
    forged = Block(a.member_id, LACE, {"n": 1}, (), good.signature)
    other_lace = Block.create(a, LaceId(b"elsewhere"), {"n": 2})
    stranger = Block.create(outsider, LACE, {"n": 3})
    batch = (b"\xc1", forged.to_bytes(), other_lace.to_bytes(), stranger.to_bytes())
    out = rb.receive(a.member_id, LaceBlocks(LACE, batch), 0.0)
    assert sorted(reasons(out)) == ["forged_signature", "malformed", "not_member", "wrong_lace"]
    assert all(peer == a.member_id for peer, _ in out.rejected)
    assert sum(isinstance(e, InvalidBlock) for _, e in out.rejected) == 3
    assert out.added == () and out.sends == () and out.wake_at is None
    # A message for another lace, and any message from a non-member, are refused whole.
    out = rb.receive(a.member_id, LaceBlocks(b"elsewhere", (good.to_bytes(),)), 0.0)
    assert reasons(out) == ["wrong_lace"]
    out = rb.receive(outsider.member_id, LaceBlocks(LACE, (good.to_bytes(),)), 0.0)
    assert reasons(out) == ["not_member"] and out.added == ()
    out = rb.receive(outsider.member_id, LaceHave(LACE, (), ()), 0.0)
    assert reasons(out) == ["not_member"] and out.sends == ()
    assert rb.peer_up(outsider.member_id, 0.0) == ReplicaOutput()
    assert len(rb._bl) == 0 and rb._bl.pending_count == 0
    # The good block still gets in afterwards.
    out = rb.receive(a.member_id, LaceBlocks(LACE, (good.to_bytes(),) * 2), 0.0)
    assert [b.id for b in out.added] == [good.id] and not out.rejected


def test_message_limits_are_decoding_errors() -> None:
    def wire(tag: int, *fields: object) -> bytes:
        body = msgpack.packb([tag, *fields], use_bin_type=True)
        return bytes(msgpack.packb(msgpack.ExtType(RECORD_EXT, body), use_bin_type=True))

    cases = {
        "too_many_blocks": wire(67, LACE, [b"x"] * (MAX_LACE_BLOCKS + 1)),
        "too_many_bytes": wire(67, LACE, [b"x" * (MAX_LACE_BYTES // 2 + 1)] * 2),
        "too_many_heads": wire(68, LACE, [], [b"w" * 32] * (MAX_HAVE_ENTRIES + 1)),
        "bad_frontier": wire(68, LACE, [[b"c" * 32, -1]], []),
        "bad_want": wire(68, LACE, [], [b"short"]),
        "bad_lace": wire(67, b"", []),
        "oversize": b"\x00" * (MAX_LACE_MESSAGE_SIZE + 1),
        "unexpected_message": encode(Block.create(identity(0), LACE, 1)),
    }
    for reason, data in cases.items():
        with pytest.raises(RemoteProtocolError) as caught:
            decode_lace_message(data)
        assert caught.value.reason == reason
    ok = decode_lace_message(wire(67, LACE, [b"x"] * MAX_LACE_BLOCKS))
    assert isinstance(ok, LaceBlocks) and len(ok.blocks) == MAX_LACE_BLOCKS


def _general(data: bytes) -> tuple[str, object]:
    """What the general decoder makes of an app-lace message (its value or its reason)."""
    try:
        value = decode(data, max_size=MAX_LACE_MESSAGE_SIZE)
    except RemoteProtocolError as exc:
        return "err", exc.reason
    if not isinstance(value, LaceBlocks | LaceHave):
        return "err", "unexpected_message"
    return "ok", value


def _read(data: bytes) -> tuple[str, object]:
    try:
        return "ok", decode_lace_message(data)
    except RemoteProtocolError as exc:
        return "err", exc.reason


def _pushes() -> list[bytes]:
    block = Block.create(identity(0), LACE, ("pay", 5)).to_bytes()
    return [
        encode(LaceBlocks(LACE, (block,))),  # the usual push: ext16, one bin16 block
        encode(LaceBlocks(LACE, (block, b"x" * 40, b""))),
        encode(LaceBlocks(LACE, ())),
        encode(LaceBlocks(b"a/", (b"y",))),  # ext8
        encode(LaceBlocks(LACE, (b"z",) * 20)),  # array16: the general reader
        encode(LaceBlocks(LACE, (b"w" * 70_000,))),  # ext32: the general reader
    ]


def test_a_pushed_message_is_read_by_hand_as_decode_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for data in _pushes():
        assert _read(data) == _general(data)
    usual = _pushes()[0]
    expected = _general(usual)
    monkeypatch.setattr(app_lace, "decode", None)  # the usual push never needs it
    assert _read(usual) == expected
    with pytest.raises(RemoteProtocolError) as caught:  # its checks: the same refusals
        decode_lace_message(record_bytes(b"\x93\x43\xc4\x00\x90"))  # [67, b"", []]
    assert caught.value.reason == "bad_lace"


@st.composite
def _mutated_push(draw: st.DrawFn) -> bytes:
    return mutate_bytes(draw, draw(st.sampled_from(_pushes()[:4])))


@settings(max_examples=200, deadline=None)
@given(_mutated_push())
def test_reading_by_hand_never_disagrees_with_decode(mutated: bytes) -> None:
    assert _read(mutated) == _general(mutated)


def test_duplicates_are_dropped_before_parsing(
    pair: tuple[Identity, Identity, LaceReplica, Identity], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _, rb, _ = pair
    blocks = [Block.create(a, LACE, {"n": 0})]
    blocks.append(Block.create(a, LACE, {"n": 1}, (blocks[0].id,)))
    msg = LaceBlocks(LACE, tuple(b.to_bytes() for b in blocks))
    assert len(rb.receive(a.member_id, msg, 0.0).added) == 2
    parsed: list[bytes] = []
    real = Block.from_bytes

    def counting(data: bytes) -> Block:
        parsed.append(data)
        return real(data)

    monkeypatch.setattr(Block, "from_bytes", counting)
    again = rb.receive(a.member_id, msg, 1.0)
    assert again == ReplicaOutput() and parsed == []


def test_app_lace_id_is_stable_and_checks_its_arguments() -> None:
    lace = app_lace_id(b"coop-1", "flash")
    assert lace == LACE and lace.startswith(b"a/") and len(lace) == 34
    assert app_lace_id(b"coop-2", "flash") != lace != app_lace_id(b"coop-1", "flash2")
    assert app_lace_id(b"x" * 64, "a" * 40) != lace
    for community, app in [(b"", "flash"), (b"x" * 65, "flash"), (b"c", ""), (b"c", "a" * 41)]:
        with pytest.raises(LocalError):
            app_lace_id(community, app)
    for app in ["Flash", "fl ash", "flash/x", "fläsh"]:
        with pytest.raises(LocalError):
            app_lace_id(b"c", app)


def test_add_own_refuses_what_is_not_ours(
    pair: tuple[Identity, Identity, LaceReplica, Identity],
) -> None:
    a, b, rb, _ = pair
    with pytest.raises(LocalError):
        rb.add_own(Block.create(a, LACE, 1), 0.0)  # someone else's
    with pytest.raises(LocalError):
        rb.add_own(Block.create(b, LaceId(b"elsewhere"), 1), 0.0)
    dangling = Block.create(b, LACE, 1, (b"\x01" * 32,))
    with pytest.raises(LocalError):
        rb.add_own(dangling, 0.0)
    own = Block.create(b, LACE, 1)
    out = rb.add_own(own, 0.0)
    assert out.added == (own,) and out.sends == (
        (a.member_id, LaceBlocks(LACE, (own.to_bytes(),))),
    )
    assert out.wake_at is None


# -- catching up and membership --------------------------------------------------------------------


def deliver_all(
    replicas: dict[MemberId, LaceReplica], outs: Iterable[tuple[MemberId, ReplicaOutput]]
) -> None:
    """Deliver synchronously, breadth first, until nobody sends anything."""
    todo = [(src, dst, msg) for src, out in outs for dst, msg in out.sends]
    while todo:
        src, dst, msg = todo.pop(0)
        if dst in replicas:
            out = replicas[dst].receive(src, msg, 0.0)
            todo.extend((dst, d, m) for d, m in out.sends)


def test_late_joiner_catches_up_with_one_exchange() -> None:
    ids = [identity(i) for i in range(3)]
    joiner = identity(5)
    members = [x.member_id for x in ids]
    reps = {m: LaceReplica(LACE, Blocklace(MemoryStore()), m, members) for m in members}
    for k in range(300):
        who = ids[k % 3]
        rep = reps[who.member_id]
        block = make_block(who, rep._bl, {"k": k})
        deliver_all(reps, [(who.member_id, rep.add_own(block, 0.0))])
    big = ids[0]
    for k in range(6):  # 6 x 150 KiB: the answer must split by bytes too
        rep = reps[big.member_id]
        block = make_block(big, rep._bl, {"blob": bytes([k]) * (150 * 1024)})
        deliver_all(reps, [(big.member_id, rep.add_own(block, 0.0))])
    everyone = [*members, joiner.member_id]
    for rep in reps.values():
        rep.set_members(everyone)
    late = LaceReplica(LACE, Blocklace(MemoryStore()), joiner.member_id, everyone)
    hello = late.peer_up(members[1], 10.0)
    assert len(hello.sends) == 1
    answer = reps[members[1]].receive(joiner.member_id, hello.sends[0][1], 10.0)
    assert len(answer.sends) >= 3
    added: list[Block] = []
    for peer, msg in answer.sends:
        assert peer == joiner.member_id and isinstance(msg, LaceBlocks)
        assert len(msg.blocks) <= MAX_LACE_BLOCKS and sum(map(len, msg.blocks)) <= MAX_LACE_BYTES
        out = late.receive(members[1], msg, 10.0)
        assert out.sends == () and not out.rejected
        added.extend(out.added)
    assert len(added) == 306 and late.missing() == 0
    assert set(late._bl.iter_lace(LACE)) == set(reps[members[0]]._bl.iter_lace(LACE))
    assert_added_in_pointee_order(added)


def test_set_members_lets_a_new_member_in() -> None:
    a, newcomer = identity(0), identity(1)
    old = [a.member_id]
    both = [a.member_id, newcomer.member_id]
    ra = LaceReplica(LACE, Blocklace(MemoryStore()), a.member_id, old, resend_after_s=1.0)
    rn = LaceReplica(LACE, Blocklace(MemoryStore()), newcomer.member_id, both)
    first = Block.create(newcomer, LACE, {"n": 0})
    push = rn.add_own(first, 0.0)
    assert push.sends == ((a.member_id, LaceBlocks(LACE, (first.to_bytes(),))),)
    refused = ra.receive(newcomer.member_id, push.sends[0][1], 0.0)
    assert reasons(refused) == ["not_member"] and first.id not in ra._bl
    ra.set_members(both)
    # Its next block points to the refused one: a asks for it, once, and gets it.
    second = make_block(newcomer, rn._bl, {"n": 1})
    out = ra.receive(newcomer.member_id, rn.add_own(second, 1.0).sends[0][1], 1.0)
    assert out.added == () and ra.missing() == 1 and out.wake_at == 2.0
    [(peer, ask)] = out.sends
    assert peer == newcomer.member_id and isinstance(ask, LaceHave)
    assert ask.wants == (first.id,)
    assert ra.tick(1.5).sends == ()  # rate-limited
    answer = rn.receive(a.member_id, ask, 1.0)
    got = ra.receive(newcomer.member_id, answer.sends[0][1], 1.2)
    assert [b.id for b in got.added] == [first.id, second.id]
    assert ra.missing() == 0 and got.wake_at is None
    # Removing a member: its messages are refused again.
    ra.set_members(old)
    assert reasons(ra.receive(newcomer.member_id, LaceHave(LACE, (), ()), 2.0)) == ["not_member"]


def test_a_gap_nobody_fills_is_asked_about_everyone_then_stays_asked() -> None:
    a, b, c = identity(0), identity(1), identity(2)
    members = [a.member_id, b.member_id, c.member_id]
    ra = LaceReplica(LACE, Blocklace(MemoryStore()), a.member_id, members, resend_after_s=1.0)
    bl_b = Blocklace(MemoryStore())
    root = Block.create(b, LACE, 0)
    bl_b.add(root)
    child = make_block(b, bl_b, 1)
    out = ra.receive(b.member_id, LaceBlocks(LACE, (child.to_bytes(),)), 0.0)
    assert [p for p, _ in out.sends] == [b.member_id] and out.wake_at == 1.0
    out = ra.tick(1.0)
    assert [p for p, _ in out.sends] == [b.member_id] and out.wake_at == 2.0
    out = ra.tick(2.0)  # two periods without the pointee: ask every member
    assert sorted(p for p, _ in out.sends) == sorted([b.member_id, c.member_id])
    assert out.wake_at == 3.0
    done = ra.receive(c.member_id, LaceBlocks(LACE, (root.to_bytes(),)), 2.5)
    assert [x.id for x in done.added] == [root.id, child.id] and done.wake_at is None


# -- any delivery order ----------------------------------------------------------------------------


def _fixed_lace() -> tuple[list[MemberId], list[Block], MemberId]:
    """Three creators, cordial blocks in rounds, and one fork: a small fixed history."""
    creators = [identity(i) for i in range(3)]
    bl = Blocklace(MemoryStore())
    blocks: list[Block] = []
    for rnd in range(4):
        for who in creators:
            block = make_block(who, bl, {"r": rnd})
            blocks.append(block)
        for block in blocks[-3:]:
            bl.add(block)
    twin = Block.create(creators[2], LACE, {"r": 0, "twin": True})
    blocks.append(twin)
    return [c.member_id for c in creators], blocks, creators[2].member_id


_CREATORS, _BLOCKS, _FORKER = _fixed_lace()


@settings(max_examples=60, deadline=None)
@given(
    extra=st.lists(st.integers(0, len(_BLOCKS) - 1), max_size=2 * len(_BLOCKS)),
    rnd=st.randoms(use_true_random=False),
    chunk=st.integers(1, 4),
)
def test_any_delivery_order_and_duplication_converges(
    extra: list[int], rnd: random.Random, chunk: int
) -> None:
    me = identity(6).member_id
    rep = LaceReplica(LACE, Blocklace(MemoryStore()), me, [*_CREATORS, me])
    order = [*range(len(_BLOCKS)), *extra]
    rnd.shuffle(order)
    added: list[Block] = []
    forks: list[MemberId] = []
    for i in range(0, len(order), chunk):
        raws = tuple(_BLOCKS[j].to_bytes() for j in order[i : i + chunk])
        out = rep.receive(rnd.choice(_CREATORS), LaceBlocks(LACE, raws), float(i))
        assert not out.rejected
        added.extend(out.added)
        forks.extend(e.creator for e in out.equivocations)
    assert {b.id for b in added} == {b.id for b in _BLOCKS} == set(rep._bl.iter_lace(LACE))
    assert_added_in_pointee_order(added)
    assert forks == [_FORKER]
    assert rep.missing() == 0
    assert rep.tick(1e6) == ReplicaOutput()
