"""``peoplenet ride ...``: the app's own command group, parsed like any command."""

from __future__ import annotations

import pytest

from peoplenet import main as composer
from peoplenet.apps.ride_hailing.plugin import SPEC
from peoplenet.plugins.api import AppSpec, PluginError
from peoplenet.plugins.cli import AppsCommands
from peoplenet.runtime.cli.main import Commands


def test_every_ride_command_is_a_subcommand_with_its_arguments_as_options() -> None:
    commands = Commands(composer.command_groups())
    assert isinstance(commands.owners["ride"], AppsCommands)
    args = commands.parse(
        ["ride", "request", "--data", "/tmp/pn", "riders", "--from", "45.46,9.19", "--to",
         "45.48,9.23", "--json"]
    )  # fmt: skip
    assert (args.group_app, args.top_level_command, args.coop) == (
        "ride_hailing",
        "request",
        "riders",
    )
    assert (args.arg_from, args.arg_to, args.json) == ("45.46,9.19", "45.48,9.23", True)
    for command in SPEC.commands:
        parsed = commands.parse(["ride", command.name, "riders"])
        assert parsed.top_level_command == command.name


def test_a_command_group_is_named_like_an_app() -> None:
    with pytest.raises(PluginError):
        AppSpec("x", "1", "an app", cli_group="Not A Name")
