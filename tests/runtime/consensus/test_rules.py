"""Consensus rules: constitutions, geneses, refused blocks, leaders, amendments, restarts.

Every refusal is checked by its typed ``reason``.  Blocks go through a real
:class:`~peoplenet.runtime.lace.blocklace.Blocklace` and :meth:`ConsensusCore.receive`, as a shell
would
feed them; communities run on a tiny FIFO loop (:class:`Community`), not on the simulator.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pytest

from peoplenet.runtime.consensus.constitution import (
    Amendment,
    Approval,
    Constitution,
    Genesis,
    InvalidAmendment,
    InvalidConstitution,
    approve_amendment,
    check_amendment,
)
from peoplenet.runtime.consensus.core import (
    ConsensusCore,
    Delivery,
    EpochBlocks,
    EpochEnded,
    EpochHave,
    Output,
    Rejection,
)
from peoplenet.runtime.consensus.ordering import Anchor
from peoplenet.runtime.consensus.rules import (
    WAVE_LENGTH,
    ConsensusRejected,
    RoundPayload,
    UnknownEpoch,
)
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import Block, BlockId, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import MemoryStore
from peoplenet.runtime.wire.codec import Value, decode, encode

W = WAVE_LENGTH


def identity(i: int) -> Identity:
    return Identity.from_seed(hashlib.blake2b(f"rules/{i}".encode(), digest_size=32).digest())


def identities(n: int) -> list[Identity]:
    """``n`` identities in canonical (member id) order: index i is participants[i]."""
    return sorted((identity(i) for i in range(n)), key=lambda x: x.member_id)


OUTSIDER = identity(999)


def genesis_of(ids: Iterable[Identity], *, timeout_ms: int = 1000) -> Genesis:
    c = Constitution.of([x.member_id for x in ids], timeout_ms=timeout_ms)
    return Genesis.first(b"rules", c)


@dataclass
class Member:
    identity: Identity
    store: MemoryStore
    blocklace: Blocklace
    core: ConsensusCore
    deliveries: list[Delivery] = field(default_factory=list)
    epochs: list[EpochEnded] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    anchors: list[Anchor] = field(default_factory=list)
    wake_at: float | None = None

    @property
    def id(self) -> MemberId:
        return MemberId(self.identity.member_id)


Hook = Callable[["Member", Output], list[tuple[MemberId, bytes]]]


class Community:
    """Members exchanging messages in FIFO order, with timers fired when nothing is in flight.

    ``down`` members neither send nor receive; ``hooks`` may rewrite a member's sends
    (an equivocator).
    """

    def __init__(self, n: int, *, timeout_ms: int = 1000) -> None:
        self.ids = identities(n)
        self.genesis = genesis_of(self.ids, timeout_ms=timeout_ms)
        self.members = [self._new_member(x, MemoryStore()) for x in self.ids]
        self.queue: deque[tuple[MemberId, MemberId, bytes]] = deque()
        self.now = 0.0
        self.down: set[int] = set()
        self.hooks: dict[int, Hook] = {}
        for m in self.members:
            self.apply(m, m.core.start(self.now))

    def _new_member(self, ident: Identity, store: MemoryStore) -> Member:
        bl = Blocklace(store)
        return Member(ident, store, bl, ConsensusCore(ident, self.genesis, bl))

    def index(self, member_id: bytes) -> int:
        return [bytes(m.identity.member_id) for m in self.members].index(member_id)

    def apply(self, m: Member, out: Output) -> None:
        m.deliveries.extend(out.deliveries)
        m.epochs.extend(out.epochs)
        m.rejected.extend(out.rejected)
        m.anchors.extend(out.finalized)
        m.wake_at = out.wake_at
        i = self.members.index(m)
        sends = self.hooks[i](m, out) if i in self.hooks else out.sends
        if i in self.down:
            return
        for dst, data in sends:
            self.queue.append((dst, m.id, data))

    def submit(self, i: int, tx: Value) -> Output:
        m = self.members[i]
        out = m.core.submit(tx, self.now)
        self.apply(m, out)
        return out

    def restart(self, i: int) -> Output:
        old = self.members[i]
        fresh = self._new_member(old.identity, old.store.reopen())
        self.members[i] = fresh
        out = fresh.core.start(self.now)
        self.apply(fresh, out)
        return out

    def step(self) -> bool:
        """Deliver one message, or fire the earliest due timers; False when nothing is due."""
        if self.queue:
            dst, src, data = self.queue.popleft()
            i = self.index(dst)
            if i not in self.down:
                m = self.members[i]
                self.apply(m, m.core.receive(src, data, self.now))
            return True
        due = [
            m for j, m in enumerate(self.members) if j not in self.down and m.wake_at is not None
        ]
        if not due:
            return False
        self.now = max(self.now, min(m.wake_at for m in due if m.wake_at is not None))
        for m in due:
            if m.wake_at is not None and m.wake_at <= self.now:
                self.apply(m, m.core.tick(self.now))
        return True

    def run(self, *, max_steps: int = 200_000) -> None:
        """Deliver everything in flight and fire timers until nothing is due."""
        for _ in range(max_steps):
            if not self.step():
                return
        raise AssertionError("the community never went quiet")


def txs_of(m: Member) -> list[Value]:
    return [d.tx for d in m.deliveries]


def blocks_msg(lace: bytes, *blocks: Block) -> bytes:
    return encode(EpochBlocks(lace, tuple(b.to_bytes() for b in blocks)))


def reasons(out: Output) -> list[str]:
    return [r.error.reason for r in out.rejected]


# -- constitutions ---------------------------------------------------------------------------


def test_constitution_refuses_unsorted_and_duplicate_participants() -> None:
    a, b = sorted(x.member_id for x in identities(2))
    with pytest.raises(InvalidConstitution) as unsorted:
        Constitution((b, a), 2, 3, 1000)
    assert unsorted.value.reason == "bad_participants"
    with pytest.raises(InvalidConstitution) as duplicate:
        Constitution((a, a), 2, 3, 1000)
    assert duplicate.value.reason == "bad_participants"
    with pytest.raises(InvalidConstitution) as short:
        Constitution((a[:31],), 2, 3, 1000)
    assert short.value.reason == "bad_participants"
    with pytest.raises(InvalidConstitution) as empty:
        Constitution((), 2, 3, 1000)
    assert empty.value.reason == "bad_participants"
    assert Constitution.of([b, a]).participants == (a, b)  # .of sorts


@pytest.mark.parametrize(("num", "den"), [(3, 3), (4, 3), (-1, 3), (1, 0), (1, 1001), (2, -3)])
def test_constitution_refuses_bad_threshold(num: int, den: int) -> None:
    ids: list[bytes] = [x.member_id for x in identities(4)]
    with pytest.raises(InvalidConstitution) as exc:
        Constitution.of(ids, threshold=(num, den))
    assert exc.value.reason == "bad_threshold"


@pytest.mark.parametrize(("n", "threshold"), [(7, (1, 2)), (4, (1, 3)), (4, (0, 1)), (10, (1, 2))])
def test_constitution_refuses_unsafe_threshold(n: int, threshold: tuple[int, int]) -> None:
    ids: list[bytes] = [x.member_id for x in identities(n)]
    with pytest.raises(InvalidConstitution) as exc:
        Constitution.of(ids, threshold=threshold)
    assert exc.value.reason == "unsafe_threshold"


def test_half_of_four_is_safe_because_it_rounds_to_three() -> None:
    """1/2 of 4 gives quorum 3 = the 2/3 quorum, and 3 > (4 + 1) / 2: two quorums share a
    correct member, so it is (rightly) accepted."""
    c = Constitution.of([x.member_id for x in identities(4)], threshold=(1, 2))
    assert (c.quorum, c.f) == (3, 1)


@pytest.mark.parametrize("timeout_ms", [0, -5, 3_600_001])
def test_constitution_refuses_timeout_out_of_range(timeout_ms: int) -> None:
    with pytest.raises(InvalidConstitution) as exc:
        Constitution.of([identity(0).member_id], timeout_ms=timeout_ms)
    assert exc.value.reason == "bad_timeout"


@pytest.mark.parametrize("timeout_ms", [1, 3_600_000])
def test_constitution_timeout_bounds_are_inclusive(timeout_ms: int) -> None:
    c = Constitution.of([identity(0).member_id], timeout_ms=timeout_ms)
    assert c.timeout_s == timeout_ms / 1000


@pytest.mark.parametrize(
    ("n", "f", "quorum"), [(1, 0, 1), (3, 0, 3), (4, 1, 3), (7, 2, 5), (10, 3, 7)]
)
def test_constitution_numbers(n: int, f: int, quorum: int) -> None:
    ids: list[bytes] = [x.member_id for x in identities(n)]
    c = Constitution.of(ids)
    assert (c.n, c.f, c.quorum) == (n, f, quorum)
    assert 2 * c.quorum - n > c.f  # any two quorums share a correct member
    assert c.quorum <= n - f  # the correct members alone make a quorum
    ordered = sorted(ids)
    assert [c.leader(w) for w in range(2 * n)] == ordered + ordered


@pytest.mark.parametrize(("n", "threshold"), [(4, (3, 4)), (7, (999, 1000)), (10, (4, 5))])
def test_constitution_refuses_a_threshold_that_f_crashes_would_halt(
    n: int, threshold: tuple[int, int]
) -> None:
    ids = [x.member_id for x in identities(n)]
    with pytest.raises(InvalidConstitution) as exc:
        Constitution.of(ids, threshold=threshold)
    assert exc.value.reason == "unlive_threshold"


# -- geneses ---------------------------------------------------------------------------------


def test_genesis_lace_depends_on_every_field() -> None:
    ids: list[bytes] = [x.member_id for x in identities(4)]
    c = Constitution.of(ids)
    first = Genesis.first(b"rules", c)
    base = Genesis(b"rules", 1, c, first.lace(), b"\x01" * 32, 5)
    variants = [
        base,
        Genesis(b"rulez", 1, c, first.lace(), b"\x01" * 32, 5),
        Genesis(b"rules", 2, c, first.lace(), b"\x01" * 32, 5),
        Genesis(b"rules", 1, Constitution.of(ids[:3]), first.lace(), b"\x01" * 32, 5),
        Genesis(b"rules", 1, Constitution.of(ids, threshold=(1, 2)), first.lace(), b"\x01" * 32, 5),
        Genesis(b"rules", 1, Constitution.of(ids, timeout_ms=999), first.lace(), b"\x01" * 32, 5),
        Genesis(b"rules", 1, c, b"c/" + b"\x00" * 32, b"\x01" * 32, 5),
        Genesis(b"rules", 1, c, first.lace(), b"\x02" * 32, 5),
        Genesis(b"rules", 1, c, first.lace(), b"\x01" * 32, 6),
    ]
    laces = [g.lace() for g in variants]
    assert len(set(laces)) == len(variants)
    assert all(lace.startswith(b"c/") and len(lace) == 34 for lace in laces)
    assert first.lace() not in laces
    assert Genesis.first(b"rules", c).lace() == first.lace()  # and only on them


@pytest.mark.parametrize(
    ("epoch", "previous", "ended_by", "community"),
    [
        (0, b"c/x", b"", b"rules"),
        (0, b"", b"\x01" * 32, b"rules"),
        (1, b"", b"", b"rules"),
        (1, b"c/x", b"", b"rules"),
        (1, b"", b"\x01" * 32, b"rules"),
        (-1, b"", b"", b"rules"),
        (0, b"", b"", b""),
        (0, b"", b"", b"x" * 65),
    ],
)
def test_genesis_refuses_bad_links(
    epoch: int, previous: bytes, ended_by: bytes, community: bytes
) -> None:
    c = Constitution.of([identity(0).member_id])
    with pytest.raises(InvalidConstitution) as exc:
        Genesis(community, epoch, c, previous, ended_by, 0)
    assert exc.value.reason == "bad_genesis"


def test_genesis_successor_links_back() -> None:
    ids: list[bytes] = [x.member_id for x in identities(4)]
    first = Genesis.first(b"rules", Constitution.of(ids))
    c2 = Constitution.of(ids[:3])
    nxt = first.successor(c2, b"\x07" * 32, 11)
    assert (nxt.community, nxt.epoch, nxt.constitution) == (b"rules", 1, c2)
    assert (nxt.previous_lace, nxt.ended_by, nxt.ended_at) == (first.lace(), b"\x07" * 32, 11)
    third = nxt.successor(c2, b"\x08" * 32, 0)
    assert (third.epoch, third.previous_lace) == (2, nxt.lace())


# -- refused blocks --------------------------------------------------------------------------


def lone_core(n: int = 4) -> tuple[list[Identity], Genesis, Blocklace, ConsensusCore]:
    """Member 0's core (not producing), to feed hand-made blocks to."""
    ids = identities(n)
    g = genesis_of(ids)
    bl = Blocklace(MemoryStore())
    core = ConsensusCore(ids[0], g, bl, produce=False)
    core.start(0.0)
    return ids, g, bl, core


