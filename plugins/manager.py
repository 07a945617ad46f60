"""Finding and loading apps: the bundled ones and the entry-point group ``peoplenet.apps``.

Every app is an ordinary pluggy plugin; the bundled apps are registered exactly as a
third-party package's would be.  Each plugin is registered and checked on its own
(``check_pending()``: a hook whose name no spec knows -- a typo -- fails at start), and a plugin
that cannot be imported, has a misnamed hook, declares itself badly or reuses a taken name is
set aside as *broken* with the reason, logged, and listed by ``peoplenet apps list``; the
node and the other apps go on.  ``strict=True`` (the conformance kit, tests) raises instead.

Each app's hooks are called through its own subset caller, so one app never sees another's
calls and a hook needs no app-name argument.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Final

import pluggy

from peoplenet.plugins import hookspecs
from peoplenet.plugins.api import FUNDS, AppSpec, PluginError
from peoplenet.runtime.log import get_logger

ENTRY_POINT_GROUP: Final = "peoplenet.apps"
BUNDLED: Final = (
    "peoplenet.apps.currency.plugin",
    "peoplenet.apps.ride_hailing.plugin",
    "peoplenet.apps.delivery.plugin",
)
"""Modules of the apps that ship with Peoplenet (registered like any other plugin)."""

_log = get_logger("plugins")


@dataclass(frozen=True, slots=True)
class BrokenPlugin:
    """A plugin that could not be loaded, and why."""

    source: str
    reason: str


@dataclass(slots=True)
class AppRegistry:
    """The loaded apps: each one's spec, plugin object and per-app hook callers."""

    manager: pluggy.PluginManager
    specs: dict[str, AppSpec] = field(default_factory=dict)
    plugins: dict[str, object] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)
    _callers: dict[tuple[str, str], Any] = field(default_factory=dict)
    _implemented: dict[tuple[str, str], bool] = field(default_factory=dict)
    _dispatch: object = None
    """The manager's own dispatcher, before anything watched it (see :func:`_direct`)."""

    def __post_init__(self) -> None:
        self._dispatch = getattr(self.manager, "_inner_hookexec", None)

    def names(self) -> list[str]:
        return sorted(self.specs)

    def spec(self, name: str) -> AppSpec | None:
        return self.specs.get(name)

    def hook(self, app: str, name: str) -> Any:
        """The hook caller of ``name`` that reaches ``app``'s implementation only.

        It is called with keyword arguments and answers as pluggy's caller would.  When the
        app implements the hook once, as a plain function (the usual case), it is that
        function behind a thin adapter (:func:`_direct`): pluggy's dispatch costs about 3 µs
        a call, more than many hooks take, and a payment runs some twenty hooks."""
        key = (app, name)
        caller = self._callers.get(key)
        if caller is None:
            mine = self.plugins[app]
            others = [p for p in self.manager.get_plugins() if p is not mine]
            subset = self.manager.subset_hook_caller(name, remove_plugins=others)
            direct = _direct(self.manager, self._dispatch, subset)
            caller = self._callers[key] = direct or subset
        return caller

    def implements(self, app: str, name: str) -> bool:
        """Whether ``app`` implements the hook ``name`` (asked once per pair, as :meth:`hook`
        builds its caller once: the plugins do not change once loaded)."""
        key = (app, name)
        known = self._implemented.get(key)
        if known is None:
            mine = self.plugins[app]
            caller = getattr(self.manager.hook, name, None)
            known = caller is not None and any(i.plugin is mine for i in caller.get_hookimpls())
            self._implemented[key] = known
        return known


def _direct(
    manager: pluggy.PluginManager, plain: object, caller: pluggy.HookCaller
) -> Callable[..., Any] | None:
    """``caller``'s one implementation called directly, with pluggy's result shape (the value
    of a ``firstresult`` hook, else a list of the non-None results), or None when pluggy must
    dispatch (no implementation or several, a wrapper, a historic hook).  ``plain`` is the
    manager's dispatcher as it was unwatched.

    While anything watches the manager's calls (``add_hookcall_monitoring``, as the
    conformance kit's harness does, or ``enable_tracing``: both replace its inner dispatcher),
    calls go through pluggy again, so that they are seen."""
    impls = caller.get_hookimpls()
    spec = caller.spec
    if len(impls) != 1 or spec is None or spec.opts.get("historic") or plain is None:
        return None
    impl = impls[0]
    if impl.hookwrapper or impl.wrapper:
        return None
    fn, names = impl.function, impl.argnames
    first = bool(spec.opts.get("firstresult"))

    def direct(**kwargs: Any) -> Any:
        if manager._inner_hookexec is not plain:  # watched: pluggy dispatches
            return caller(**kwargs)
        try:
            args = [kwargs[n] for n in names]
        except KeyError as exc:  # what pluggy raises for a missing argument
            raise pluggy.HookCallError(f"hook call must provide argument {exc.args[0]!r}") from None
        result = fn(*args)
        if first:
            return result
        return [] if result is None else [result]

    return direct


