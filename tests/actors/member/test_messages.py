"""Actor messages are frozen, slotted and keyword-only, and an actor handle is typed Ref.

Why it matters: thespian's multiproc bases pickle every message between processes (frozen, at
module level); keyword-only construction keeps a reordered or added field from silently
shifting values at a call site; a ``Ref`` field is checked by mypy where ``object`` is not.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import typing
from collections.abc import Iterator

import pytest

import peoplenet.actors
import peoplenet.runtime.kernel
from peoplenet.actors.member import messages as member_messages
from peoplenet.runtime.kernel import messages as kernel_messages
from peoplenet.runtime.kernel.ref import Ref
from peoplenet.runtime.wire import codec

MESSAGE_MODULES = (member_messages, kernel_messages)
"""Every dataclass defined in these is a message."""

MESSAGES_ELSEWHERE = frozenset(
    {
        "AwaitReady",
        "Ready",
        "StopNetwork",
        "_CheckOwner",
        "_Wake",
        "_ConsumerWake",
        "_SocialWake",
        "_QueueDeadline",
        "Failure",
    }
)
"""Messages defined next to the actor that receives them (found wherever they live)."""

PAYLOADS = frozenset(
    {
        ("Forwarded", "msg"),
        ("Ask", "msg"),
        ("Reply", "msg"),
        ("Batch", "items"),
        ("Start", "init"),
        ("SpawnRequest", "init"),
    }
)
"""Fields that carry any message or init value on purpose (never an actor handle)."""


def _defined(module: object) -> Iterator[type]:
    for value in vars(module).values():
        if inspect.isclass(value) and value.__module__ == getattr(module, "__name__", None):
            yield value


def _messages() -> list[type]:
    found = [c for m in MESSAGE_MODULES for c in _defined(m) if dataclasses.is_dataclass(c)]
    elsewhere: dict[str, list[type]] = {}
    for package in (peoplenet.actors, peoplenet.runtime.kernel):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            for cls in _defined(importlib.import_module(info.name)):
                if cls.__name__ in MESSAGES_ELSEWHERE and dataclasses.is_dataclass(cls):
                    elsewhere.setdefault(cls.__name__, []).append(cls)
    assert set(elsewhere) == MESSAGES_ELSEWHERE, "a message moved out of reach or is gone"
    assert all(len(v) == 1 for v in elsewhere.values()), elsewhere
    return found + [v[0] for v in elsewhere.values()]


MESSAGES = _messages()


def test_there_are_messages_to_check() -> None:
    names = {c.__name__ for c in MESSAGES}
    assert {"ControlReply", "NodeInit", "Wiring", "Start", "Failed", "Ready"} <= names


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
def test_a_message_is_frozen_slotted_and_keyword_only(cls: type) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen, f"{cls.__name__} is not frozen"
    assert "__slots__" in vars(cls), f"{cls.__name__} has no slots"
    fields = dataclasses.fields(cls)
    assert all(f.kw_only for f in fields), f"{cls.__name__} takes positional arguments"
    if fields:
        with pytest.raises(TypeError):
            cls(*(None for _ in fields))


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
def test_no_message_field_is_untyped(cls: type) -> None:
    """Only a payload may be ``object``/``Any``: an actor handle is a ``Ref``."""
    hints = _hints(cls)
    for field in dataclasses.fields(cls):
        loose = _mentions(hints[field.name], (object, typing.Any))
        assert not loose or (cls.__name__, field.name) in PAYLOADS, (
            f"{cls.__name__}.{field.name}: {hints[field.name]} (an actor is a Ref)"
        )


def test_actor_handles_are_refs() -> None:
    hints = {c.__name__: _hints(c) for c in MESSAGES}
    for cls, field in [("Wiring", "member"), ("Wiring", "store"), ("Wiring", "network"),
                       ("Forwarded", "reply_to"), ("ConsensusRoute", "actor"),
                       ("Hello", "ref"), ("Start", "parent")]:  # fmt: skip
        assert _mentions(hints[cls][field], (Ref,)), f"{cls}.{field}: {hints[cls][field]}"


def test_messages_pickle_as_the_multiproc_bases_send_them() -> None:
    sent = [
        member_messages.ControlReply(request=7, ok=False, result=None, error="x", reason="y"),
        member_messages.NodeInit(
            data_dir="/d",
            seed=b"s" * 32,
            listen_host="127.0.0.1",
            listen_port=1,
            advertise_host="127.0.0.1",
            network_id=b"n",
            mdns=False,
            mdns_interfaces=(),
            peers=(),
            auto_accept=False,
        ),
        kernel_messages.Failed(name="a", generation=1, error_type="E", error="e"),
    ]
    for msg in sent:
        assert pickle.loads(pickle.dumps(msg)) == msg
    assert "seed=" not in repr(sent[1])  # the seed is never in a repr


def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls, localns=vars(codec))  # Value names Record lazily


def _mentions(hint: object, wanted: tuple[object, ...]) -> bool:
    if hint in wanted:
        return True
    return any(_mentions(arg, wanted) for arg in typing.get_args(hint))
