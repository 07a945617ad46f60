"""The price rule sets a cooperative adopted, by version.

A rule set is no app setting (a setting is short text; a set with zones is longer): the
cooperative adopts one with an ``app`` decision whose action is ``{"pricing": RULE_SET}``
(the JSON of :mod:`.pricing`).  Version 1 is :data:`~.pricing.DEFAULT_RULES`, in force from
the day the app is enabled; each adopted set is the next version, with the community time it
came into force.  An order records the version it was priced with (I-A5: the price is a pure
function of the version and the order), so a member can always recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peoplenet.apps.delivery.pricing import DEFAULT_RULES, RuleSet
from peoplenet.plugins.api import AppTxRejected, Value


@dataclass(slots=True)
class RuleVersions:
    """Every rule set adopted, oldest first: version ``n`` is ``sets[n - 1]``."""

    sets: list[tuple[RuleSet, int]] = field(default_factory=lambda: [(DEFAULT_RULES, 0)])

    @property
    def current(self) -> int:
        return len(self.sets)

    def get(self, version: int) -> RuleSet:
        if not 1 <= version <= len(self.sets):
            raise AppTxRejected("unknown_rules", f"no rules version {version}")
        return self.sets[version - 1][0]

    def adopt(self, value: Value, now_ms: int) -> int:
        """A decision's rule set: parsed (``bad_rules`` refuses the action), the new version."""
        rules = RuleSet.parse(value)
        self.sets.append((rules, now_ms))
        return len(self.sets)

    def shown(self, version: int) -> dict[str, Value]:
        rules, since = self.sets[version - 1]
        return {
            "version": version,
            "since_ms": since,
            "digest": rules.digest().hex(),
            "rules": rules.to_value(),
        }

    def to_value(self) -> Value:
        return tuple((rules.digest(), since) for rules, since in self.sets)


__all__ = ["RuleVersions"]
