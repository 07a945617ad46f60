"""The ``peoplenet`` command's framework: one parser from the layers' command groups.

It knows no layer above the runtime: the composer (``peoplenet/main.py``) hands it the
:class:`~peoplenet.runtime.cli.group.CommandGroup` of every layer, in ``--help`` order, and
:func:`run` does what every command shares -- take the passphrase out of the environment, set
the file mode mask, parse, configure logging, show petnames -- then runs the command's group
and turns errors into messages and exit codes.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from peoplenet.runtime import log
from peoplenet.runtime.cli import options as cli_options
from peoplenet.runtime.cli.exit import REFUSED, UNUSABLE, ActionRefused, refusal, report
from peoplenet.runtime.cli.group import CommandGroup, Context
from peoplenet.runtime.errors import LocalError, PeoplenetError
from peoplenet.runtime.keys.secret_env import take_env_secret
from peoplenet.runtime.local.control import ControlError
from peoplenet.runtime.local.file_modes import private_umask

PASSPHRASE_ENV = "PEOPLENET_PASSPHRASE"  # noqa: S105 - a variable name, not a secret


class Commands:
    """The parser built from command groups, and which group owns each top-level command.

    A group owns the commands its :meth:`~CommandGroup.add_parsers` added (argparse itself
    refuses a name two groups add).
    """

    def __init__(self, groups: Sequence[CommandGroup]) -> None:
        self.parser = argparse.ArgumentParser(
            prog="peoplenet", description="Platform cooperatives on their members' phones."
        )
        sub = self.parser.add_subparsers(dest="command", required=True)
        self.owners: dict[str, CommandGroup] = {}
        for group in groups:
            group.add_parsers(sub)
            for name in sub.choices:
                self.owners.setdefault(name, group)
        cli_options.share_options(self.parser)

    def parse(self, argv: Sequence[str] | None) -> argparse.Namespace:
        return cli_options.fill_defaults(self.parser.parse_args(argv))

    def owner(self, args: argparse.Namespace) -> CommandGroup:
        return self.owners[args.command]


_from_env: list[str] = []
"""The passphrase taken from $PEOPLENET_PASSPHRASE by :func:`_take_passphrase` (if it was set)."""


def _take_passphrase() -> None:
    """Move $PEOPLENET_PASSPHRASE out of the environment, before any process is started.

    Why at once: every process the command starts (a node's actors, app workers) would
    otherwise inherit it, the network actor that parses hostile input among them.
    """
    value = take_env_secret(PASSPHRASE_ENV)
    _from_env[:] = [] if value is None else [value]


def _passphrase(prompt: str, *, confirm: bool = False) -> str:
    """From $PEOPLENET_PASSPHRASE (scripts; taken at start-up) or the terminal (people)."""
    if _from_env:
        return _from_env[0]
    try:
        first = getpass.getpass(prompt)
        again = getpass.getpass("again: ") if confirm else first
    except EOFError:
        raise LocalError(f"no passphrase: run in a terminal or set ${PASSPHRASE_ENV}") from None
    if again != first:
        raise LocalError("the two passphrases differ")
    return first


def _show_petnames(args: argparse.Namespace) -> None:
    """Members in human output carry this node's petnames (a damaged file: shown without)."""
    data = getattr(args, "data", None)
    if not isinstance(data, str) or getattr(args, "json", False):
        return
    from pathlib import Path  # noqa: PLC0415 - keep start-up fast

    from peoplenet.runtime.cli import format as cli_format  # noqa: PLC0415
    from peoplenet.runtime.cli import petnames  # noqa: PLC0415

    root = Path(data).expanduser()
    if not petnames.petnames_path(root).is_file():
        return
    try:
        cli_format.use_petnames(petnames.load(root))
    except petnames.PetnameFileError:
        return


def run(groups: Sequence[CommandGroup], argv: Sequence[str] | None = None) -> int:
    """The ``peoplenet`` command made of ``groups``: its exit code."""
    _take_passphrase()
    private_umask()  # before anything is created: every file 0600, every directory 0700
    commands = Commands(groups)
    args = commands.parse(argv)
    log.configure()
    _show_petnames(args)
    try:
        return commands.owner(args).run(args, Context(_passphrase, sys.stdout))
    except ActionRefused as exc:
        report(exc, args.json, sys.stderr)
        return REFUSED
    except ControlError as exc:
        refused = refusal(exc)
        report(exc if refused is None else refused, args.json, sys.stderr)
        return UNUSABLE if refused is None else REFUSED
    except PeoplenetError as exc:  # a key file, a bad argument, no node running...
        report(exc, args.json, sys.stderr)
        return UNUSABLE
    except KeyboardInterrupt:
        return 130


__all__ = ["PASSPHRASE_ENV", "Commands", "run"]
