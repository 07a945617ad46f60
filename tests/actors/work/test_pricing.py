"""Prices as voted rules: versions, exact rounding, breakdowns whose total is their sum."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peoplenet.actors.work.misuse import KitMisuse
from peoplenet.actors.work.pricing import (
    Breakdown,
    RulesBook,
    apply_rate,
    parse_rate,
    prorate,
    rate_text,
    round_half_up,
)
from peoplenet.plugins.api import AppTxRejected
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.wire.codec import Value, decode, encode

# -- rates and rounding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3/20", Fraction(3, 20)),
        ("7", Fraction(7)),
        ("-1/2", Fraction(-1, 2)),
        ("2/4", Fraction(1, 2)),
    ],
)
def test_parse_rate_reads_integers_and_fractions(text: str, value: Fraction) -> None:
    assert parse_rate(text) == value


@pytest.mark.parametrize("text", ["0.5", "1/0", "", "a/b", "1/2/3", " 1/2", "1e3", "+1"])
def test_parse_rate_refuses_anything_else_as_bad_rate(text: str) -> None:
    with pytest.raises(AppTxRejected) as caught:
        parse_rate(text)
    assert caught.value.reason == "bad_rate"


def test_parse_rate_refuses_a_float_and_an_int() -> None:
    for wrong in (0.5, 1):
        with pytest.raises(AppTxRejected, match="bad_rate"):
            parse_rate(wrong)  # type: ignore[arg-type]


@given(st.fractions(min_value=-(10**12), max_value=10**12, max_denominator=10**12))
def test_rate_text_round_trips(value: Fraction) -> None:
    assert parse_rate(rate_text(value)) == value


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(5, 2), 3),
        (Fraction(-5, 2), -2),
        (Fraction(7, 3), 2),
        (Fraction(8, 3), 3),
        (Fraction(4), 4),
        (Fraction(-7, 3), -2),
    ],
)
def test_round_half_up(value: Fraction, rounded: int) -> None:
    assert round_half_up(value) == rounded


def test_apply_rate_rounds_half_up_to_the_cent() -> None:
    assert apply_rate(333, "3/20") == 50  # 49.95
    assert apply_rate(10, "1/4") == 3  # 2.5 -> 3
    assert apply_rate(10, Fraction(1, 8)) == 1  # 1.25 -> 1
    assert apply_rate(0, "1/2") == 0


@given(st.integers(0, 10**12), st.fractions(min_value=0, max_value=10))
def test_apply_rate_is_within_half_a_cent_of_the_exact_product(amount: int, rate: Fraction) -> None:
    assert abs(apply_rate(amount, rate) - amount * rate) <= Fraction(1, 2)


def test_prorate_rounds_once() -> None:
    # 1.3333 km at 100 cents/km: 133.33 -> 133; 2.5 cents exact -> 3
    assert prorate(100, 1333, 1000) == 133
    assert prorate(1, 2500, 1000) == 3


@pytest.mark.parametrize(
    "call",
    [
        lambda: apply_rate(1.5, "1/2"),  # type: ignore[arg-type]
        lambda: apply_rate(True, "1/2"),
        lambda: prorate(10, 5, 0),
        lambda: prorate(10, "5", 1),  # type: ignore[arg-type]
    ],
)
def test_money_helpers_refuse_misuse_with_a_typed_error(call: object) -> None:
    assert callable(call)
    with pytest.raises(KitMisuse) as caught:
        call()
    assert caught.value.reason == "kit_misuse"


# -- breakdowns ------------------------------------------------------------------------------


def test_breakdown_total_is_the_sum_of_its_terms_and_travels() -> None:
    fare = Breakdown.of(("base", 300), ("distance", 450), ("night", 75))
    assert fare.total == 825
    assert fare.term("distance") == 450
    assert fare.term("waiting") == 0
    assert fare.as_dict() == {"terms": {"base": 300, "distance": 450, "night": 75}, "total": 825}
    assert decode(encode(fare)) == fare


@pytest.mark.parametrize(
    ("terms", "total"),
    [
        ((("base", 300),), 301),
        ((("base", 300), ("base", 1)), 301),
        ((("", 300),), 300),
        ((("base", True),), 1),
    ],
)
def test_breakdown_refuses_inconsistent_terms(
    terms: tuple[tuple[str, int], ...], total: int
) -> None:
    with pytest.raises(KitMisuse):
        Breakdown(terms, total)


def test_a_breakdown_whose_total_lies_does_not_decode() -> None:
    body = msgpack.packb([171, [["base", 300]], 301], use_bin_type=True)
    forged = msgpack.packb(msgpack.ExtType(0x50, body), use_bin_type=True)
    with pytest.raises(RemoteProtocolError) as caught:
        decode(forged)
    assert caught.value.reason == "bad_record"
    body = msgpack.packb([171, [["base", 300]], 300], use_bin_type=True)
    assert decode(msgpack.packb(msgpack.ExtType(0x50, body))) == Breakdown.of(("base", 300))


# -- the rules book --------------------------------------------------------------------------


def test_versions_count_from_one_and_identical_settings_keep_the_version() -> None:
    book = RulesBook()
    assert book.current == 0
    assert book.adopt({"base": 300, "per_km": 120}, now_ms=1_000) == 1
    assert book.adopt({"per_km": 120, "base": 300}, now_ms=2_000) == 1
    assert book.adopt({"base": 350, "per_km": 120}, now_ms=3_000) == 2
    assert book.adopt({"base": 300, "per_km": 120}, now_ms=4_000) == 3  # history, not a set
    assert book.get(1) == {"base": 300, "per_km": 120}
    assert book.get(2)["base"] == 350
    assert book.adopted_at(2) == 3_000
    assert [book.version_at(t) for t in (999, 1_000, 3_500, 9_000)] == [0, 1, 2, 3]


def test_true_is_not_one_when_settings_are_compared() -> None:
    book = RulesBook()
    book.adopt({"night": 1}, 0)
    assert book.adopt({"night": True}, 0) == 2


def test_only_the_price_keys_make_versions() -> None:
    book = RulesBook(keys=("base", "per_km"))
    assert book.adopt({"base": 300, "per_km": 120, "offer_timeout_ms": 30_000}, 0) == 1
    assert book.adopt({"base": 300, "per_km": 120, "offer_timeout_ms": 60_000}, 1) == 1
    assert book.get(1) == {"base": 300, "per_km": 120}
    with pytest.raises(KitMisuse, match="per_km"):
        book.adopt({"base": 300}, 2)


@pytest.mark.parametrize("version", [0, 2, -1, "1", True])
def test_unknown_versions_are_refused(version: object) -> None:
    book = RulesBook()
    book.adopt({"base": 1}, 0)
    with pytest.raises(AppTxRejected) as caught:
        book.get(version)  # type: ignore[arg-type]
    assert caught.value.reason == "unknown_rules_version"


def test_a_version_cannot_be_changed_through_what_get_returns_or_what_was_given() -> None:
    given_settings: dict[str, Value] = {"base": 300, "zones": {"a": 1}}
    book = RulesBook()
    book.adopt(given_settings, 0)
    given_settings["base"] = 1
    assert book.get(1)["base"] == 300
    with pytest.raises(TypeError):
        book.get(1)["base"] = 2  # type: ignore[index]


def test_misuse_is_typed_and_changes_nothing() -> None:
    book = RulesBook()
    book.adopt({"base": 1}, 10)
    before = book.to_value()
    calls: tuple[Callable[[], object], ...] = (
        lambda: book.adopt({"base": 2}, 9),  # time went back
        lambda: book.adopt({"base": 0.5}, 11),  # type: ignore[dict-item]  # a float
        lambda: book.adopt([("base", 2)], 11),  # type: ignore[arg-type]
    )
    for call in calls:
        with pytest.raises(KitMisuse):
            call()
    assert book.to_value() == before


small_values = st.sampled_from([0, 1, True, "1", "1/2", None, (1,)])
settings_maps = st.dictionaries(st.sampled_from(["a", "b"]), small_values, max_size=2)
"""Few distinct maps, so two histories are often equal (``True`` and ``1`` differ)."""


@given(st.lists(settings_maps, max_size=4), st.lists(settings_maps, max_size=4))
def test_snapshots_are_equal_iff_the_books_are(
    first: list[dict[str, Value]], second: list[dict[str, Value]]
) -> None:
    one, two = RulesBook(), RulesBook()
    for at, settings in enumerate(first):
        one.adopt(settings, at)
    for at, settings in enumerate(second):
        two.adopt(settings, at)
    snap_one, snap_two = one.to_value(), two.to_value()
    assert decode(encode(snap_one)) == snap_one
    assert (encode(snap_one) == encode(snap_two)) == (one == two)
    same_history = [
        (v, one.adopted_at(v), encode(dict(one.get(v)))) for v in range(1, one.current + 1)
    ] == [(v, two.adopted_at(v), encode(dict(two.get(v)))) for v in range(1, two.current + 1)]
    assert same_history == (one == two)
    assert RulesBook.from_value(snap_one) == one


@pytest.mark.parametrize(
    "snapshot",
    [
        None,
        {"keys": None},
        {"keys": None, "versions": ({"at_ms": 0, "settings": {}}, {"at_ms": 1, "settings": {}})},
        {
            "keys": None,
            "versions": ({"at_ms": 5, "settings": {}}, {"at_ms": 1, "settings": {"a": 1}}),
        },
        {"keys": ("b", "a"), "versions": ()},
    ],
)
def test_from_value_refuses_what_to_value_never_gives(snapshot: object) -> None:
    with pytest.raises(KitMisuse):
        RulesBook.from_value(snapshot)  # type: ignore[arg-type]
