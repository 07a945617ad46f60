"""The jury draw: deterministic, without replacement, uniform, replacements continue the stream."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peoplenet.actors.work.jury import draw, seed
from peoplenet.actors.work.misuse import KitMisuse

members = st.lists(st.binary(min_size=32, max_size=32), min_size=0, max_size=30)
beacons = st.binary(min_size=32, max_size=32)


@given(beacons, st.binary(min_size=1, max_size=8), members, st.integers(0, 35), st.integers(0, 35))
def test_replacements_are_the_next_draw_and_never_repeat(
    beacon: bytes, dispute: bytes, pool: list[bytes], k1: int, k2: int
) -> None:
    first = draw(beacon, dispute, pool, k1)
    more = draw(beacon, dispute, pool, k2, skip=k1)
    assert first + more == draw(beacon, dispute, pool, k1 + k2)
    assert len(set(first + more)) == len(first + more)
    assert set(first + more) <= set(pool)
    assert len(first + more) == min(k1 + k2, len(set(pool)))


@given(beacons, members, st.randoms(use_true_random=False))
def test_the_order_members_are_listed_in_does_not_matter(
    beacon: bytes, pool: list[bytes], rnd: object
) -> None:
    shuffled = list(pool)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert draw(beacon, b"d", pool, 5) == draw(beacon, b"d", shuffled + pool[:2], 5)


def test_the_same_beacon_gives_the_same_jury_and_another_beacon_another() -> None:
    pool = [bytes([i]) * 32 for i in range(20)]
    one = draw(b"\x01" * 32, b"dispute", pool, 5)
    assert one == draw(b"\x01" * 32, b"dispute", pool, 5)
    assert one != draw(b"\x02" * 32, b"dispute", pool, 5)
    assert one != draw(b"\x01" * 32, b"dispute2", pool, 5)


def test_the_seed_keeps_beacon_and_dispute_apart() -> None:
    assert seed(b"ab", b"c") != seed(b"a", b"bc")


def test_every_member_is_about_equally_likely() -> None:
    pool = [bytes([i]) * 32 for i in range(7)]
    seats: Counter[bytes] = Counter()
    for n in range(2_100):
        seats.update(draw(n.to_bytes(32, "big"), b"d", pool, 3))
    expected = 2_100 * 3 / 7  # 900 each
    assert all(abs(count - expected) < 120 for count in seats.values()), seats


@pytest.mark.parametrize(
    ("beacon", "dispute", "pool", "k", "skip"),
    [
        ("x", b"d", [], 1, 0),
        (b"x", b"d", [], -1, 0),
        (b"x", b"d", [], 1, -1),
        (b"x", b"d", ["a"], 1, 0),
        (b"x", b"d", [], True, 0),
    ],
)
def test_misuse_is_typed(
    beacon: object, dispute: bytes, pool: list[object], k: object, skip: object
) -> None:
    with pytest.raises(KitMisuse):
        draw(beacon, dispute, pool, k, skip)  # type: ignore[arg-type]


def _reference(beacon: bytes, dispute: bytes, pool: list[bytes], k: int) -> list[bytes]:
    """The draw as docs/work-kit.md specifies it, written again independently."""
    key = hashlib.blake2b(
        len(beacon).to_bytes(2, "big") + beacon + dispute, digest_size=32, person=b"peoplenet-jury1"
    ).digest()
    words = []
    for counter in range(64):
        block = hashlib.blake2b(counter.to_bytes(8, "big"), key=key, digest_size=64).digest()
        words += [int.from_bytes(block[i : i + 8], "big") for i in range(0, 64, 8)]
    items, out = sorted(set(pool)), []
    for i in range(min(k, len(items))):
        n = len(items) - i
        while words[0] >= 2**64 - 2**64 % n:
            words.pop(0)
        j = i + words.pop(0) % n
        items[i], items[j] = items[j], items[i]
        out.append(items[i])
    return out


@given(beacons, members, st.integers(0, 30))
def test_the_draw_is_what_the_documentation_says(beacon: bytes, pool: list[bytes], k: int) -> None:
    """Part of the format: a second implementation must seat the same jury."""
    assert list(draw(beacon, b"job", pool, k)) == _reference(beacon, b"job", pool, k)
