"""Worker-process signature checks: right answers, in order, and no process left behind."""

from __future__ import annotations

import multiprocessing

import pytest

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block, LaceId
from peoplenet.runtime.lace.verify_pool import VerifyPool, verify_signed


def test_pool_checks_signatures_in_order_and_stops_its_workers() -> None:
    alice, bob = Identity.from_seed(b"a" * 32), Identity.from_seed(b"b" * 32)
    good = [Block.create(alice, b"L", {"n": n}) for n in range(600)]
    forged = Block(bob.member_id, LaceId(b"L"), {"n": 1}, (), good[1].signature)
    blocks = [*good[:300], forged, *good[300:]]
    before = set(multiprocessing.active_children())
    with VerifyPool(2) as pool:
        pool.warm_up()
        assert len(set(multiprocessing.active_children()) - before) == 2
        verdicts = pool.verify(blocks)
    assert verdicts == [True] * 300 + [False] + [True] * 300
    assert set(multiprocessing.active_children()) - before == set()  # joined on close


def test_closed_pool_refuses_work() -> None:
    pool = VerifyPool(1)
    pool.close()
    pool.close()  # idempotent
    with pytest.raises(LocalError):
        pool.verify([])
    with pytest.raises(LocalError):
        VerifyPool(0)


def test_inline_check_rejects_malformed_keys_and_signatures() -> None:
    alice = Identity.from_seed(b"a" * 32)
    block = Block.create(alice, b"L", "x")
    signed = block.signature + block.id
    assert verify_signed([(signed, bytes(alice.member_id))]) == [True]
    assert verify_signed([(signed, b"\x00" * 31)]) == [False]  # wrong key length
    assert verify_signed([(signed[:10], bytes(alice.member_id))]) == [False]  # too short
