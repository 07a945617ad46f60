"""Delivery as a Peoplenet app: a courier cooperative's platform, run on its members' phones.

The fold (:mod:`.fold` over :mod:`.orders`, :mod:`.payment`, :mod:`.pricing`) runs on every
member's phone over the cooperative's ordered transactions; the commands (:mod:`.commands`)
act for one member -- a courier, a store, a customer, the dispatcher -- and submit what they
decide.  The only duty is the dispatcher's (or, without one, the store's): reseal a stop's
exact address to the courier who now holds it.

Commands (also ``peoplenet delivery COMMAND COOP --ARG VALUE ...``) are listed in
:data:`SPEC`; ``docs/delivery.md`` walks through them by role.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from peoplenet.apps.delivery import commands, customer_client
from peoplenet.apps.delivery.demo import (  # the app's part of make demo
    peoplenet_demo,
    peoplenet_demo_enable,
)
from peoplenet.apps.delivery.fold import APP, TX_TYPES, DeliveryTx
from peoplenet.apps.delivery.places import (
    address_context,
    opened,
    seal_address,
    stop_context,
)
from peoplenet.apps.delivery.policy import POLICY_PARAMS, Policy
from peoplenet.apps.delivery.records import Address
from peoplenet.apps.delivery.state import DeliveryState, delivery_state
from peoplenet.plugins.api import (
    AppChangeView,
    AppSpec,
    AppTxRejected,
    CustomerSide,
    DecisionView,
    FoldContext,
    NodeContext,
    PluginError,
    Value,
    hookimpl,
)

NAME: Final = APP
VERSION: Final = "0.1"
SPEC: Final = AppSpec(
    name=NAME,
    version=VERSION,
    summary="delivery: stores, couriers and customers; prices, dispatch and pay set by vote",
    cli_group="delivery",
    params=POLICY_PARAMS,
    tx_types=TX_TYPES,
    commands=commands.COMMANDS,
)
_TX_TYPES: Final = tuple(TX_TYPES)


def _tx(tx: Value) -> DeliveryTx:
    if not isinstance(tx, _TX_TYPES):
        raise PluginError(f"not a delivery transaction: {type(tx).__name__}")
    return tx  # type: ignore[return-value]


# -- declaration and state -------------------------------------------------------------------


@hookimpl
def peoplenet_app() -> AppSpec:
    return SPEC


@hookimpl
def peoplenet_new_state(community: bytes, settings: Mapping[str, Value]) -> object:
    return DeliveryState(community)


@hookimpl
def peoplenet_snapshot(state: object) -> Value:
    return delivery_state(state).fold.to_value()


# -- the fold ----------------------------------------------------------------------------------


@hookimpl
def peoplenet_app_changed(state: object, change: AppChangeView, ctx: FoldContext) -> None:
    """Enabled or re-voted: the settings are read again; an action ``{"pricing": SET}`` adopts
    a new price rule set (``bad_rules`` refuses the decision's action, nothing changes)."""
    s = delivery_state(state)
    if not change.enabled:
        return
    policy = Policy.from_settings(change.settings)
    s.fold.ratings.set_parameters(policy.rating_window_ms, policy.rating_min_count)
    action = change.action
    if action is None:
        return
    if not isinstance(action, dict) or set(action) != {"pricing"}:
        raise AppTxRejected("bad_action", 'the delivery app takes {"pricing": RULE_SET}')
    s.fold.rules.adopt(action["pricing"], ctx.now_ms)


@hookimpl
def peoplenet_decision(state: object, decision: DecisionView, ctx: FoldContext) -> None:
    """Nothing to do: the dispatcher is read from ``ctx.officers`` in every transaction."""
    delivery_state(state)


@hookimpl
def peoplenet_check_tx(state: object, tx: Value, ctx: FoldContext) -> None:
    """What can be judged without the order: the type, and that a member sent it (a
    customer's step is judged whole by the apply, which refuses it changing nothing)."""
    _tx(tx)
    if not isinstance(tx, commands.CustomerOrder) and ctx.sender not in ctx.members:
        raise AppTxRejected("not_a_member", "only members send delivery transactions")


@hookimpl
def peoplenet_apply_tx(state: object, tx: Value, ctx: FoldContext) -> Value:
    s = delivery_state(state)
    return s.fold.apply(_tx(tx), ctx.sender, ctx, s.policy(ctx.settings))


# -- the node ----------------------------------------------------------------------------------


@hookimpl
def peoplenet_duties(state: object, node: NodeContext) -> None:
    """As the resealer -- the first member among the dispatcher, the store and the customer
    the stop's address was sealed to -- reseal each newly assigned task's address to its
    courier, once per (task, courier) while that assignment waits for its address."""
    s = delivery_state(state)
    fold = s.fold
    if s.nudged:  # a reseal ordered, or its task gone to another courier: forgotten, so a
        # task that comes back to a courier later is resealed to them again
        s.nudged = {
            (t, c) for t, c in s.nudged if t in fold.to_reseal and fold.book.task(t).courier == c
        }
    if not fold.to_reseal:
        return
    me, ctx = node.me, node.fold
    dispatcher = ctx.officers.get("dispatcher")
    for task_id in sorted(fold.to_reseal):
        task = fold.book.task(task_id)
        order = fold.book.order(task.order)
        sealed = fold.stops.get(task_id)
        if sealed is None or not task.courier or (task_id, task.courier) in s.nudged:
            continue
        readers = {k.recipient for k in sealed.keys}
        able = [m for m in (dispatcher, order.store, order.customer) if m in ctx.members]
        if next((m for m in able if m in readers), None) != me:
            continue  # the first member among the dispatcher, the store, the customer reseals
        address = opened(node, sealed, stop_context(ctx.community, task_id))
        if address is None:
            continue
        parties = (order.customer, order.store, task.courier)
        context = address_context(ctx.community, task_id, task.courier)
        s.nudged.add((task_id, task.courier))
        node.submit(Address(task_id, task.courier, seal_address(address, parties, context)))


@hookimpl
def peoplenet_customer_command(
    command: str, args: Mapping[str, Value], customer: CustomerSide
) -> Value:
    """A customer (or store) who is not a member, on their own data directory."""
    return customer_client.run(command, args, customer)


@hookimpl
def peoplenet_command(
    state: object, command: str, args: Mapping[str, Value], node: NodeContext
) -> Value:
    return commands.run(delivery_state(state), command, args, node)


__all__ = ["NAME", "SPEC", "peoplenet_demo", "peoplenet_demo_enable"]
