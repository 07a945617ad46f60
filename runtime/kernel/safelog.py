"""A logger wrapper whose calls never raise.

Why: a forked actor inherits the parent's structlog stream, which may be closed or broken
(a finished pytest capture, a dead pipe); a failing log call must not take down supervision.
"""

from __future__ import annotations

from typing import Any


class SafeLogger:
    """Forwards to a structlog logger and swallows any error the call raises."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def bind(self, **context: Any) -> SafeLogger:
        """A SafeLogger over ``inner.bind(**context)``."""
        return SafeLogger(self._inner.bind(**context))

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception:
                return None

        return call
