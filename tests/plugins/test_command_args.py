"""App command arguments arrive as the kinds their command declares, or are refused in words.

The command line hands every value over as text; the app host converts it by the command's
declaration (:mod:`peoplenet.plugins.command_args`) before the app runs.  Also: an app command that
breaks reads as what failed and why, never as a Python repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from peoplenet.plugins import hookimpl
from peoplenet.plugins.api import AppCommandError, AppSpec, Arg, CommandSpec, NodeContext
from peoplenet.plugins.command_args import convert_args
from peoplenet.plugins.testing import AppHarness
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.wire.codec import Value
from tests.plugins.test_testing import example_module

ANA = bytes.fromhex("ab" * 32)
BEN = bytes.fromhex("cd" * 32)
KINDS = CommandSpec(
    "go",
    "every kind",
    (
        Arg("n", "int"),
        Arg("coins", "amount"),
        Arg("share", "decimal"),
        Arg("flag", "bool"),
        Arg("who", "member"),
        Arg("many", "members"),
        Arg("block", "block"),
        Arg("note", "text"),
        "raw",
    ),
)


def test_text_from_the_command_line_becomes_each_declared_kind() -> None:
    given: dict[str, Value] = {
        "n": "-3",
        "coins": "5",
        "share": "2.5",
        "flag": "false",
        "who": "abababab",
        "many": f"{'cd' * 32},abababab",
        "block": "0f" * 32,
        "note": "7",
        "raw": "7",
    }
    assert convert_args(KINDS, given, {ANA, BEN}) == {
        "n": -3,
        "coins": 5,
        "share": "5/2",
        "flag": False,
        "who": ANA,
        "many": (BEN, ANA),
        "block": b"\x0f" * 32,
        "note": "7",
        "raw": "7",  # a plain name (kind any): as given
    }


def test_typed_values_from_control_callers_pass_unchanged() -> None:
    given: dict[str, Value] = {"n": 3, "flag": True, "who": ANA, "many": (ANA,), "share": 2}
    assert convert_args(KINDS, given, {ANA}) == {**given, "share": "2"}


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("n", "three", "n is a whole number, not 'three'"),
        ("coins", "-1", "coins is a whole number, 0 or more, not '-1'"),
        ("share", "lots", "share is a number such as 2.5 or 5/2, not 'lots'"),
        ("flag", "maybe", "flag is true or false, not 'maybe'"),
        ("block", "zz", "block is a block id (hex), not 'zz'"),
        ("note", 5, "note is text, not '5'"),
    ],
)
def test_a_value_not_of_its_kind_names_the_argument_and_the_kind(
    name: str, value: Value, words: str
) -> None:
    with pytest.raises(AppCommandError) as caught:
        convert_args(KINDS, {name: value}, {ANA})
    assert caught.value.reason == "bad_argument"
    assert caught.value.detail == words


def test_members_are_checked_against_the_cooperative() -> None:
    not_members: list[Value] = ["zz", "ab", "ef" * 32, BEN]  # "ab": too short a prefix
    for value in not_members:
        with pytest.raises(AppCommandError) as caught:
            convert_args(KINDS, {"who": value}, {ANA})
        assert caught.value.reason == "unknown_member", value
    twins = {bytes.fromhex("ab" * 31 + "01"), bytes.fromhex("ab" * 31 + "02")}
    with pytest.raises(AppCommandError, match="ambiguous_member"):
        convert_args(KINDS, {"who": "abababab"}, twins)


def test_unknown_argument_names_are_refused_listing_the_known_ones() -> None:
    with pytest.raises(AppCommandError) as caught:
        convert_args(KINDS, {"numbr": "1", "n": "1"}, {ANA})
    assert caught.value.reason == "unknown_argument"
    assert caught.value.detail == (
        "go takes n, coins, share, flag, who, many, block, note, raw; not numbr"
    )


def test_the_noticeboard_pin_gets_a_number_from_text() -> None:
    records = example_module("records")
    with AppHarness(example_module("plugin"), members=2) as h:
        h.enable()
        assert h.submit(records.PostNotice("Bread on Friday"))["status"] == "applied"
        _, submitted = h.command("pin", {"number": "1"})
        assert submitted == [records.PinNotice(1, True)]
        _, submitted = h.command("pin", {"number": "1", "pinned": "false"})
        assert submitted == [records.PinNotice(1, False)]
        with pytest.raises(AppCommandError, match=r"unknown_argument: pin takes number, pinned"):
            h.command("pin", {"numbr": "1"})
        with pytest.raises(AppCommandError, match="number is a whole number, not 'one'"):
            h.command("pin", {"number": "one"})
        assert h.problems() == []


class BreakingApp:
    """An app whose commands break the way real code does."""

    @hookimpl
    def peoplenet_app(self) -> AppSpec:
        return AppSpec(
            name="breaking",
            version="1.0",
            summary="commands that raise",
            commands=(
                CommandSpec("protocol", "a codec error"),
                CommandSpec("bug", "a plain bug"),
                CommandSpec("floaty", "an answer that cannot cross"),
            ),
        )

    @hookimpl
    def peoplenet_new_state(self, community: bytes, settings: Mapping[str, Value]) -> object:
        return {}

    @hookimpl
    def peoplenet_snapshot(self, state: object) -> Value:
        return {}

    @hookimpl
    def peoplenet_command(
        self, state: object, command: str, args: Mapping[str, Value], node: NodeContext
    ) -> Any:
        if command == "protocol":
            raise RemoteProtocolError("truncated", "the record ends early")
        if command == "bug":
            raise ValueError("non-hexadecimal number found")
        return {"ratio": 0.5}


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("protocol", "truncated: breaking protocol failed: the record ends early"),
        ("bug", "app_failed: breaking bug failed (ValueError): non-hexadecimal number found"),
        ("floaty", "bad_result: breaking floaty answered"),
    ],
)
def test_a_command_that_breaks_reads_as_words(command: str, words: str) -> None:
    with AppHarness(BreakingApp(), members=1) as h:
        h.enable()
        with pytest.raises(AppCommandError) as caught:
            h.command(command)
    message = str(caught.value)
    assert message.startswith(words), message
    assert "raised" not in message and "Error(" not in message
