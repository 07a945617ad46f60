"""The guard's errors say whose fault it was: the app's (the PluginError branch), by kind."""

from __future__ import annotations

import threading

import pytest

from peoplenet.plugins.api import AppCommandError, PluginError
from peoplenet.plugins.guard import AppFaulted, Guard, PluginFailed, PluginHung, PluginRaised
from peoplenet.runtime.errors import LocalError, reason_of


def test_a_raising_hook_a_hung_hook_and_a_faulted_app_are_plugin_faults() -> None:
    guard = Guard("g", deadline_s=0.05, max_failures=5)
    release = threading.Event()

    def boom() -> None:
        raise RuntimeError("bug in the app")

    with pytest.raises(PluginRaised) as raised:
        guard.call("h", boom)
    assert isinstance(raised.value.error, RuntimeError) and not raised.value.faulted
    with pytest.raises(PluginHung) as hung:
        guard.call("h", release.wait)  # blocks past the deadline
    assert hung.value.faulted and hung.value.error is None
    with pytest.raises(AppFaulted) as faulted:
        guard.call("h", lambda: 1)
    release.set()
    for exc, reason in [(raised.value, "plugin_raised"), (hung.value, "plugin_hung"),
                        (faulted.value, "app_faulted")]:  # fmt: skip
        assert isinstance(exc, PluginError) and not isinstance(exc, LocalError)
        assert reason_of(exc) == reason
    assert isinstance(raised.value, PluginFailed) and isinstance(hung.value, PluginFailed)
    guard.close()


def test_an_apps_own_refusal_is_no_fault() -> None:
    guard = Guard("g")

    def refuse() -> None:
        raise AppCommandError("too_long", "281 > 280")

    with pytest.raises(AppCommandError) as refused:
        guard.call("peoplenet_command", refuse)
    assert reason_of(refused.value) == "too_long" and not guard.faulted
    guard.close()
