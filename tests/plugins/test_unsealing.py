"""``NodeContext.unseal`` with the apps in the node's process (``AppHarness``): an app's command
and duties open details sealed to the member; what they cannot open is a typed refusal with a
stable reason, never a fault of the app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from peoplenet.plugins.api import AppCommandError
from peoplenet.plugins.harness import COMMUNITY
from peoplenet.plugins.kit import seal, seal_context
from peoplenet.plugins.testing import AppHarness
from peoplenet.plugins.unsealing import MAX_UNSEALS_PER_CALL, UnsealRefused, unseal_with
from peoplenet.runtime.wire.codec import encode
from tests import sealed_app


@pytest.fixture
def harness() -> Iterator[AppHarness]:
    h = AppHarness(sealed_app, members=3)
    h.enable()
    try:
        yield h
    finally:
        h.host.close()


def _sealed(h: AppHarness, text: str, *to: int, purpose: bytes = b"job-1") -> str:
    sealed = seal(
        text.encode(), [h.members[i] for i in to], seal_context(COMMUNITY, "sealtest", purpose)
    )
    return encode(sealed).hex()


def _refusal(h: AppHarness, **args: object) -> AppCommandError:
    with pytest.raises(AppCommandError) as refused:
        h.command("open", dict(args))  # type: ignore[arg-type]
    return refused.value


def test_a_command_seals_to_members_and_opens_what_is_sealed_to_me(harness: AppHarness) -> None:
    h = harness
    result, _ = h.command(
        "seal", {"text": "pickup: 12 Quay St", "to": (h.members[0], h.members[1])}
    )
    assert isinstance(result, dict)
    opened, _ = h.command("open", {"sealed": result["sealed"]})
    assert opened == {"text": "pickup: 12 Quay St"}


def test_what_a_command_cannot_open_is_a_refusal_with_its_reason(harness: AppHarness) -> None:
    h = harness
    not_mine = _sealed(h, "theirs", 1, 2)
    for _ in range(5):  # over the guard's failure limit: a refusal is never a fault
        error = _refusal(h, sealed=not_mine)
        assert error.reason == "not_a_recipient"
    mine = _sealed(h, "mine", 0)
    assert _refusal(h, sealed=mine, purpose="job-2").reason == "sealed_tampered"
    assert "another context" in _refusal(h, sealed=mine, purpose="job-2").detail
    assert _refusal(h, sealed=mine, app="currency").reason == "unseal_refused"
    assert _refusal(h, sealed=mine, community=b"f/other".hex()).reason == "unseal_refused"
    refused = _refusal(h, sealed=mine, times=MAX_UNSEALS_PER_CALL + 1)
    assert refused.reason == "unseal_refused"
    assert h.host.instances["sealtest"].guard.faulted == ""
    assert h.command("open", {"sealed": mine, "times": MAX_UNSEALS_PER_CALL})[0] == {"text": "mine"}


def test_duties_open_what_is_queued_and_catch_what_they_cannot(harness: AppHarness) -> None:
    h = harness
    for record in (_sealed(h, "one", 0, 1), _sealed(h, "not mine", 2), _sealed(h, "two", 0)):
        h.command("later", {"sealed": record})
    h.duties()
    shown, _ = h.command("show")
    assert shown == {"opened": ("one", "not_a_recipient", "two")}


def test_a_node_without_a_key_refuses_to_open(harness: AppHarness) -> None:
    me = harness.members[0]
    context = seal_context(COMMUNITY, "sealtest", b"")
    with pytest.raises(UnsealRefused):
        unseal_with(object(), me, seal(b"x", [me], context), context)
