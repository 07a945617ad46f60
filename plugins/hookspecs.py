"""Every hook a Peoplenet app can implement: the one hookspec module (pluggy project ``peoplenet``).

An app implements the hooks it needs with ``@hookimpl`` (from :mod:`plugins`); the node calls
each app's own implementation only (never another app's), so no hook takes an app name.  The
``state`` argument is whatever the app's :func:`peoplenet_new_state` returned for that
community; the app owns it.

Two worlds, kept apart:

* the **fold** (:func:`peoplenet_check_tx`, :func:`peoplenet_apply_tx`,
  :func:`peoplenet_decision`, :func:`peoplenet_app_changed`, :func:`peoplenet_lace_block`) must
  be deterministic: every member's node runs it over the same ordered transactions (or the same
  set of lace blocks) and must reach the same state.  No clocks, no randomness, no I/O: the time
  is ``ctx.now_ms``, community time.  :func:`peoplenet_funds` is fold too: it serves another
  app's ``FoldContext.funds`` inside that app's transaction.
* the **node** (:func:`peoplenet_duties`, :func:`peoplenet_command`) acts for this member: it
  may submit transactions and publish signed blocks through
  :class:`~peoplenet.plugins.api.NodeContext`.

A hook that raises (other than :class:`~peoplenet.plugins.api.AppTxRejected` from the fold) or takes
longer than the node's hook deadline counts as a failure of the plugin; after a few the node
stops running that app in that community (``peoplenet apps list`` shows why) and goes on.
"""

from __future__ import annotations

from collections.abc import Mapping

import pluggy

from peoplenet.plugins.api import (
    PROJECT,
    AppChangeView,
    AppSpec,
    CustomerSide,
    DecisionView,
    FoldContext,
    LaceBlockView,
    NodeContext,
)
from peoplenet.plugins.demo import DemoEnabling
from peoplenet.runtime.wire.codec import Value

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec(firstresult=True)
def peoplenet_app() -> AppSpec:  # type: ignore[empty-body]
    """Declare the app: name, version, parameters, transaction records, commands, purposes."""


@hookspec(firstresult=True)
def peoplenet_new_state(community: bytes, settings: Mapping[str, Value]) -> object:
    """A fresh state for ``community`` when the app is first enabled there."""


@hookspec(firstresult=True)
def peoplenet_check_tx(state: object, tx: Value, ctx: FoldContext) -> None:
    """Raise :class:`~peoplenet.plugins.api.AppTxRejected` if ``tx`` may not apply; change
    nothing."""


@hookspec(firstresult=True)
def peoplenet_apply_tx(state: object, tx: Value, ctx: FoldContext) -> Value:
    """Apply a checked transaction (``ctx.sender`` submitted it); return a short result."""


@hookspec
def peoplenet_decision(state: object, decision: DecisionView, ctx: FoldContext) -> None:
    """A cooperative decision closed (rates, budgets, officers... may matter to the app)."""


@hookspec
def peoplenet_clock(state: object, ctx: FoldContext) -> None:
    """Community time moved forward to ``ctx.now_ms`` (periodic rules: minting per period)."""


@hookspec
def peoplenet_app_changed(state: object, change: AppChangeView, ctx: FoldContext) -> None:
    """The app was enabled, had its settings changed, or was disabled by a decision."""


@hookspec
def peoplenet_lace_block(state: object, block: LaceBlockView, ctx: FoldContext) -> None:
    """A new verified block of the app's own lace (only for ``AppSpec.uses_lace`` apps)."""


@hookspec
def peoplenet_lace_equivocation(
    state: object, creator: bytes, first: bytes, second: bytes, ctx: FoldContext
) -> None:
    """``creator`` signed two conflicting blocks ``first`` and ``second`` in the app's lace."""


@hookspec(firstresult=True)
def peoplenet_funds(state: object, op: str, args: Mapping[str, object], ctx: FoldContext) -> Value:
    """Serve another app's ``FoldContext.funds`` (apps whose ``AppSpec.provides`` has
    ``"funds"``), on this app's state, within the calling app's transaction.

    ``op`` is ``"balance"`` (``args``: ``account``, ``currency``; answer the amount held),
    ``"check"`` (``moves``: a tuple of :class:`~peoplenet.plugins.api.Move`; answer ``""`` if
    every move would be taken in that order, else the first refusal's reason; change nothing)
    or ``"move"`` (the same ``moves``: take them all, or raise
    :class:`~peoplenet.plugins.api.AppTxRejected` and change nothing).  A batch that passed
    ``"check"`` must be taken by ``"move"`` on the same state.  The platform has already
    checked who may move what (docs/plugins.md); the provider checks the money.
    """


@hookspec(firstresult=True)
def peoplenet_snapshot(state: object) -> Value:
    """The state in codec form: equal on two nodes iff their states are equal."""


@hookspec
def peoplenet_duties(state: object, node: NodeContext) -> None:
    """Do what this member's node owes now (approve, accept, repay...); called after changes."""


@hookspec(firstresult=True)
def peoplenet_command(
    state: object, command: str, args: Mapping[str, Value], node: NodeContext
) -> Value:
    """Run a member's command declared in ``AppSpec.commands``; return a JSON-able result."""


@hookspec(firstresult=True)
def peoplenet_customer_command(
    command: str, args: Mapping[str, Value], customer: CustomerSide
) -> Value:
    """Run one of the app's commands for a customer (not a member) on their own data
    directory: no node, no fold, only signed requests and receipts (``customer``).  Raise
    :class:`~peoplenet.plugins.api.AppCommandError` for a command customers cannot run."""


@hookspec(firstresult=True)
def peoplenet_demo_enable(demo: object) -> DemoEnabling:  # type: ignore[empty-body]
    """How ``make demo``'s cooperative enables the app: settings and an action for its ``app``
    proposal (``demo`` is a :class:`peoplenet.plugins.demo.DemoDriver`; the app is not enabled
    yet, so use only its ``members`` and ``member_id``).  Apps without it are not enabled."""


@hookspec
def peoplenet_demo(demo: object) -> None:
    """The app's part of ``make demo``: drive the live nodes through ``demo`` (a
    :class:`peoplenet.plugins.demo.DemoDriver`)."""


__all__ = [
    "PROJECT",
    "hookspec",
    "peoplenet_app",
    "peoplenet_app_changed",
    "peoplenet_apply_tx",
    "peoplenet_check_tx",
    "peoplenet_clock",
    "peoplenet_command",
    "peoplenet_customer_command",
    "peoplenet_decision",
    "peoplenet_demo",
    "peoplenet_demo_enable",
    "peoplenet_duties",
    "peoplenet_funds",
    "peoplenet_lace_block",
    "peoplenet_lace_equivocation",
    "peoplenet_new_state",
    "peoplenet_snapshot",
]
