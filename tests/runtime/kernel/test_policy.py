"""Restart bookkeeping without processes: backoff doubles and caps, the window escalates."""

from __future__ import annotations

import pytest

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.kernel import RestartPolicy, RestartWindow


def test_backoff_doubles_then_caps_and_escalates_past_the_limit() -> None:
    window = RestartWindow(RestartPolicy(3, 10.0, 0.1, 0.3))
    decisions = [window.on_failure(now) for now in (0.0, 1.0, 2.0, 3.0)]
    assert [d.delay_s for d in decisions[:3]] == [0.1, 0.2, 0.3]
    assert [d.escalate for d in decisions] == [False, False, False, True]
    assert decisions[3].failures_in_window == 4


def test_old_failures_leave_the_window() -> None:
    window = RestartWindow(RestartPolicy(1, 5.0, 0.5, 4.0))
    assert not window.on_failure(0.0).escalate
    assert window.on_failure(4.0).escalate  # two within 5 s
    fresh = window.on_failure(20.0)  # both earlier ones expired
    assert not fresh.escalate and fresh.delay_s == 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_restarts": -1},
        {"window_s": 0},
        {"backoff_initial_s": 2, "backoff_max_s": 1},
        {"heartbeat_s": 0},
        {"heartbeat_timeout_s": 0},
    ],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(LocalError):
        RestartPolicy(**kwargs)  # type: ignore[arg-type]