def empty_block(ident: Identity, lace: bytes, pointers: Iterable[BlockId] = ()) -> Block:
    return Block.create(ident, lace, RoundPayload(()), tuple(pointers))


def test_block_from_non_participant_is_refused() -> None:
    ids, g, bl, core = lone_core()
    out = core.receive(
        MemberId(ids[1].member_id), blocks_msg(g.lace(), empty_block(OUTSIDER, g.lace())), 0.0
    )
    assert reasons(out) == ["not_participant"]
    assert isinstance(out.rejected[0].error, ConsensusRejected)
    assert len(bl) == 0


def test_block_with_foreign_payload_is_refused() -> None:
    ids, g, bl, core = lone_core()
    bad = Block.create(ids[1], g.lace(), ("not", "a", "round"), ())
    out = core.receive(MemberId(ids[1].member_id), blocks_msg(g.lace(), bad), 0.0)
    assert reasons(out) == ["bad_payload"]
    assert len(bl) == 0


def test_block_below_quorum_is_refused_and_quorum_is_accepted() -> None:
    ids, g, bl, core = lone_core()
    lace = g.lace()
    peer = MemberId(ids[1].member_id)
    roots = [empty_block(x, lace) for x in ids]
    out = core.receive(peer, blocks_msg(lace, *roots), 0.0)
    assert out.rejected == [] and len(bl) == 4
    # Quorum is 3: two creators of round 0 (even with two blocks of its own line) are too few.
    thin = empty_block(ids[1], lace, [roots[1].id, roots[2].id])
    out = core.receive(peer, blocks_msg(lace, thin), 0.0)
    assert reasons(out) == ["below_quorum"]
    assert thin.id not in bl
    enough = empty_block(ids[1], lace, [roots[1].id, roots[2].id, roots[3].id])
    out = core.receive(peer, blocks_msg(lace, enough), 0.0)
    assert out.rejected == [] and enough.id in bl


