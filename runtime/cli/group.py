"""What a layer gives the ``peoplenet`` command: a group of top-level commands.

The command line is composed from above (``peoplenet/main.py``): each layer contributes its
commands as a :class:`CommandGroup`, and the framework (:mod:`peoplenet.runtime.cli.main`)
builds one parser from them and hands each parsed command to the group that added it.  So a
lower layer's command line never names the layers above it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO, TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""Where a group adds its top-level commands (``sub.add_parser(...)``)."""


class Passphrase(Protocol):
    """The member's passphrase: from ``$PEOPLENET_PASSPHRASE`` (taken at start) or a prompt."""

    def __call__(self, prompt: str, *, confirm: bool = False) -> str: ...


@dataclass(frozen=True, slots=True)
class Context:
    """What a running command gets from the framework besides its parsed arguments."""

    passphrase: Passphrase
    out: TextIO
    """Where the command prints its answer (the process's stdout when it started)."""


class CommandGroup(Protocol):
    """Some top-level commands of one layer.

    :meth:`add_parsers` adds them (in ``--help`` order); the framework notes which names it
    added, and runs :meth:`run` for a command line that starts with one of them.
    """

    def add_parsers(self, sub: Subparsers) -> None: ...

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        """Carry out the command; the process's exit code (errors: see the framework)."""
        ...


DemoRunner = Callable[[TextIO], int]
"""A demo over real processes: prints to the stream, returns the exit code."""


__all__ = ["CommandGroup", "Context", "DemoRunner", "Passphrase", "Subparsers"]
