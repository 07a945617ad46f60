"""The pure connection policy: slots, strangers, request quotas, violation backoff, log tally."""

from __future__ import annotations

from collections.abc import Hashable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.net.conn_policy import (
    PolicyConfig,
    RefusalTally,
    RequestQuota,
    SlotTable,
    StrangerLedger,
    ViolationScores,
)

SMALL = PolicyConfig(
    max_connections=12,
    reserved_for_kept=4,
    handshakes_per_ip=3,
    max_strangers=5,
    strangers_per_ip=2,
    held_messages_per_stranger=4,
    held_bytes_per_stranger=1000,
    held_bytes_total=2500,
)


def test_config_refuses_bad_values() -> None:
    with pytest.raises(LocalError):
        PolicyConfig(max_connections=4, reserved_for_kept=4)
    with pytest.raises(LocalError):
        PolicyConfig(max_strangers=0)


# -- slots -------------------------------------------------------------------------------------

slot_ops = st.lists(
    st.tuples(
        st.sampled_from(["accept", "auth", "kept", "close", "dial"]),
        st.integers(0, 5),  # source address
        st.integers(0, 40),  # which existing connection
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(slot_ops)
def test_slots_never_give_a_kept_slot_away_and_evict_only_handshakes(
    ops: list[tuple[str, int, int]],
) -> None:
    table = SlotTable(SMALL)
    state: dict[Hashable, str] = {}  # key -> handshaking | stranger | kept
    next_key = 0
    for now, (op, ip, pick) in enumerate(ops):
        keys = sorted(state, key=str)
        key = keys[pick % len(keys)] if keys else None
        if op == "accept":
            adm = table.admit(f"10.0.0.{ip}", float(now))
            if adm.evict is not None:
                assert state[adm.evict] == "handshaking"  # never a stranger or a friend
                table.closed(adm.evict)
                del state[adm.evict]
            if adm.accept:
                table.opened(next_key, f"10.0.0.{ip}", float(now), authenticated=False)
                state[next_key] = "handshaking"
                next_key += 1
        elif op == "dial":
            table.opened(next_key, f"10.0.0.{ip}", float(now), authenticated=True, kept=True)
            state[next_key] = "kept"
            next_key += 1
        elif key is not None and op == "auth" and state[key] == "handshaking":
            table.closed(key)
            table.opened(key, "10.0.0.9", float(now), authenticated=True)
            state[key] = "stranger"
        elif key is not None and op == "kept" and state[key] == "stranger":
            table.set_kept(key, True)
            state[key] = "kept"
        elif key is not None and op == "close":
            table.closed(key)
            del state[key]
        unkept = sum(1 for s in state.values() if s != "kept")
        assert unkept <= SMALL.max_connections - SMALL.reserved_for_kept
        assert table.counts()["total"] == len(state)


def test_a_newcomer_evicts_the_oldest_handshake_of_the_busiest_address() -> None:
    table = SlotTable(PolicyConfig(max_connections=8, reserved_for_kept=4, handshakes_per_ip=3))
    for i, ip in enumerate(["a", "a", "a", "b"]):
        table.opened(i, ip, float(i), authenticated=False)
    assert table.admit("a", 9.0).reason == "too_many_handshakes_from_address"
    adm = table.admit("c", 9.0)
    assert adm.accept and adm.evict == 0
    table.closed(0)
    for i in range(1, 4):
        table.set_kept(i, False)  # authenticated strangers now: nothing left to evict
    assert table.admit("c", 10.0) == table.admit("c", 10.0) and table.admit("c", 10.0).accept
    table.opened(9, "c", 10.0, authenticated=True)
    assert table.admit("d", 11.0).reason == "too_many_connections"


# -- strangers ---------------------------------------------------------------------------------

ledger_ops = st.lists(
    st.tuples(
        st.sampled_from(["join", "hold", "leave", "request"]),
        st.integers(0, 6),
        st.integers(0, 1200),
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(ledger_ops)
def test_held_bytes_never_exceed_their_bounds(ops: list[tuple[str, int, int]]) -> None:
    ledger = StrangerLedger(SMALL)
    held: dict[Hashable, int] = {}
    next_key = 0
    for now, (op, ip, n) in enumerate(ops):
        keys = sorted(ledger, key=str)
        key = keys[n % len(keys)] if keys else None
        if op == "join":
            adm = ledger.admit(next_key, f"ip{ip}", float(now))
            assert adm.accept
            if adm.evict is not None:
                ledger.release(adm.evict)
                held.pop(adm.evict, None)
            ledger.add(next_key, f"ip{ip}", float(now))
            next_key += 1
        elif key is not None and op == "hold":
            if ledger.hold(key, n):
                held[key] = held.get(key, 0) + n
        elif key is not None and op == "request":
            ledger.touch(key, float(now), requested=True)
        elif key is not None and op == "leave":
            ledger.release(key)
            held.pop(key, None)
        assert ledger.held_bytes == sum(held.values()) <= SMALL.held_bytes_total
        assert all(v <= SMALL.held_bytes_per_stranger for v in held.values())
        assert len(ledger) <= SMALL.max_strangers


def test_a_newcomer_gets_a_stranger_slot_and_keeps_it_through_a_flood() -> None:
    ledger = StrangerLedger(PolicyConfig(max_strangers=32))
    t = 0.0
    for i in range(32):
        ledger.add(f"fake{i}", f"10.0.0.{i}", t)
        t += 1
    adm = ledger.admit("newcomer", "192.168.1.5", t)
    assert adm.accept and adm.evict == "fake0"
    ledger.release(adm.evict)
    ledger.add("newcomer", "192.168.1.5", t)
    for i in range(31):  # 31 more fakes from fresh addresses each push out someone else
        t += 1
        adm = ledger.admit(f"more{i}", f"10.0.1.{i}", t)
        assert adm.evict != "newcomer"
        ledger.release(adm.evict)
        ledger.add(f"more{i}", f"10.0.1.{i}", t)
    assert "newcomer" in ledger


def test_one_address_cannot_hold_more_than_its_share() -> None:
    ledger = StrangerLedger(PolicyConfig(strangers_per_ip=2))
    ledger.add("x1", "a", 0.0)
    ledger.add("x2", "a", 1.0)
    ledger.touch("x2", 2.0, requested=True)
    adm = ledger.admit("x3", "a", 3.0)
    assert adm.evict == "x2"  # one that delivered its request goes first


# -- requests, violations, logs ----------------------------------------------------------------


def test_request_quota_counts_new_keys_per_address_and_refills() -> None:
    quota = RequestQuota(PolicyConfig(new_requesters_per_ip_per_s=0.5, new_requesters_burst=3))
    assert [quota.allow("a", k, 0.0) for k in range(5)] == [True, True, True, False, False]
    assert not quota.allow("a", 0, 1.0)  # a repeat, too soon
    assert quota.allow("a", 0, 2.0)  # a key already seen may repeat its request
    assert quota.allow("b", 9, 0.0)  # another address has its own quota
    assert quota.allow("a", 7, 2.0) and not quota.allow("a", 8, 2.0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 10_000.0), max_size=30))
def test_violations_back_off_only_after_the_threshold_and_double(times: list[float]) -> None:
    cfg = PolicyConfig()
    scores = ViolationScores(cfg)
    last = 0.0
    backoffs: list[float] = []
    for t in sorted(times):
        before = scores.score("p", t)
        verdict = scores.violation("p", 1.0, t)
        assert verdict.disconnect == (before + 1.0 >= cfg.violation_threshold)
        if verdict.disconnect:
            backoffs.append(verdict.until - t)
            assert scores.banned("p", t) and not scores.banned("p", verdict.until)
        last = t
    assert backoffs == sorted(backoffs)
    assert all(b <= cfg.backoff_max_s for b in backoffs)
    assert scores.score("p", last + 100 * cfg.violation_half_life_s) < 1e-6


def test_three_quick_violations_back_off_spaced_ones_do_not() -> None:
    scores = ViolationScores(PolicyConfig())
    assert not scores.violation("p", 1, 0.0).disconnect
    assert not scores.violation("p", 1, 1.0).disconnect
    verdict = scores.violation("p", 1, 2.0)
    assert verdict.disconnect and verdict.until == 32.0
    calm = ViolationScores(PolicyConfig())
    assert not any(calm.violation("q", 1, t * 1000.0).disconnect for t in range(20))


def test_refusal_tally_logs_a_few_lines_then_one_summary() -> None:
    tally = RefusalTally(PolicyConfig(log_interval_s=10, log_lines_per_interval=3))
    logged = [tally.record("bad_preamble", t * 0.01) for t in range(100)]
    assert logged.count(True) == 3
    assert tally.due(5.0) is None
    assert tally.due(10.0) == {"bad_preamble": 100, "suppressed": 97}
    assert tally.record("timeout", 11.0)  # a new interval: lines again
    assert tally.due(30.0) is None  # nothing suppressed: no summary needed
