"""The apps' part of ``make demo``: the cooperative enables its apps by vote, then each app runs
its own part on the live nodes.

A :class:`~peoplenet.actors.member.demo.DemoPart` that runs after the cooperative's
(:mod:`peoplenet.actors.coop.demo`), on its cooperative.  What is particular to an app -- its
settings, an action carried by the enabling decision, its steps -- comes from the app's own
hooks (``peoplenet_demo_enable``, ``peoplenet_demo``); this module names no app.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from peoplenet.actors.coop.demo import (
    COOP,
    STEP_S,
    closed,
    decision,
    print_decision,
    propose,
    until,
)
from peoplenet.plugins.demo import DemoEnabling
from peoplenet.plugins.manager import AppRegistry, load_apps
from peoplenet.runtime.errors import DemoFailed, PeoplenetError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import LocalNode, wait_for
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
    """Enable every bundled app that says how (one voting period for all), then run every
    enabled app's demo."""
    registry = load_apps(use_entry_points=False)
    step = first_step
    enablings: list[tuple[str, DemoEnabling]] = []
    for app in registry.names():
        if not registry.implements(app, "peoplenet_demo_enable"):
            continue
        driver = NodeDemoDriver(app, nodes, identities, out, step)
        enabling = registry.hook(app, "peoplenet_demo_enable")(demo=driver)
        if not isinstance(enabling, DemoEnabling):
            raise DemoFailed(f"the {app} app's peoplenet_demo_enable gave {enabling!r}")
        enablings.append((app, enabling))
    step = enable(nodes, out, step, enablings)
    return run_app_demos(nodes, identities, out, step, registry)


def enable(
    nodes: Mapping[str, LocalNode],
    out: TextIO,
    first_step: int,
    enablings: Sequence[tuple[str, DemoEnabling]],
) -> int:
    """One ``app`` decision per app, each proposed by :data:`PROPOSER` and adopted by
    everyone's vote; the decisions run side by side, so all close in one voting period.
    Returns the number of the next step."""
    everyone = "all five" if len(nodes) == 5 else f"all {len(nodes)}"
    numbers: dict[str, int] = {}
    step = first_step
    for app, enabling in enablings:
        note = f", {enabling.note}" if enabling.note else ""
        print(
            f"{step}. {PROPOSER} proposes to enable the {app} app{note}; {everyone} vote yes",
            file=out,
        )
        step += 1
        proposal = {"kind": "app", "subject": app, "settings": json.dumps(dict(enabling.settings))}
        if enabling.action is not None:
            proposal["action"] = json.dumps(dict(enabling.action))
        numbers[app] = propose(nodes[PROPOSER], proposal)
    _vote_yes(nodes, tuple(numbers.values()))
    if not numbers:
        return step
    shown = " and ".join(f"#{n}" for n in numbers.values())
    until(
        out,
        f"decision{'s' if len(numbers) > 1 else ''} {shown} closed and the"
        f" app{'s' if len(numbers) > 1 else ''} enabled on every phone",
        lambda: all(
            closed(n, number) and _app_enabled(n, app)
            for app, number in numbers.items()
            for n in nodes.values()
        ),
    )
    last = list(nodes)[-1]
    for number in numbers.values():
        print_decision(out, decision(nodes[last], number))
    return step


def _vote_yes(nodes: Mapping[str, LocalNode], numbers: Sequence[int]) -> None:
    """Everyone votes yes on every decision: all ballots cast first, then each awaited in the
    order (one after another, each would wait for its own ordering)."""
    cast: list[tuple[LocalNode, str]] = []
    for number in numbers:
        for node in nodes.values():
            sent = node.call("coop_vote", {"community": COOP, "decision": number, "ballot": "true"})
            cast.append((node, str(sent["key"])))
    for node, key in cast:
        result: dict[str, Value] = {}

        def ordered(node: LocalNode = node, key: str = key) -> bool:
            nonlocal result
            result = node.call("coop_tx", {"community": COOP, "key": key})
            return result.get("status") != "pending"

        if not wait_for(ordered, STEP_S, interval=0.05):
            raise DemoFailed(f"{node.name}'s vote was not ordered in {STEP_S:.0f} s")
        if result.get("status") != "applied":
            raise DemoFailed(f"{node.name}'s vote was refused: {result}")


def run_app_demos(
    nodes: Mapping[str, LocalNode],
    identities: Mapping[str, Identity],
    out: TextIO,
    first_step: int,
    registry: AppRegistry,
) -> int:
    """Every installed app the cooperative enabled runs its ``peoplenet_demo`` part."""
    step = first_step
    for app in registry.names():
        if not registry.implements(app, "peoplenet_demo") or not _app_enabled(
            next(iter(nodes.values())), app
        ):
            continue
        driver = NodeDemoDriver(app, nodes, identities, out, step)
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
    ) -> None:
        self._app = app
        self._nodes = nodes
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
