"""Shared fixtures: an actor system that is always shut down, on any kernel base."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.kernel import ActorSystemHandle, Base


@pytest.fixture
def actor_system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ActorSystemHandle]:
    """A private actor system (base via indirect parametrisation, default multiproc_queue)."""
    base: Base = getattr(request, "param", "multiproc_queue")
    handle = ActorSystemHandle.start(base, f"test-{base}", log_dir=tmp_path / "actor-logs")
    try:
        yield handle
    finally:
        handle.shutdown()