def _manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def load_apps(
    *,
    bundled: Sequence[str] = BUNDLED,
    use_entry_points: bool = True,
    extra: Iterable[tuple[str, object]] = (),
    strict: bool = False,
) -> AppRegistry:
    """Register the bundled apps, the installed ``peoplenet.apps`` entry points and ``extra``.

    ``extra`` is ``(source, plugin)`` pairs (tests, the conformance kit).  Broken plugins are
    recorded in :attr:`AppRegistry.broken` (or raised as :class:`PluginError` if ``strict``).
    """
    registry = AppRegistry(_manager())
    candidates: list[tuple[str, object | None, str]] = []
    for module in bundled:
        # ``source`` is part of ``apps list --json``: bundled apps keep the name they had before
        # the code moved under the ``peoplenet`` package
        candidates.append(_import(module.removeprefix("peoplenet."), module))
    if use_entry_points:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            source = f"entry point {ep.name} ({ep.value})"
            try:
                candidates.append((source, ep.load(), ""))
            except Exception as exc:  # a third party's import may raise anything
                candidates.append((source, None, f"cannot import: {exc!r}"))
    candidates.extend((source, plugin, "") for source, plugin in extra)
    for source, plugin, error in candidates:
        reason = error or _register(registry, source, plugin)
        if reason:
            if strict:
                raise PluginError(f"{source}: {reason}")
            registry.broken.append(BrokenPlugin(source, reason))
            _log.error("plugin_broken", source=source, reason=reason)
    return registry


def _import(source: str, module: str) -> tuple[str, object | None, str]:
    try:
        return source, importlib.import_module(module), ""
    except Exception as exc:  # a bundled app that fails to import is still only one app
        return source, None, f"cannot import: {exc!r}"


def _register(registry: AppRegistry, source: str, plugin: object | None) -> str:
    """Register one plugin and check it; the reason it is broken, or ''."""
    pm = registry.manager
    if plugin is None:
        return "nothing to register"
    try:
        pm.register(plugin, name=source)
    except Exception as exc:  # pluggy raises ValueError / PluginValidationError
        return f"cannot register: {exc}"
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        pm.unregister(plugin)
        return f"unknown hook: {exc}"
    try:
        spec = _declared(pm, plugin)
    except Exception as exc:  # the declaring hook itself raised, or returned garbage
        pm.unregister(plugin)
        return f"bad declaration: {exc}"
    if spec.name in registry.specs:
        pm.unregister(plugin)
        return f"app name {spec.name!r} already taken by {registry.sources[spec.name]}"
    registry.specs[spec.name] = spec
    registry.plugins[spec.name] = plugin
    registry.sources[spec.name] = source
    return ""


def _declared(pm: pluggy.PluginManager, plugin: object) -> AppSpec:
    impls = [i for i in pm.hook.peoplenet_app.get_hookimpls() if i.plugin is plugin]
    if len(impls) != 1:
        raise PluginError("a plugin implements peoplenet_app exactly once")
    spec = impls[0].function()
    if not isinstance(spec, AppSpec):
        raise PluginError(f"peoplenet_app returned {type(spec).__name__}, not AppSpec")
    required_hooks = ["peoplenet_new_state", "peoplenet_snapshot"]
    if FUNDS in spec.provides:
        required_hooks.append("peoplenet_funds")
    for required in required_hooks:
        caller = getattr(pm.hook, required)
        if not any(i.plugin is plugin for i in caller.get_hookimpls()):
            raise PluginError(f"{spec.name} must implement {required}")
    return spec


__all__ = ["BUNDLED", "ENTRY_POINT_GROUP", "AppRegistry", "BrokenPlugin", "load_apps"]
