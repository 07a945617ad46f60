"""The ``peoplenet`` command, composed: the one module that knows every layer.

It sits above all of them (in no layer) and registers, in order, what each layer gives the
others from above -- so no layer imports one above it:

1. the record types of the governance and cooperative layers (the codec's tag table), before
   anything decodes or starts a node;
2. the cooperative's consumer for communities named ``f/...``, with the app platform's apps
   wired into it (the runtime's consensus finds it by the prefix; a node's actor processes are
   forked from this one, so they inherit the registration);
3. the command groups of each layer, in ``--help`` order, with the demo's parts: the member's
   node part runs, then the cooperative's part, then the apps';

then hands over to the runtime's command-line framework (:func:`peoplenet.runtime.cli.main.run`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TextIO

from peoplenet.actors import records
from peoplenet.actors.coop import cli_text
from peoplenet.actors.coop.cli import CoopCommands
from peoplenet.actors.coop.customer_cli import CustomerCommands
from peoplenet.actors.governance.decide_cli import DecideCommands
from peoplenet.actors.member.commands import NodeCommands
from peoplenet.bench.city.cli import RidesSimCommand
from peoplenet.bench.cli import BenchCommands
from peoplenet.bench.town.cli import DeliveriesSimCommand
from peoplenet.plugins.cli import AppsCommands
from peoplenet.runtime.cli import main as framework
from peoplenet.runtime.cli.commands import DemoCommands, IdentityCommands, SimCommands
from peoplenet.runtime.cli.group import CommandGroup
from peoplenet.runtime.consensus.constitution import Genesis
from peoplenet.runtime.consensus.consumer import Consumer, Signer, register_consumer

RECORD_MODULES: Final = records.MODULES
"""Imported above, so every record type is known before anything runs (see
:mod:`peoplenet.actors.records`)."""

COOPERATIVE_PREFIX: Final = b"f/"
"""How a cooperative's community name starts (its consumer folds governance)."""


# The consumer, its apps and the demo load when used (a command's start-up stays fast).


def cooperative(genesis: Genesis, folder: Path, signer: Signer) -> Consumer:
    """A cooperative's consumer with its apps run by the app platform (a keyless worker)."""
    from peoplenet.actors.coop.consumer import CoopConsumer  # noqa: PLC0415
    from peoplenet.plugins.coop_apps import CoopApps  # noqa: PLC0415

    return CoopConsumer(genesis, folder, signer, apps=CoopApps)


def demo(out: TextIO) -> int:
    """``peoplenet demo``: real nodes; the member's part, the cooperative's, then the apps'."""
    from peoplenet.actors.coop import demo as coop_demo  # noqa: PLC0415
    from peoplenet.actors.member import demo as node_demo  # noqa: PLC0415
    from peoplenet.plugins import apps_demo  # noqa: PLC0415

    return node_demo.main(out, (coop_demo.run, apps_demo.run))


def register() -> None:
    """What the layers get from above before any command runs (idempotent)."""
    register_consumer(COOPERATIVE_PREFIX, cooperative)


def command_groups() -> tuple[CommandGroup, ...]:
    """Every layer's commands, in ``--help`` order."""
    return (
        DemoCommands(real=demo),
        IdentityCommands(),
        NodeCommands(decision_lines=cli_text.decision_lines),
        CoopCommands(),
        CustomerCommands(),
        AppsCommands(),
        DecideCommands(),
        BenchCommands(),
        SimCommands(extra=(RidesSimCommand(), DeliveriesSimCommand())),
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line's parser (for tests and docs)."""
    return framework.Commands(command_groups()).parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``peoplenet`` command."""
    register()
    return framework.run(command_groups(), argv)


__all__ = [
    "COOPERATIVE_PREFIX",
    "build_parser",
    "command_groups",
    "cooperative",
    "demo",
    "main",
    "register",
]
