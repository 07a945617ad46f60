"""``peoplenet apps list|info`` and ``peoplenet app``: the installed apps and their commands.

* ``apps list`` shows every installed app (and broken plugins, with why); with a running node,
  also each cooperative's apps: enabled or not, settings, and whether this node runs it.
* ``apps info NAME`` shows one app's declaration: parameters with kinds and bounds, commands,
  and which blocks the node signs for it automatically or only with the person's consent.
* ``app COOP NAME COMMAND --arg key=value ...`` runs any app's command.  Bundled apps may
  also claim top-level commands (``CommandSpec.top_level``): ``peoplenet pay COOP --to ...``,
  or a group of their own (``AppSpec.cli_group``): ``peoplenet ride request COOP --from ...``.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, TextIO

from peoplenet.plugins.api import AppSpec, ParamSpec
from peoplenet.plugins.arg_names import resolve_app_args
from peoplenet.plugins.command_args import convert_args
from peoplenet.plugins.customer_session import CustomerSession, find_profile
from peoplenet.plugins.manager import BUNDLED, AppRegistry, load_apps
from peoplenet.runtime.cli.format import tree_text
from peoplenet.runtime.cli.group import Context, Passphrase, Subparsers
from peoplenet.runtime.cli.resolve import Namer
from peoplenet.runtime.errors import LocalError, PeoplenetError
from peoplenet.runtime.keys.keyfile import load_identity
from peoplenet.runtime.local import control
from peoplenet.runtime.local.datadir import DataDir


class AppsCliError(LocalError):
    """An ``apps``/``app`` command that cannot be carried out as typed."""

    reason = "apps_command_error"


def _data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=os.environ.get("PEOPLENET_DATA", os.path.expanduser("~/.peoplenet")),
        help="the node's data directory (default $PEOPLENET_DATA or ~/.peoplenet)",
    )


class AppsCommands:
    """``peoplenet apps``, ``peoplenet app`` and the bundled apps' top-level commands."""

    def add_parsers(self, sub: Subparsers) -> None:
        add_parsers(sub)

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        return run(args, ctx.out, ctx.passphrase)


def add_parsers(sub: Subparsers) -> None:
    apps = sub.add_parser("apps", help="installed apps, and which each cooperative enabled")
    asub = apps.add_subparsers(dest="action", required=True)
    listing = asub.add_parser("list", help="installed apps; per cooperative, enabled or not")
    _data(listing)
    listing.add_argument("--json", action="store_true")
    info = asub.add_parser("info", help="one app: parameters, commands, what it may sign")
    info.add_argument("name")
    _data(info)
    info.add_argument("--coop", help="also show its status in this cooperative")
    info.add_argument("--json", action="store_true")

    app = sub.add_parser("app", help="run an app's command in a cooperative")
    _data(app)
    app.add_argument("coop", help="the cooperative (name or lace prefix)")
    app.add_argument("name", help="the app")
    app.add_argument("app_command", metavar="COMMAND")
    app.add_argument(
        "--arg", action="append", default=[], metavar="KEY=VALUE", help="a command argument"
    )
    app.add_argument("--json", action="store_true")

    for spec in _bundled_specs():
        for command in spec.commands:
            if not command.top_level:
                continue
            p = sub.add_parser(command.name, help=f"{spec.name}: {command.summary}")
            _data(p)
            p.add_argument("coop", help="the cooperative (name or lace prefix)")
            for name in command.arg_names:
                p.add_argument(f"--{name.replace('_', '-')}", dest=f"arg_{name}")
            p.add_argument("--json", action="store_true")
            p.set_defaults(top_level_app=spec.name, top_level_command=command.name)
        if spec.cli_group:
            _add_group(sub, spec)


def _add_group(sub: Subparsers, spec: AppSpec) -> None:
    """``peoplenet GROUP COMMAND COOP --ARG VALUE ...``: every command of one bundled app."""
    group = sub.add_parser(spec.cli_group, help=f"{spec.name}: {spec.summary}")
    commands = group.add_subparsers(dest="group_command", metavar="COMMAND", required=True)
    for command in spec.commands:
        p = commands.add_parser(command.name, help=command.summary)
        _data(p)
        p.add_argument("coop", help="the cooperative (name or lace prefix)")
        for arg in command.arguments:
            p.add_argument(
                f"--{arg.name.replace('_', '-')}", dest=f"arg_{arg.name}", help=arg.summary
            )
        p.add_argument("--json", action="store_true", help="print the command's answer as JSON")
        p.set_defaults(group_app=spec.name, top_level_command=command.name)


