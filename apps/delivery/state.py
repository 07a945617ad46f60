"""The delivery app's state on one node: the fold, and what this phone alone keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from peoplenet.apps.delivery.fold import DeliveryFold
from peoplenet.apps.delivery.policy import Policy
from peoplenet.plugins.api import PluginError, Value


@dataclass(slots=True)
class DeliveryState:
    """One cooperative's deliveries on one node."""

    community: bytes
    fold: DeliveryFold = field(default_factory=DeliveryFold)
    nudged: set[tuple[bytes, bytes]] = field(default_factory=set)
    """What this node submitted on its own and the order has not yet taken: (task, courier)
    of an address resealed (the duty forgets an entry once its task no longer waits for it)."""
    settings_read: dict[str, Value] | None = None
    policy_read: Policy | None = None

    def policy(self, settings: Mapping[str, Value]) -> Policy:
        """The voted policy of ``settings``, read again only when they change (by vote)."""
        if self.policy_read is None or settings != self.settings_read:
            self.policy_read = Policy.from_settings(settings)
            self.settings_read = dict(settings)
        return self.policy_read


def delivery_state(state: object) -> DeliveryState:
    if not isinstance(state, DeliveryState):
        raise PluginError(
            f"the delivery app's state is a DeliveryState, not {type(state).__name__}"
        )
    return state


__all__ = ["DeliveryState", "delivery_state"]