def test_depth_two_needs_a_quorum_of_round_one() -> None:
    """Pointing to a quorum of creators of *some* round is not enough: it must be round d-1."""
    ids, g, bl, core = lone_core()
    lace = g.lace()
    peer = MemberId(ids[1].member_id)
    roots = [empty_block(x, lace) for x in ids]
    one = empty_block(ids[1], lace, [r.id for r in roots[1:]])
    core.receive(peer, blocks_msg(lace, *roots, one), 0.0)
    assert one.id in bl
    # depth 2 (via ``one``) but round 1 has a single creator
    sneaky = empty_block(ids[2], lace, [one.id, roots[2].id, roots[3].id])
    out = core.receive(peer, blocks_msg(lace, sneaky), 0.0)
    assert reasons(out) == ["below_quorum"]


def test_message_for_unknown_lace_is_refused() -> None:
    ids, _g, bl, core = lone_core()
    other = LaceId(b"c/" + b"\x42" * 32)
    peer = MemberId(ids[1].member_id)
    out = core.receive(peer, blocks_msg(other, empty_block(ids[1], other)), 0.0)
    assert len(out.rejected) == 1 and isinstance(out.rejected[0].error, UnknownEpoch)
    assert reasons(out) == ["unknown_epoch"]
    out = core.receive(peer, encode(EpochHave(other, (), ())), 0.0)
    assert reasons(out) == ["unknown_epoch"] and out.sends == []
    assert len(bl) == 0


