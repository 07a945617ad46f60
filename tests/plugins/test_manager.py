"""The registry's per-app hook callers: pluggy's answers, without pluggy's dispatch per call."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pluggy
import pytest

from peoplenet.plugins import hookimpl
from peoplenet.plugins.manager import AppRegistry, load_apps
from tests.plugin_fixtures import CounterApp, RaisingApp


class _Counted(CounterApp):
    """The counter, whose lace hook answers a value (pluggy would list it) and whose clock
    hook is wrapped by a second implementation of its own (pluggy must dispatch those)."""

    @hookimpl
    def peoplenet_lace_block(self, state: Any, block: Any, ctx: Any) -> None:
        state.setdefault("blocks", []).append(block)
        return "seen" if block == "answer" else None  # type: ignore[return-value]

    @hookimpl(wrapper=True)
    def peoplenet_clock(self, state: Any, ctx: Any) -> Generator[None, Any, Any]:
        state["wrapped"] = True
        return (yield)


def _registry() -> AppRegistry:
    return load_apps(
        bundled=(), use_entry_points=False, extra=[("c", _Counted()), ("r", RaisingApp())]
    )


def _pluggy_caller(registry: AppRegistry, app: str, hook: str) -> Any:
    """The subset caller pluggy itself builds (what the registry's answers must equal)."""
    mine = registry.plugins[app]
    others = [p for p in registry.manager.get_plugins() if p is not mine]
    return registry.manager.subset_hook_caller(hook, remove_plugins=others)


def test_hook_answers_as_pluggy_does() -> None:
    registry = _registry()
    cases: list[tuple[str, dict[str, Any]]] = [
        ("peoplenet_new_state", {"community": b"x", "settings": {}}),  # firstresult: the value
        ("peoplenet_snapshot", {"state": {"total": 4, "notes": []}}),
        ("peoplenet_lace_block", {"state": {}, "block": "answer", "ctx": None}),  # a list
        ("peoplenet_lace_block", {"state": {}, "block": "quiet", "ctx": None}),  # []
        ("peoplenet_clock", {"state": {}, "ctx": None}),  # hook and wrapper: pluggy's own
    ]
    for hook, kwargs in cases:
        ours = registry.hook("counter", hook)(**kwargs)
        assert ours == _pluggy_caller(registry, "counter", hook)(**kwargs), hook
    state: dict[str, Any] = {}
    registry.hook("counter", "peoplenet_clock")(state=state, ctx=None)
    assert state == {"wrapped": True}  # the wrapper ran: pluggy dispatched that one


def test_a_plain_hook_is_called_without_pluggy_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _registry()
    dispatched: list[str] = []
    real = pluggy.HookCaller.__call__

    def counting(self: pluggy.HookCaller, **kwargs: Any) -> Any:
        dispatched.append(self.name)
        return real(self, **kwargs)

    monkeypatch.setattr(pluggy.HookCaller, "__call__", counting)
    apply = registry.hook("counter", "peoplenet_lace_block")
    assert apply(state={}, block="answer", ctx=None) == ["seen"]
    assert dispatched == []
    registry.hook("counter", "peoplenet_clock")(state={}, ctx=None)  # the wrapped one
    assert dispatched == ["peoplenet_clock"]


def test_a_missing_argument_is_pluggys_error_and_an_apps_error_passes_through() -> None:
    registry = _registry()
    with pytest.raises(pluggy.HookCallError, match="'ctx'"):
        registry.hook("counter", "peoplenet_lace_block")(state={}, block="b")
    with pytest.raises(RuntimeError):
        registry.hook("raiser", "peoplenet_apply_tx")(state={}, tx=None, ctx=None)


def test_implements_is_answered_once_per_pair() -> None:
    registry = _registry()
    assert registry.implements("counter", "peoplenet_lace_block")
    assert not registry.implements("raiser", "peoplenet_demo")
    assert not registry.implements("counter", "no_such_hook")
    registry.manager.unregister(registry.plugins["counter"])
    assert registry.implements("counter", "peoplenet_lace_block")  # plugins are fixed at load


def test_watched_calls_go_through_pluggy_and_are_seen() -> None:
    """The conformance kit records hook calls with pluggy's monitoring: a direct call must
    not slip past it, whether the monitoring came before or after the caller was built."""
    registry = _registry()
    before = registry.hook("counter", "peoplenet_lace_block")
    seen: list[str] = []
    undo = registry.manager.add_hookcall_monitoring(
        lambda name, impls, kwargs: seen.append(name), lambda *args: None
    )
    after = registry.hook("counter", "peoplenet_snapshot")
    assert before(state={}, block="answer", ctx=None) == ["seen"]
    assert after(state={"total": 1, "notes": []}) == {"total": 1, "notes": 0}
    assert seen == ["peoplenet_lace_block", "peoplenet_snapshot"]
    undo()
    before(state={}, block="answer", ctx=None)
    assert len(seen) == 2  # unwatched again: direct
