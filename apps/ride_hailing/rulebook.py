"""Every version of the voted fare rules, so a ride is priced by the rules it was quoted under.

The interface is the work kit's ``RulesBook`` (``adopt``, ``current``, ``get``, ``to_value``):
this small stand-in keeps the app whole until the kit's version is available, and is replaced
by an import then.
"""

from __future__ import annotations

from collections.abc import Mapping

from peoplenet.plugins.api import AppTxRejected, Value


class RulesBook:
    """Versions 1, 2, ... of a mapping of rules; adopting identical rules keeps the version."""

    def __init__(self) -> None:
        self._versions: list[tuple[int, dict[str, Value]]] = []

    def adopt(self, settings: Mapping[str, Value], now_ms: int) -> int:
        rules = dict(sorted(settings.items()))
        if self._versions and self._versions[-1][1] == rules:
            return self.current
        self._versions.append((now_ms, rules))
        return self.current

    @property
    def current(self) -> int:
        return len(self._versions)

    def get(self, version: int) -> Mapping[str, Value]:
        if not 1 <= version <= len(self._versions):
            raise AppTxRejected("unknown_rules_version", f"no rules version {version}")
        return self._versions[version - 1][1]

    def to_value(self) -> Value:
        return tuple({"since_ms": at, "rules": rules} for at, rules in self._versions)


__all__ = ["RulesBook"]
