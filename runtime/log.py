"""Structured logging: JSON lines when not on a terminal, readable lines when on one.

Why here: every process (node, CLI, bench) configures logging the same way, and tracebacks are
rendered without frame locals, which could hold secret keys or payloads.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import Processor


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at each write, not the object it was at configure time.

    Why: a stream that is later closed or replaced (a test's captured output, a daemonised
    process) would make every later log call raise ``ValueError`` in whatever task logged.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure(
    *, level: int = logging.INFO, stream: TextIO | None = None, json: bool | None = None
) -> None:
    """Configure structlog (and stdlib logging, for libraries) for this process.

    ``json=None`` picks JSON unless ``stream`` is a terminal.
    """
    out: Any = stream if stream is not None else _CurrentStderr()
    as_json = not out.isatty() if json is None else json
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if as_json:
        shared.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
        renderer = structlog.processors.JSONRenderer()
    else:
        # plain_traceback prints no frame locals (the rich formatter would).
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=out, force=True)


def get_logger(name: str, **context: Any) -> Any:
    """A bound structlog logger tagged with the component name."""
    return structlog.get_logger(name).bind(component=name, **context)