def _bundled_specs() -> list[AppSpec]:
    registry = load_apps(bundled=BUNDLED, use_entry_points=False)
    return [registry.specs[n] for n in registry.names()]


def is_top_level(args: argparse.Namespace) -> bool:
    return getattr(args, "top_level_app", None) is not None


def _given(args: argparse.Namespace) -> dict[str, Any]:
    return {
        key[4:]: value
        for key, value in vars(args).items()
        if key.startswith("arg_") and value is not None
    }


def run(args: argparse.Namespace, out: TextIO, passphrase: Passphrase | None = None) -> int:
    if getattr(args, "group_app", None) is not None:
        data = DataDir(args.data)
        profile = None if data.control_socket.exists() else find_profile(data, args.coop)
        if profile is not None and passphrase is not None:  # a customer's data directory
            session = CustomerSession(
                data, profile, load_identity(data.key_file, passphrase("passphrase: ")),
                args.group_app,
            )  # fmt: skip
            return _customer_command(args, session, _given(args), out)
        return _group_command(args, args.group_app, args.top_level_command, _given(args), out)
    if is_top_level(args):
        given = {
            key[4:]: value
            for key, value in vars(args).items()
            if key.startswith("arg_") and value is not None
        }
        return _command(args, args.top_level_app, args.top_level_command, given, out)
    if args.command == "app":
        given = {}
        for item in args.arg:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise AppsCliError(f"--arg takes KEY=VALUE, not {item!r}")
            given[key] = value
        return _command(args, args.name, args.app_command, given, out)
    registry = load_apps()
    if args.action == "info":
        return _info(registry, args, out)
    return _list(registry, args, out)


def _command(
    args: argparse.Namespace, app: str, command: str, given: dict[str, Any], out: TextIO
) -> int:
    data = DataDir(args.data)
    data.require()

    def history() -> Any:
        which = {"community": args.coop, "app": app, "command": "history", "args": {}}
        return control.call(data.control_socket, "coop_app", which).get("result")

    given = resolve_app_args(given, Namer(data.root), history)
    result = control.call(
        data.control_socket,
        "coop_app",
        {"community": args.coop, "app": app, "command": command, "args": given},
    )
    _print(result, args.json, out, _me(data))
    return 0


