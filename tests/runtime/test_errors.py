"""The error tree: every exception Peoplenet defines derives from the root, once, with a reason.

Walks every module of the ``peoplenet`` package, so a stray ``class X(Exception)`` anywhere, or
a class defined a second time under a name already taken, fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from collections.abc import Iterator

import pytest

import peoplenet
from peoplenet.plugins.api import AppCommandError
from peoplenet.plugins.api import PluginError as ApiPluginError  # the name apps import
from peoplenet.plugins.guard import AppFaulted, PluginFailed, PluginHung, PluginRaised
from peoplenet.plugins.worker.channel import (
    CallFailed,
    WorkerError,
    WorkerGone,
    WorkerHung,
    WorkerProtocolError,
)
from peoplenet.plugins.worker.remote_host import AppWorkerFailed
from peoplenet.runtime.consensus.consumer import ConsumerBroken
from peoplenet.runtime.errors import (
    REASON,
    InvalidBlock,
    LocalError,
    PeoplenetError,
    PluginError,
    StoreCorrupt,
    reason_of,
)

OUTSIDE_THE_TREE: dict[str, str] = {
    "peoplenet.runtime.wire.codec._Extra": (
        "control flow inside the decoder (the value ended before the input): caught where it "
        "is raised, never escapes the module"
    ),
    "peoplenet.actors.governance.fold.Refused": (
        "control flow inside the fold: the transaction is refused, and the fold records the "
        "refusal as a Rejection; never escapes the module"
    ),
}
"""Exceptions deliberately outside the tree, each with why."""

ENTRY_POINTS = frozenset({"peoplenet.__main__", "peoplenet.plugins.worker.__main__"})
"""Modules that run a program when imported (nothing is defined there)."""


def _modules() -> Iterator[types.ModuleType]:
    yield peoplenet
    for info in pkgutil.walk_packages(peoplenet.__path__, "peoplenet."):
        if info.name not in ENTRY_POINTS:
            yield importlib.import_module(info.name)


def _exceptions() -> list[type[BaseException]]:
    """Every exception class defined (not just imported) in a module of ``peoplenet``."""
    found: list[type[BaseException]] = []
    for module in _modules():
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_every_error_derives_from_the_root() -> None:
    outside = [
        _name(c)
        for c in _exceptions()
        if not issubclass(c, PeoplenetError) and _name(c) not in OUTSIDE_THE_TREE
    ]
    assert outside == [], f"derive these from PeoplenetError (or a branch of it): {outside}"


def test_the_allow_list_names_real_classes_outside_the_tree() -> None:
    names = {_name(c): c for c in _exceptions()}
    for name in OUTSIDE_THE_TREE:
        assert name in names, f"{name} is gone: drop it from the allow-list"
        assert not issubclass(names[name], PeoplenetError), f"{name} is in the tree now"


def test_no_error_class_is_defined_twice() -> None:
    where: dict[str, list[str]] = {}
    for cls in _exceptions():
        where.setdefault(cls.__qualname__, []).append(cls.__module__)
    twice = {name: modules for name, modules in where.items() if len(modules) > 1}
    assert twice == {}, f"one definition each, imported where needed: {twice}"


def test_every_reason_is_snake_case_and_names_one_class() -> None:
    owner: dict[str, str] = {}
    for cls in _exceptions():
        if not issubclass(cls, PeoplenetError):
            continue
        assert REASON.match(cls.reason), f"{_name(cls)}.reason = {cls.reason!r}"
        if "reason" in vars(cls):  # declared here (not inherited): one class per reason
            assert owner.setdefault(cls.reason, _name(cls)) == _name(cls), (
                f"{_name(cls)} and {owner[cls.reason]} both declare {cls.reason!r}"
            )


def test_plugin_and_worker_faults_are_their_own_branch() -> None:
    assert ApiPluginError is PluginError
    faults = (PluginFailed, PluginHung, PluginRaised, AppFaulted, WorkerError, WorkerGone,
              WorkerHung, WorkerProtocolError, CallFailed, AppWorkerFailed)  # fmt: skip
    for fault in faults:
        assert issubclass(fault, PluginError) and not issubclass(fault, LocalError), fault
    assert issubclass(AppWorkerFailed, ConsumerBroken)  # the community restarts on it


def test_reason_of_any_exception() -> None:
    assert reason_of(StoreCorrupt("x")) == "store_corrupt"
    assert reason_of(InvalidBlock("bad_signature", "x")) == "bad_signature"  # finer, own code
    assert reason_of(ValueError("x")) == "internal_error"
    assert reason_of(AppCommandError("Not Snake", "x")) == "app_command_refused"
    with pytest.raises(TypeError):
        PeoplenetError("the root is abstract")
