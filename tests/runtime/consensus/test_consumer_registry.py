"""Which consumer a community gets is registered from above, by the prefix of its name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from peoplenet.runtime.consensus import consumer as registry
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.consumer import (
    Consumer,
    ConsumerError,
    Signer,
    consumer_factory,
    register_consumer,
)
from peoplenet.runtime.keys.identity import Identity


def _genesis(name: bytes) -> Genesis:
    member = bytes(Identity.from_seed(bytes(32)).member_id)
    return Genesis(name, 0, Constitution((member,), 2, 3, 1000), b"", b"", 0)


def _one(genesis: Genesis, folder: Path, signer: Signer) -> Consumer:
    raise AssertionError("never built here")


def _other(genesis: Genesis, folder: Path, signer: Signer) -> Consumer:
    raise AssertionError("never built here")


@pytest.fixture
def empty() -> Iterator[None]:
    """A registry of this test's own (the composer's registration is restored after)."""
    saved = dict(registry._FACTORIES)
    registry._FACTORIES.clear()
    try:
        yield
    finally:
        registry._FACTORIES.clear()
        registry._FACTORIES.update(saved)


@pytest.mark.usefixtures("empty")
def test_a_community_gets_the_factory_of_its_prefix_or_none() -> None:
    register_consumer(b"x/", _one)
    assert consumer_factory(_genesis(b"x/riders")) is _one
    assert consumer_factory(_genesis(b"plain")) is None
    register_consumer(b"x/", _one)  # the same again: harmless (a command may compose twice)
    assert registry.registered_prefixes() == (b"x/",)


@pytest.mark.usefixtures("empty")
@pytest.mark.parametrize("prefix", [b"x/", b"x", b"x/a", b""])
def test_a_second_factory_for_an_overlapping_prefix_is_refused(prefix: bytes) -> None:
    register_consumer(b"x/", _one)
    with pytest.raises(ConsumerError):
        register_consumer(prefix, _other)
    assert consumer_factory(_genesis(b"x/a-coop")) is _one