def test_forged_signature_is_refused() -> None:
    ids, g, bl, core = lone_core()
    raw = bytearray(empty_block(ids[1], g.lace()).to_bytes())
    raw[-1] ^= 0x01  # the signature's last byte
    out = core.receive(
        MemberId(ids[1].member_id), encode(EpochBlocks(g.lace(), (bytes(raw),))), 0.0
    )
    assert reasons(out) == ["forged_signature"]
    assert len(bl) == 0


def test_block_of_another_lace_inside_a_message_is_refused() -> None:
    ids, g, bl, core = lone_core()
    stray = empty_block(ids[1], b"c/" + b"\x01" * 32)
    out = core.receive(MemberId(ids[1].member_id), blocks_msg(g.lace(), stray), 0.0)
    assert reasons(out) == ["wrong_lace"]
    assert len(bl) == 0


def garbage_messages(lace: bytes, good: Block) -> list[bytes]:
    msg = blocks_msg(lace, good)
    raw = good.to_bytes()
    return [
        b"",
        b"\xff\x00garbage",
        b"\xc1",
        msg[:-1],
        msg[: len(msg) // 2],
        msg + b"\x00",
        encode(("hello", 1)),
        encode(EpochBlocks(lace, (raw[:-3],))),
        encode(EpochBlocks(lace, (b"\x93\x01\x02\x03",))),
        encode(EpochBlocks(lace, (raw + b"\x00",))),
    ]


def test_garbage_is_refused_nothing_is_stored_and_the_core_still_works() -> None:
    ids, g, bl, core = lone_core()
    peer = MemberId(ids[1].member_id)
    good = empty_block(ids[1], g.lace())
    for data in garbage_messages(g.lace(), good):
        out = core.receive(peer, data, 0.0)
        assert len(out.rejected) == 1, data
        assert isinstance(out.rejected[0].error, RemoteProtocolError)
        assert out.rejected[0].peer == peer
        assert out.deliveries == [] and out.created == []
        assert len(bl) == 0 and bl.pending_count == 0
    out = core.receive(peer, blocks_msg(g.lace(), good), 0.0)
    assert out.rejected == [] and good.id in bl


def test_garbage_in_a_running_community_does_not_disturb_it() -> None:
    c = Community(4)
    c.submit(0, ("tx", 0))
    c.run()
    m = c.members[1]
    some = m.blocklace.get(next(iter(m.blocklace.iter_lace(c.genesis.lace()))))
    before = len(m.blocklace)
    for data in garbage_messages(c.genesis.lace(), some):
        out = m.core.receive(c.members[2].id, data, c.now)
        assert len(out.rejected) == 1 and out.sends == []
    assert len(m.blocklace) == before
    c.submit(1, ("tx", 1))
    c.run()
    assert all(txs_of(x) == [("tx", 0), ("tx", 1)] for x in c.members)


# -- leaders ---------------------------------------------------------------------------------


def test_only_the_waves_leader_makes_leader_blocks() -> None:
    ids, g, _bl, core = lone_core()
    lace = g.lace()
    roots = [empty_block(x, lace) for x in ids]
    core.receive(MemberId(ids[1].member_id), blocks_msg(lace, *roots), 0.0)
    assert core.order_of(0).leader_blocks(0) == [roots[0].id]
    assert g.constitution.leader(0) == ids[0].member_id


def test_non_leader_round_blocks_never_become_leaders_or_final() -> None:
    """With wave 0's leader down, nobody's round-0 block stands in for it; later waves'
    leaders become final and every transaction is delivered."""
    c = Community(4)
    c.down.add(0)
    for i in (1, 2, 3):
        c.submit(i, ("tx", i))
    c.run()
    constitution = c.genesis.constitution
    for m in c.members[1:]:
        assert sorted(txs_of(m)) == [("tx", 1), ("tx", 2), ("tx", 3)]  # type: ignore[type-var]
        order = m.core.order_of(0)
        assert order.leader_blocks(0) == []
        assert 0 not in order.final_leaders
        for wave in range(m.blocklace.max_depth(c.genesis.lace()) // W + 1):
            for b in order.leader_blocks(wave):
                assert m.blocklace.meta(b).creator == constitution.leader(wave)
                assert m.blocklace.meta(b).depth == W * wave
        assert order.final_leaders
        for wave, b in order.final_leaders.items():
            assert m.blocklace.meta(b).creator == constitution.leader(wave)
        for anchor in m.anchors:
            assert m.blocklace.meta(anchor.leader).creator == constitution.leader(anchor.wave)


def forking_hook(split: set[int], community: Community) -> Hook:
    """Every block the member creates, it also makes a twin of (other txs), sent to ``split``."""
    counter = [0]

    def hook(m: Member, out: Output) -> list[tuple[MemberId, bytes]]:
        twins: dict[bytes, bytes] = {}
        for block in out.created:
            counter[0] += 1
            twin = Block.create(
                m.identity, block.lace, RoundPayload((("fork", counter[0]),)), block.pointers
            )
            twins[blocks_msg(block.lace, block)] = blocks_msg(block.lace, twin)
        sends = []
        for dst, data in out.sends:
            twin_data = twins.get(data)
            if twin_data is not None and community.index(dst) in split:
                sends.append((dst, twin_data))
            else:
                sends.append((dst, data))
        return sends

    return hook


@pytest.mark.parametrize("split", [{1}, {1, 2}])
def test_a_forking_leader_never_gets_both_blocks_ordered(split: set[int]) -> None:
    c = Community(4)
    # member 0 leads waves 0, 4, 8...: it forks every block, the leader blocks included
    c.hooks[0] = forking_hook(split, c)
    for i in (1, 2, 3):
        c.submit(i, ("tx", i))
    c.submit(0, ("bad", 0))
    c.run()
    correct = c.members[1:]
    logs = [txs_of(m) for m in correct]
    assert all(log == logs[0] for log in logs)
    assert {("tx", 1), ("tx", 2), ("tx", 3)} <= set(logs[0])
    for m in correct:
        ordered = [b for a in m.anchors for b in a.blocks]
        assert len(ordered) == len(set(ordered))
        slots = {(m.blocklace.meta(b).creator, m.blocklace.meta(b).seq) for b in ordered}
        assert len(slots) == len(ordered)  # never two blocks of one chain position
        leaders = [a.leader for a in m.anchors]
        waves = [a.wave for a in m.anchors]
        assert len(set(waves)) == len(waves) == len(set(leaders))
        assert m.blocklace.equivocators(c.genesis.lace()) == {c.members[0].id}


# -- amendments ------------------------------------------------------------------------------


def test_check_amendment_reasons() -> None:
    ids = identities(4)
    g = genesis_of(ids)
    lace = g.lace()
    new_c = Constitution.of([x.member_id for x in ids[:3]])
    good = [approve_amendment(x, lace, new_c) for x in ids[:3]]
    check_amendment(Amendment(lace, new_c, tuple(good)), g)  # a quorum of 3 of 4: valid

    def reason(amendment: Amendment) -> str:
        with pytest.raises(InvalidAmendment) as exc:
            check_amendment(amendment, g)
        return exc.value.reason

    assert reason(Amendment(lace, new_c, tuple(good[:2]))) == "no_supermajority"
    assert reason(Amendment(lace, new_c, ())) == "no_supermajority"
    forged = Approval(ids[2].member_id, ids[3].sign(b"x" * 32))
    assert reason(Amendment(lace, new_c, (*good[:2], forged))) == "forged_approval"
    other_c = Constitution.of([x.member_id for x in ids[1:]])
    for_other = approve_amendment(ids[2], lace, other_c)  # signed for another constitution
    assert reason(Amendment(lace, new_c, (*good[:2], for_other))) == "forged_approval"
    outsider = approve_amendment(OUTSIDER, lace, new_c)
    assert reason(Amendment(lace, new_c, (*good, outsider))) == "not_participant"
    assert reason(Amendment(lace, new_c, (*good[:2], good[0]))) == "duplicate_approval"
    successor = g.successor(g.constitution, b"\x01" * 32, 0)
    stale = [approve_amendment(x, successor.lace(), new_c) for x in ids[:3]]
    assert reason(Amendment(successor.lace(), new_c, tuple(stale))) == "stale_epoch"
    # signed for another epoch's lace, but claimed for this one: the signatures do not verify
    assert reason(Amendment(lace, new_c, tuple(stale))) == "forged_approval"
    with pytest.raises(InvalidAmendment) as short:
        Approval(ids[0].member_id, b"\x00" * 10)
    assert short.value.reason == "bad_approval"


def bad_amendments(ids: list[Identity], g: Genesis) -> dict[str, Amendment]:
    lace = g.lace()
    new_c = Constitution.of([x.member_id for x in ids[:3]])
    good = [approve_amendment(x, lace, new_c) for x in ids[:3]]
    other = g.successor(g.constitution, b"\x01" * 32, 0).lace()
    return {
        "no_supermajority": Amendment(lace, new_c, tuple(good[:2])),
        "forged_approval": Amendment(
            lace, new_c, (*good[:2], Approval(ids[2].member_id, ids[3].sign(b"x" * 32)))
        ),
        "not_participant": Amendment(
            lace, new_c, (*good, approve_amendment(OUTSIDER, lace, new_c))
        ),
        "duplicate_approval": Amendment(lace, new_c, (good[0], good[0], good[1])),
        "stale_epoch": Amendment(
            other, new_c, tuple(approve_amendment(x, other, new_c) for x in ids[:3])
        ),
    }


@pytest.mark.parametrize(
    "reason",
    ["no_supermajority", "forged_approval", "not_participant", "duplicate_approval", "stale_epoch"],
)
def test_invalid_amendment_is_delivered_but_does_not_end_the_epoch(reason: str) -> None:
    c = Community(4)
    amendment = bad_amendments(c.ids, c.genesis)[reason]
    c.submit(1, amendment)
    c.run()
    c.submit(2, ("after", 1))
    c.run()
    for m in c.members:
        assert txs_of(m) == [amendment, ("after", 1)]
        assert [(d.epoch, d.position) for d in m.deliveries] == [(0, 0), (0, 1)]
        assert m.epochs == []
        assert m.core.epoch == 0 and m.core.lace == c.genesis.lace()
        assert [r.error.reason for r in m.rejected] == [reason]
        assert isinstance(m.rejected[0].error, InvalidAmendment)
        assert m.rejected[0].peer == c.members[1].id


def amended_community() -> tuple[Community, Amendment, int]:
    """Four members; member 2 proposes removing member 3 (which has no transactions)."""
    c = Community(4)
    lace = c.genesis.lace()
    removed = 3
    new_c = Constitution.of([x.member_id for i, x in enumerate(c.ids) if i != removed])
    amendment = Amendment(lace, new_c, tuple(approve_amendment(x, lace, new_c) for x in c.ids[:3]))
    c.submit(0, ("before", 0))
    c.run()
    c.submit(2, amendment)
    c.submit(1, ("racing", 1))
    c.run()
    return c, amendment, removed


def test_valid_amendment_ends_the_epoch() -> None:
    c, amendment, removed = amended_community()
    created_at_end = [m.core.blocks_created for m in c.members]
    c.submit(0, ("after", 0))
    c.submit(1, ("after", 1))
    c.run()
    ref = c.members[0]
    [ended] = ref.epochs
    amended = next(d for d in ref.deliveries if d.tx == amendment)
    nxt = c.genesis.successor(amendment.constitution, amended.block, amended.position)
    assert ended == EpochEnded(0, amended.position, nxt)
    for m in c.members:
        assert m.epochs == [ended]
        assert m.core.epoch == 1 and m.core.genesis == nxt and m.core.lace == nxt.lace()
        if m is c.members[removed]:  # no longer a participant: it hears nothing of epoch 1
            assert m.deliveries == [d for d in ref.deliveries if d.epoch == 0]
            continue
        assert m.deliveries == ref.deliveries
        old = [d for d in m.deliveries if d.epoch == 0]
        new = [d for d in m.deliveries if d.epoch == 1]
        assert old[-1].tx == amendment  # nothing of the old lace after the amendment
        assert [d.position for d in old] == list(range(len(old)))
        assert [d.position for d in new] == list(range(len(new)))
        assert {d.tx for d in new} >= {("after", 0), ("after", 1)}
    every = [d.tx for d in ref.deliveries]
    assert every.count(("racing", 1)) == 1 and every.count(("before", 0)) == 1
    gone = c.members[removed]
    assert not gone.core.is_participant() and not gone.core.active and gone.wake_at is None
    assert gone.core.blocks_created == created_at_end[removed]
    for m in c.members:
        assert gone.id not in m.blocklace.creators(nxt.lace())
        assert not m.core.active and m.wake_at is None


def test_removed_member_cannot_get_anything_delivered() -> None:
    c, _amendment, removed = amended_community()
    gone = c.members[removed]
    out = c.submit(removed, ("from", "removed"))
    assert out.sends == [] and out.created == [] and out.wake_at is None
    c.run()
    # It signs a late block of the old lace: it may be stored, but it is never delivered.
    ref = c.members[0]
    old_lace = c.genesis.lace()
    end = ref.core.order_of(0)
    assert end.final_leaders
    top = ref.blocklace.max_depth(old_lace)
    below = list(ref.blocklace.depth_range(old_lace, top - 1, top - 1))
    parent = ref.blocklace.latest(old_lace, gone.id)
    pointers = {*below, *([parent] if parent else [])}
    late = Block.create(gone.identity, old_lace, RoundPayload((("late", 3),)), tuple(pointers))
    for m in c.members[:3]:
        out = m.core.receive(gone.id, blocks_msg(old_lace, late), c.now)
        assert out.deliveries == [] and out.sends == []
    c.run()
    for m in c.members:
        assert ("late", 3) not in txs_of(m) and ("from", "removed") not in txs_of(m)


def test_block_deeper_than_an_ended_epoch_is_stale() -> None:
    c, _amendment, _removed = amended_community()
    m = c.members[0]
    old_lace = c.genesis.lace()
    end_depth = max(m.blocklace.depth(b) for b in m.blocklace.iter_lace(old_lace))
    top = m.blocklace.depth_range(old_lace, end_depth, end_depth)
    assert len({m.blocklace.meta(b).creator for b in top}) >= c.genesis.constitution.quorum
    creator = c.ids[1]
    own = m.blocklace.latest(old_lace, MemberId(creator.member_id))
    pointers = {*top, *([own] if own is not None else [])}
    deeper = Block.create(creator, old_lace, RoundPayload(()), tuple(pointers))
    out = m.core.receive(c.members[1].id, blocks_msg(old_lace, deeper), c.now)
    assert reasons(out) == ["stale_epoch"]
    assert deeper.id not in m.blocklace


# -- quiescence ------------------------------------------------------------------------------


def test_a_new_community_only_says_hello_once_then_is_silent() -> None:
    c = Community(4)
    # start() greets every peer once (catch-up after a restart); nothing else, no timer
    assert len(c.queue) == 4 * 3
    assert all(isinstance(decode(data), EpochHave) for _, _, data in c.queue)
    assert all(not m.core.active and m.wake_at is None for m in c.members)
    c.run()
    assert c.now == 0.0
    for m in c.members:
        assert len(m.blocklace) == 0 and m.rejected == []
        assert not m.core.active and m.wake_at is None
        out = m.core.tick(5.0)
        assert out.sends == [] and out.created == [] and out.wake_at is None


def test_quiet_after_everything_is_delivered() -> None:
    c = Community(4)
    for i in range(4):
        c.submit(i, ("tx", i))
    c.run()
    for i, m in enumerate(c.members):
        assert len(m.deliveries) == 4
        assert not m.core.active and m.wake_at is None and m.core.pending_count == 0
        for now in (c.now, c.now + 100.0):
            out = m.core.tick(now)
            assert out.sends == [] and out.created == [] and out.wake_at is None
        again = m.core.submit(("tx", i), c.now + 100.0)  # already delivered: a no-op
        assert again.sends == [] and again.created == [] and again.wake_at is None


# -- restart ---------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [0, 3, 10, 25, 50, 80, 120])
def test_restart_replays_exactly_what_was_delivered_then_continues(steps: int) -> None:
    c = Community(4)
    for i in range(4):
        c.submit(i, ("tx", i, 0))
    c.run()
    for k in (1, 2):
        for i in range(4):
            c.submit(i, ("tx", i, k))
    for _ in range(steps):
        c.step()
    seen = list(c.members[2].deliveries)
    assert len(seen) >= 4
    out = c.restart(2)
    assert out.deliveries == seen  # the same deliveries, in the same order, nothing more
    assert out.epochs == []
    for k in range(3):
        c.submit(2, ("tx", 2, k))  # a shell resubmitting its durable queue duplicates nothing
    c.run()
    ref = c.members[0].deliveries
    assert len(ref) == 12 and len({encode(d.tx) for d in ref}) == 12
    for m in c.members:
        assert m.deliveries == ref
        assert [d.position for d in m.deliveries] == list(range(12))
        assert not m.core.active and m.wake_at is None


def test_restart_after_an_amendment_replays_both_epochs() -> None:
    c, _amendment, removed = amended_community()
    c.submit(0, ("after", 0))
    c.run()
    seen = list(c.members[1].deliveries)
    assert seen[-1].epoch == 1
    out = c.restart(1)
    assert out.deliveries == seen
    assert out.epochs == c.members[0].epochs
    fresh = c.members[1].core
    assert fresh.epoch == 1 and fresh.lace == c.members[0].core.lace
    c.submit(1, ("after", 1))
    c.run()
    for i, m in enumerate(c.members):
        if i != removed:
            assert m.deliveries == c.members[0].deliveries
            assert m.deliveries[-1].tx == ("after", 1) and m.deliveries[-1].epoch == 1


def test_a_self_forked_member_with_a_pending_tx_falls_quiet() -> None:
    ids = identities(4)
    g = genesis_of(ids)
    bl = Blocklace(MemoryStore())
    core = ConsensusCore(ids[0], g, bl)
    core.start(0.0)
    lace = g.lace()
    mine = empty_block(ids[0], lace)
    twin = Block.create(ids[0], lace, RoundPayload((("other",),)), ())
    core.receive(MemberId(ids[1].member_id), blocks_msg(lace, mine, twin), 0.0)
    assert bl.equivocators(lace) == {MemberId(ids[0].member_id)}
    out = core.submit(("stuck",), 0.0)
    assert out.created == []  # it never makes its fork worse
    sends = 0
    now = 0.0
    for _ in range(20):
        if out.wake_at is None:
            break
        now = out.wake_at
        out = core.tick(now)
        sends += len(out.sends)
    assert out.wake_at is None and sends <= 3


@pytest.mark.parametrize(
    ("frontier", "wants", "reason"),
    [
        (((b"\x01" * 31, 0),), (), "bad_frontier"),  # a creator is a 32-byte member id
        (((b"\x01" * 33, 0),), (), "bad_frontier"),
        ((), (b"\x02" * 31,), "bad_want"),  # a wanted block is a 32-byte block id
        ((), ("not bytes",), "bad_want"),
    ],
)
def test_a_have_with_ids_of_the_wrong_size_is_refused(
    frontier: tuple[tuple[bytes, int], ...], wants: tuple[object, ...], reason: str
) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        EpochHave(b"c/" + b"\x42" * 32, frontier, wants)  # type: ignore[arg-type]
    assert info.value.reason == reason
