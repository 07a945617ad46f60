"""Typed errors for the member's own bad requests (a peer's bad block is an Outcome)."""

from __future__ import annotations

from peoplenet.plugins.api import LocalError


class CurrencyError(LocalError):
    """A wallet request that cannot become a valid block; ``reason`` is stable snake_case."""

    reason = "currency_refused"

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class InsufficientFunds(CurrencyError):
    """Paying, redeeming or repaying more than the member holds."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("insufficient_funds", detail)


class BadAmount(CurrencyError):
    """An amount or limit outside its range."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("bad_amount", detail)


class UnknownMember(CurrencyError):
    """A member id that is malformed or not in the cooperative."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("unknown_member", detail)