def _group_command(
    args: argparse.Namespace, app: str, command: str, given: dict[str, Any], out: TextIO
) -> int:
    """A command of an app's own group: ``--json`` prints the app's answer alone.

    Only the arguments the command declares as members are resolved as names (``--to`` of a
    ride is a place, not a member).
    """
    data = DataDir(args.data)
    data.require()
    spec = next(s for s in _bundled_specs() if s.name == app)
    declared = spec.command(command)
    kinds = {a.name: a.kind for a in declared.arguments} if declared is not None else {}
    namer = Namer(data.root)
    for key, value in list(given.items()):
        if kinds.get(key) == "member" and isinstance(value, str):
            given[key] = namer.member_hex(value)
        elif kinds.get(key) == "members" and isinstance(value, str):
            given[key] = ",".join(
                namer.member_hex(p.strip()) for p in value.split(",") if p.strip()
            )
    answer = control.call(
        data.control_socket,
        "coop_app",
        {"community": args.coop, "app": app, "command": command, "args": given},
    )
    result = answer.get("result") if isinstance(answer, dict) else answer
    if args.json:
        out.write(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
        return 0
    _print(answer, False, out, _me(data))
    return 0


def _customer_command(
    args: argparse.Namespace, session: CustomerSession, given: dict[str, Any], out: TextIO
) -> int:
    """A command of an app's group run by a customer (not a member): the app's
    ``peoplenet_customer_command`` with signed requests and receipts, no node."""
    registry = load_apps(bundled=BUNDLED, use_entry_points=False)
    app, command = args.group_app, args.top_level_command
    if not registry.implements(app, "peoplenet_customer_command"):
        raise AppsCliError(f"{app} serves no customers: {args.coop} is no cooperative of yours")
    declared = registry.specs[app].command(command)
    if declared is not None:
        given = convert_args(declared, given, session.profile.member_ids)
    hook = registry.hook(app, "peoplenet_customer_command")
    result = hook(command=command, args=given, customer=session)
    if args.json:
        out.write(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
    else:
        _print(result, False, out, session.me)
    return 0


def _me(data: DataDir) -> bytes | None:
    """This node's member id (from the key file, no passphrase needed), to mark "you"."""
    from peoplenet.runtime.keys.keyfile import read_member_id  # noqa: PLC0415

    try:
        return bytes(read_member_id(data.key_file))
    except PeoplenetError:
        return None


def _list(registry: AppRegistry, args: argparse.Namespace, out: TextIO) -> int:
    installed = [
        {
            "name": n,
            "version": registry.specs[n].version,
            "summary": registry.specs[n].summary,
            "source": registry.sources[n],
        }
        for n in registry.names()
    ]
    broken = [{"source": b.source, "reason": b.reason} for b in registry.broken]
    communities: list[dict[str, Any]] = []
    data = DataDir(args.data)
    if data.control_socket.exists():
        for entry in control.call(data.control_socket, "community_list"):
            name = entry.get("community")
            try:
                apps = control.call(data.control_socket, "coop_apps", {"community": name})
            except LocalError:
                continue  # a plain community (no apps) or one restarting
            communities.append({"coop": name, "apps": apps})
    result = {"installed": installed, "broken": broken, "cooperatives": communities}
    if args.json:
        out.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
        return 0
    out.write("installed apps:\n")
    for row in installed:
        out.write(f"  {row['name']} {row['version']}  {row['summary']}  ({row['source']})\n")
    for row in broken:
        out.write(f"  BROKEN {row['source']}: {row['reason']}\n")
    for coop in communities:
        out.write(f"cooperative {coop['coop']}:\n")
        for app in coop["apps"]:
            state = "enabled" if app["enabled"] else "disabled"
            if not app["installed"]:
                state += ", not installed here"
            if app["faulted"]:
                state += f", out of service here: {app['faulted']}"
            decision = app.get("decision") or {}
            if decision.get("status") == "refused":
                state += f", decision #{decision['number']} refused by the app: "
                state += f"{decision['reason']}: {decision['detail']}"
            out.write(f"  {app['name']}: {state}  settings {json.dumps(app['settings'])}\n")
    return 0


def _info(registry: AppRegistry, args: argparse.Namespace, out: TextIO) -> int:
    spec = registry.spec(args.name)
    if spec is None:
        raise AppsCliError(f"no app {args.name!r} is installed ({', '.join(registry.names())})")
    result: dict[str, Any] = {
        "name": spec.name,
        "version": spec.version,
        "summary": spec.summary,
        "source": registry.sources[spec.name],
        "params": [_param(p) for p in spec.params],
        "commands": [
            {
                "name": c.name,
                "summary": c.summary,
                "args": list(c.arg_names),
                "arg_kinds": {a.name: a.kind for a in c.arguments},
                "consents": list(c.consents),
                "read_only": c.read_only,
            }
            for c in spec.commands
        ],
        "transactions": [t.__name__ for t in spec.tx_types],
        "lace": spec.uses_lace,
        "signs_automatically": sorted(
            r.__name__ for r, p in spec.lace_records if p in spec.auto_purposes
        ),
        "signs_with_consent": sorted(
            r.__name__ for r, p in spec.lace_records if p in spec.consent_purposes
        ),
    }
    if args.coop:
        data = DataDir(args.data)
        data.require()
        result["in_coop"] = control.call(
            data.control_socket, "coop_app_status", {"community": args.coop, "app": spec.name}
        )
    _print(result, args.json, out)
    return 0


def _param(p: ParamSpec) -> dict[str, Any]:
    return {
        "name": p.name,
        "kind": p.kind,
        "default": p.default,
        "bounds": p.bounds_text(),
        "choices": list(p.choices),
        "summary": p.summary,
    }


def _print(result: Any, as_json: bool, out: TextIO, me: bytes | None = None) -> None:
    if as_json:
        out.write(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
        return
    if isinstance(result, dict) and set(result) == {"result", "submitted"}:
        # an app command's answer, and the cooperative transactions it submitted
        out.write(tree_text(result["result"], me=me) + "\n")
        if result["submitted"]:
            out.write(f"submitted {len(result['submitted'])} transaction(s) to the cooperative\n")
        return
    out.write(tree_text(result, me=me) + "\n")


__all__ = ["AppsCliError", "add_parsers", "is_top_level", "run"]
