"""The apps' part of ``make demo``: the cooperative enables its apps by vote, then each app runs
its own part on the live nodes.

A :class:`~peoplenet.actors.member.demo.DemoPart` that runs after the cooperative's
(:mod:`peoplenet.actors.coop.demo`), on its cooperative.  What is particular to an app -- its
settings, an action carried by the enabling decision, its steps -- comes from the app's own
hooks (``peoplenet_demo_enable``, ``peoplenet_demo``); this module names no app.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from peoplenet.actors.coop.demo import (
    COOP,
    closed,
    decision,
    print_decision,
    propose,
    submit,
    until,
)
from peoplenet.plugins.demo import DemoEnabling
from peoplenet.plugins.demo_customers import DemoCustomers
from peoplenet.plugins.manager import AppRegistry, load_apps
from peoplenet.runtime.errors import DemoFailed, PeoplenetError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import LocalNode
from peoplenet.runtime.wire.codec import Value

PROPOSER = "dave"
"""Who proposes to enable each app (everyone votes yes)."""


def run(
    nodes: Mapping[str, LocalNode],
    identities: Mapping[str, Identity],
    workdir: Path,
    out: TextIO,
    first_step: int,
) -> int:
    """Enable every bundled app that says how, then run every enabled app's demo."""
    registry = load_apps(use_entry_points=False)
    step = first_step
    for app in registry.names():
        if not registry.implements(app, "peoplenet_demo_enable"):
            continue
        driver = NodeDemoDriver(app, nodes, identities, out, step)
        enabling = registry.hook(app, "peoplenet_demo_enable")(demo=driver)
        if not isinstance(enabling, DemoEnabling):
            raise DemoFailed(f"the {app} app's peoplenet_demo_enable gave {enabling!r}")
        enable(nodes, out, step, app, enabling)
        step += 1
        for role, name in sorted(enabling.officers.items()):
            elect(nodes, identities, out, step, role, name)
            step += 1
    customers = DemoCustomers(workdir, COOP, nodes)
    return run_app_demos(nodes, identities, out, step, registry, customers=customers)


def enable(
    nodes: Mapping[str, LocalNode], out: TextIO, step: int, app: str, enabling: DemoEnabling
) -> None:
    """One ``app`` decision: proposed by :data:`PROPOSER`, adopted by everyone's vote."""
    note = f", {enabling.note}" if enabling.note else ""
    everyone = "all five" if len(nodes) == 5 else f"all {len(nodes)}"
    print(
        f"{step}. {PROPOSER} proposes to enable the {app} app{note}; {everyone} vote yes", file=out
    )
    proposal = {"kind": "app", "subject": app, "settings": json.dumps(dict(enabling.settings))}
    if enabling.action is not None:
        proposal["action"] = json.dumps(dict(enabling.action))
    number = propose(nodes[PROPOSER], proposal)
    for name in nodes:
        submit(nodes[name], "coop_vote", {"decision": number, "ballot": "true"})
    until(
        out,
        f"decision #{number} closed and the app enabled on every phone",
        lambda: all(closed(n, number) and _app_enabled(n, app) for n in nodes.values()),
    )
    last = list(nodes)[-1]
    print_decision(out, decision(nodes[last], number))


def elect(  # noqa: PLR0917 - the demo's nodes and people, then the office
    nodes: Mapping[str, LocalNode],
    identities: Mapping[str, Identity],
    out: TextIO,
    step: int,
    role: str,
    name: str,
) -> None:
    """One ``officer`` decision: :data:`PROPOSER` proposes ``name`` for ``role``; everyone
    ranks ``name`` above the status quo (the office vacant)."""
    if name not in identities:
        raise DemoFailed(f"no demo person {name!r} to elect {role}")
    holder = bytes(identities[name].member_id).hex()
    print(
        f"{step}. the cooperative elects {name} its {role}; everyone ranks {name} first", file=out
    )
    proposal: dict[str, Value] = {"kind": "officer", "subject": role, "candidates": (holder,)}
    number = propose(nodes[PROPOSER], dict(proposal))
    ballot = json.dumps([holder, "vacant"])
    for member in nodes:
        submit(nodes[member], "coop_vote", {"decision": number, "ballot": ballot})
    until(
        out,
        f"decision #{number} closed: {name} is the {role} on every phone",
        lambda: all(closed(n, number) for n in nodes.values()),
    )
    last = list(nodes)[-1]
    print_decision(out, decision(nodes[last], number))


def run_app_demos(
    nodes: Mapping[str, LocalNode],
    identities: Mapping[str, Identity],
    out: TextIO,
    first_step: int,
    registry: AppRegistry,
    *,
    customers: DemoCustomers | None = None,
) -> int:
    """Every installed app the cooperative enabled runs its ``peoplenet_demo`` part (with
    ``customers``, the people who are not members the apps' parts may use)."""
    step = first_step
    for app in registry.names():
        if not registry.implements(app, "peoplenet_demo") or not _app_enabled(
            next(iter(nodes.values())), app
        ):
            continue
        driver = NodeDemoDriver(
            app, nodes, identities, out, step, registry=registry, customers=customers
        )
        try:
            registry.hook(app, "peoplenet_demo")(demo=driver)
        except DemoFailed as exc:
            raise DemoFailed(f"the {app} app's demo: {exc}") from None
        step = driver.next_step
    return step


class NodeDemoDriver:
    """:class:`peoplenet.plugins.demo.DemoDriver` over the demo's live nodes (control sockets)."""

    def __init__(
        self,
        app: str,
        nodes: Mapping[str, LocalNode],
        identities: Mapping[str, Identity],
        out: TextIO,
        first_step: int,
        *,
        registry: AppRegistry | None = None,
        customers: DemoCustomers | None = None,
    ) -> None:
        self._app = app
        self._nodes = nodes
        self._registry = registry
        self._customers = customers
        self._ids = {n: bytes(identities[n].member_id).hex() for n in nodes}
        self._out = out
        self.next_step = first_step

    @property
    def app(self) -> str:
        return self._app

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    def member_id(self, name: str) -> str:
        return self._ids[name]

    def command(self, name: str, command: str, **args: Value) -> Value:
        try:
            answer = self._nodes[name].call(
                "coop_app",
                {"community": COOP, "app": self._app, "command": command, "args": args},
            )
        except PeoplenetError as exc:
            raise DemoFailed(f"{command} on {name}'s phone: {exc}") from None
        result: Value = answer.get("result") if isinstance(answer, dict) else answer
        return result

    def customer(self, name: str) -> str:
        if self._customers is None:
            raise DemoFailed("this demo has no customers")
        return self._customers.make(name)

    def customer_command(self, name: str, command: str, **args: Value) -> Value:
        if self._customers is None or self._registry is None:
            raise DemoFailed("this demo has no customers")
        return self._customers.command(self._registry, self._app, name, command, args)

    def until(self, what: str, check: Callable[[], bool]) -> None:
        until(self._out, what, check)

    def step(self, title: str) -> None:
        print(f"{self.next_step}. {title}", file=self._out, flush=True)
        self.next_step += 1

    def say(self, text: str) -> None:
        print(f"  {text}", file=self._out, flush=True)


def _app_enabled(node: LocalNode, app: str) -> bool:
    status = node.call("coop_app_status", {"community": COOP, "app": app})
    return isinstance(status, dict) and status.get("enabled") is True


__all__ = ["NodeDemoDriver", "enable", "run", "run_app_demos"]
