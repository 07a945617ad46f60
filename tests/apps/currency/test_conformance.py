"""The bundled currency passes the conformance kit, like any third-party app must; and the
kit's lace checks (scripted lace blocks, their outcomes, delivery order) catch what they
should, shown on the currency with one thing wrong."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from peoplenet.apps.currency import plugin
from peoplenet.apps.currency.conformance import M0, M1, conformance_case
from peoplenet.apps.currency.plugin import CurrencyState
from peoplenet.apps.currency.records import Issue
from peoplenet.plugins import hookimpl
from peoplenet.plugins.testing import (
    AppHarness,
    ConformanceCase,
    ConformanceError,
    LaceBlock,
    check_app,
    member_id,
)
from peoplenet.runtime.wire.codec import Value


def test_the_currency_passes_the_conformance_kit() -> None:
    started = time.perf_counter()
    check_app(conformance_case())
    assert time.perf_counter() - started < 5.0


def test_the_script_exercises_the_nodes_duties_and_every_outcome() -> None:
    case = conformance_case()
    assert {b.expect for b in case.lace_blocks} >= {None, "not_sovereign", "over_repay"}
    with AppHarness(plugin) as h:
        h.enable(case.settings, case.action)
        blocks = [h.sign(3, Issue(M0, member_id(3), 5, 0, ""))]  # holds none: refused
        h.deliver(blocks)
        state = h.state
        assert isinstance(state, CurrencyState)
        assert case.lace_outcome is not None
        assert case.lace_outcome(state, bytes(blocks[0].id)) == "overspend"
        assert h.latest(3) == bytes(blocks[0].id)
        assert h.problems() == []


def failures_of(case: ConformanceCase) -> tuple[str, ...]:
    with pytest.raises(ConformanceError) as caught:
        check_app(case)
    return caught.value.failures


def test_a_wrong_expected_outcome_is_found() -> None:
    case = conformance_case()
    blocks = list(case.lace_blocks)
    blocks[-1] = replace(blocks[-1], expect="already_accepted")
    failures = failures_of(replace(case, lace_blocks=blocks))
    assert failures == (
        "lace block #24 Accept: expected refused (already_accepted), refused (not_payee)",
    )


def test_an_unknown_label_is_found() -> None:
    case = conformance_case()
    extra = LaceBlock(1, Issue(M1, M1, 1, 1, ""), refs=("nowhere",))
    failures = failures_of(replace(case, lace_blocks=[*case.lace_blocks, extra]))
    assert failures == ("lace block #25: refers to 'nowhere' (no earlier block has that label)",)


def order_dependent() -> type:
    """The currency, but its snapshot shows the order in which this node folded blocks."""

    @hookimpl
    def peoplenet_snapshot(state: CurrencyState) -> Value:
        history = tuple(e.block for e in state.coins.history(M1))
        return {"coins": state.coins.digest(), "order": history}

    hooks = {n: getattr(plugin, n) for n in dir(plugin) if n.startswith("peoplenet_")}
    # a class as the plugin object: its functions stay plain functions (hookimpls)
    return type("OrderDependent", (), {**hooks, "peoplenet_snapshot": peoplenet_snapshot})


def test_a_lace_fold_that_depends_on_delivery_order_is_found() -> None:
    failures = failures_of(replace(conformance_case(), plugin=order_dependent()))
    assert len(failures) == 1
    assert failures[0].startswith("the lace fold depends on delivery order: the script's order")
