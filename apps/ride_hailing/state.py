"""The ride app's state on one node: the fold's book and rules, and what this phone keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from peoplenet.apps.ride_hailing.fare import FARE_PARAMS
from peoplenet.apps.ride_hailing.places import Places
from peoplenet.apps.ride_hailing.policy import Policy
from peoplenet.apps.ride_hailing.trips import RideBook
from peoplenet.plugins.api import PluginError, Value
from peoplenet.plugins.kit import RulesBook

FARE_KEYS: Final = tuple(p.name for p in FARE_PARAMS)
"""The settings that are price rules: changing one adopts a new rules version."""


@dataclass(slots=True)
class RideState:
    """One cooperative's rides on one node: the fold, and what this phone alone keeps."""

    community: bytes
    book: RideBook = field(default_factory=RideBook)
    rules: RulesBook = field(default_factory=lambda: RulesBook(FARE_KEYS))
    places: dict[bytes, Places] = field(default_factory=dict)
    """The exact places and start codes of the rides this member requested, as opened (this
    phone only, never folded; after a restart reopened from the request's sealed field)."""
    nudged: set[tuple[bytes, int]] = field(default_factory=set)
    """What this node already submitted on its own: (ride, offer number) of an
    :class:`Expire`, (escrow job, -1) of a :class:`Hold`, (job, -2) of :class:`Details`,
    (ride, -3) of a :class:`Release`, (ride, -10 - draws) of :class:`JuryDetails`; those of
    closed rides are forgotten once there are many."""
    settings_read: dict[str, Value] | None = None
    """The settings :attr:`policy_read` was read from (a copy)."""
    policy_read: Policy | None = None

    def policy(self, settings: Mapping[str, Value]) -> Policy:
        """The voted policy of ``settings``, read again only when they differ from the last
        ones: every hook and command asks for it, and settings change only by vote."""
        if self.policy_read is None or settings != self.settings_read:
            self.policy_read = Policy.from_settings(settings)
            self.settings_read = dict(settings)
        return self.policy_read


def ride_state(state: object) -> RideState:
    if not isinstance(state, RideState):
        raise PluginError(f"the ride app's state is a RideState, not {type(state).__name__}")
    return state


__all__ = ["FARE_KEYS", "RideState", "ride_state"]
