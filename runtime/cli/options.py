"""``--data`` and ``--json`` anywhere on the command line.

``peoplenet --data D friends add X``, ``peoplenet friends --data D add X`` and
``peoplenet friends add X --data D`` mean the same.  argparse copies a subcommand's whole
namespace over its parent's, defaults included, so an option given before the subcommand would
be overwritten by the subcommand's default: every copy of these options therefore has no
default at all (``SUPPRESS``), and :func:`fill_defaults` supplies it once parsing is done.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Final

DATA_ENV: Final = "PEOPLENET_DATA"
SHARED: Final = ("data", "json")


def data_default() -> str:
    return os.environ.get(DATA_ENV, os.path.expanduser("~/.peoplenet"))


def _children(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if id(child) not in seen:
                    seen.add(id(child))
                    yield child


def _has(parser: argparse.ArgumentParser, dest: str) -> bool:
    return any(a.dest == dest and a.option_strings for a in parser._actions)


def _below(parser: argparse.ArgumentParser, dest: str) -> bool:
    return any(_has(c, dest) or _below(c, dest) for c in _children(parser))


def _add(parser: argparse.ArgumentParser, dest: str) -> None:
    if dest == "data":
        parser.add_argument(
            "--data",
            default=argparse.SUPPRESS,
            help=f"the node's data directory (default ${DATA_ENV} or ~/.peoplenet)",
        )
    else:
        parser.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON"
        )


def share_options(root: argparse.ArgumentParser) -> None:
    """Accept ``--data``/``--json`` at every level of each command that has them.

    A parser gets an option if it has it, if a subcommand below it has it, or if a command
    group above it (the program itself excepted) has it.
    """
    for dest in SHARED:
        _share(root, dest, inherited=False, is_root=True)


def _share(
    parser: argparse.ArgumentParser, dest: str, *, inherited: bool, is_root: bool = False
) -> None:
    own = _has(parser, dest)
    if own:
        for action in parser._actions:
            if action.dest == dest:
                action.default = argparse.SUPPRESS
    elif inherited or _below(parser, dest):
        _add(parser, dest)
    for child in _children(parser):
        _share(child, dest, inherited=(own or inherited) and not is_root)


def fill_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """The defaults of the shared options, for those not given anywhere."""
    if not hasattr(args, "data"):
        args.data = data_default()
    if not hasattr(args, "json"):
        args.json = False
    return args
