"""What an app's part of ``make demo`` gets: a driver over the demo's live member phones.

``make demo`` starts real nodes and founds a cooperative; its members then enable each bundled
app that implements ``peoplenet_demo_enable(demo)`` by a vote, with the settings (and the
action) the hook returns as a :class:`DemoEnabling`; then it calls each enabled app's
``peoplenet_demo(demo)`` hook with a :class:`DemoDriver`.
Through it the app runs its commands on a named member's phone -- the same control-socket
operation ``peoplenet app COOP NAME COMMAND`` uses -- and waits for their real effect on other
phones.  The driver is a protocol so an app never imports the node runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from peoplenet.runtime.errors import DemoFailed
from peoplenet.runtime.wire.codec import Value

DemoStepFailed = DemoFailed
"""A demo step was refused or did not happen within its deadline: the one demo error,
:class:`peoplenet.runtime.errors.DemoFailed`, under the name apps know."""


class DemoDriver(Protocol):
    """The live demo as an app sees it (one driver per app)."""

    @property
    def app(self) -> str:
        """The app this driver runs commands of."""
        ...

    @property
    def members(self) -> tuple[str, ...]:
        """The demo's people, by first name (each on their own phone)."""
        ...

    def member_id(self, name: str) -> str:
        """A person's member id, hex (what commands take as ``to``, ``with``...)."""
        ...

    def command(self, name: str, command: str, **args: Value) -> Value:
        """Run one of the app's commands on ``name``'s phone; its result.

        Raises :class:`DemoStepFailed` when the app refuses it (the demo stops there).
        """
        ...

    def customer(self, name: str) -> str:
        """A person who is not a member, by first name: their own key and data directory, the
        cooperative's profile imported from a member's phone (made on first use); their id, hex.
        """
        ...

    def customer_command(self, name: str, command: str, **args: Value) -> Value:
        """Run one of the app's commands as customer ``name``, as ``peoplenet GROUP COMMAND
        --data THEIR_DIR COOP`` does (the app's ``peoplenet_customer_command``: requests signed
        with their key and carried by members' nodes, outcomes from members' receipts).

        Raises :class:`DemoStepFailed` when refused.
        """
        ...

    def until(self, what: str, check: Callable[[], bool]) -> None:
        """Wait until ``check()`` holds and print ``what``; :class:`DemoStepFailed` if never."""
        ...

    def step(self, title: str) -> None:
        """Print the next numbered step of the demo."""
        ...

    def say(self, text: str) -> None:
        """Print a detail line under the current step."""
        ...


@dataclass(frozen=True, slots=True)
class DemoEnabling:
    """How the demo's cooperative enables an app: the ``app`` proposal its members adopt."""

    settings: Mapping[str, Value] = field(default_factory=dict)
    """The app's settings (its declared parameters)."""
    action: Mapping[str, Value] | None = None
    """A one-time action the enabling decision carries (e.g. a mint), or None."""
    note: str = ""
    """What the step says the decision does besides enabling (e.g. "minting 100 coins to erin")."""
    officers: Mapping[str, str] = field(default_factory=dict)
    """Offices the app's part needs held (role -> the demo person elected to it, by first
    name): each is an ``officer`` decision after the enabling one, everyone ranking that
    person first.  The role must be one of the demo charter's officers."""


__all__ = ["DemoDriver", "DemoEnabling", "DemoStepFailed"]
