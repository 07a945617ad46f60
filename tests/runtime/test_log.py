"""Logs are JSON off a terminal, and never carry frame locals (which may hold secrets)."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog

from peoplenet.runtime import log


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_lines_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    log.configure(stream=out)
    log.get_logger("unit").warning("peer_dropped", peer="n1", reason="oversize")
    record = json.loads(out.getvalue().splitlines()[-1])
    assert record["event"] == "peer_dropped"
    assert record["component"] == "unit"
    assert record["level"] == "warning"
    assert record["reason"] == "oversize"
    assert "timestamp" in record


def test_readable_lines_on_a_terminal() -> None:
    out = FakeTerminal()
    log.configure(stream=out)
    log.get_logger("unit").info("started", port=4000)
    line = out.getvalue().splitlines()[-1]
    assert "started" in line and "port=4000" in line
    assert not line.startswith("{")


def test_tracebacks_never_include_local_variables() -> None:
    for out in (io.StringIO(), FakeTerminal()):
        log.configure(stream=out)
        secret_seed = "SEED-0123456789abcdef"  # noqa: F841 - the local that must not leak
        try:
            raise ValueError("boom")
        except ValueError:
            log.get_logger("unit").exception("failed")
        text = out.getvalue()
        assert "boom" in text
        assert "SEED-0123456789abcdef" not in text


def teardown_module() -> None:
    structlog.reset_defaults()


def test_logging_follows_stderr_when_it_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stderr closed after configure (a finished test's capture) must not break later logs."""
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    log.configure(json=True)
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    log.get_logger("t").info("after_the_swap")
    assert json.loads(second.getvalue())["event"] == "after_the_swap"
