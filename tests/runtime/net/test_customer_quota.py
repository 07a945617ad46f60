"""The customer protocol's quota: a token bucket per authenticated customer id."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from peoplenet.runtime.net.conn_policy import CustomerQuota, PolicyConfig

CONFIG = PolicyConfig(customer_msgs_per_s=0.5, customer_burst=4)


def test_a_customer_gets_its_burst_then_waits_for_the_refill() -> None:
    quota = CustomerQuota(CONFIG)
    assert [quota.allow("rider", 0.0) for _ in range(5)] == [True] * 4 + [False]
    assert not quota.allow("rider", 1.0)  # half a token back
    assert quota.allow("rider", 2.0)  # a whole one


def test_customers_do_not_share_buckets() -> None:
    quota = CustomerQuota(CONFIG)
    for _ in range(4):
        quota.allow("rider", 0.0)
    assert not quota.allow("rider", 0.0)
    assert quota.allow("diner", 0.0)


def test_the_table_of_buckets_stays_bounded() -> None:
    quota = CustomerQuota(CONFIG, max_customers=3)
    for n in range(10):
        quota.allow(n, float(n))
    assert len(quota) == 3


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60))
def test_no_customer_gets_more_than_burst_plus_refill(gaps: list[float]) -> None:
    quota = CustomerQuota(CONFIG)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        allowed += quota.allow("rider", now)
    assert allowed <= CONFIG.customer_burst + now * CONFIG.customer_msgs_per_s
