"""``peoplenet coop ...``: what a member types to found, join and govern a cooperative.

Founding is offline (the founders pass one file around, each adding a signature with their
key file); everything else talks to the member's running node over its control socket, which
hands the request to the cooperative's consumer (actors/coop/consumer.py).  Points (ballots,
proposals) are given as JSON on the command line, in the same forms as ``peoplenet decide``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TextIO

from peoplenet.actors.coop.charter_json import charter_from_json
from peoplenet.actors.coop.cli_text import (
    decisions_text,
    founding_text,
    joined_text,
    profile_text,
    show_text,
    submission_text,
    vouch_text,
)
from peoplenet.actors.coop.coop_file import CoopFile, read_coop_file, sign_founding, write_coop_file
from peoplenet.actors.coop.profile_file import build_profile, write_profile
from peoplenet.actors.governance.charter import Founding, verify_founding
from peoplenet.runtime.cli.exit import rejection
from peoplenet.runtime.cli.group import Context, Subparsers
from peoplenet.runtime.cli.resolve import Namer, resolve_coop_args
from peoplenet.runtime.errors import LocalError, PeoplenetError
from peoplenet.runtime.local import control
from peoplenet.runtime.local.datadir import DataDir

Passphrase = Callable[..., str]

WAIT_POLL_S: Final = 0.2
DECISION_HELP: Final = "the decision's number (3 or #3)"


class CoopCommandError(LocalError):
    """A ``coop`` command that cannot be carried out as typed."""

    reason = "bad_coop_command"


class FoundingFileExists(CoopCommandError):
    """``coop found --out`` names a file that exists: replacing it could lose signatures."""

    reason = "founding_file_exists"


class CharterUnreadable(CoopCommandError):
    """``--charter`` is neither valid JSON text nor a readable JSON file."""

    reason = "charter_unreadable"


class CoopCommands:
    """``peoplenet coop ...`` and ``peoplenet audit``."""

    def add_parsers(self, sub: Subparsers) -> None:
        add_parser(sub)
        add_audit_parser(sub)

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        if args.command == "audit":
            return run_audit(args, ctx.out)
        return run(args, ctx.passphrase, ctx.out)


def add_parser(sub: Subparsers) -> None:  # noqa: PLR0915
    coop = sub.add_parser("coop", help="found, join and govern a cooperative")
    csub = coop.add_subparsers(dest="action", required=True)

    found = csub.add_parser(
        "found", help="write a founding file signed by you, or add your signature to one"
    )
    _data(found)
    found.add_argument("name", nargs="?", help="the cooperative's name (new founding)")
    found.add_argument(
        "--founder",
        action="extend",
        nargs="+",
        default=[],
        metavar="MEMBER",
        help="every other founder: full id or petname; with the node running, also a "
        "fingerprint or unique prefix (you are always a founder)",
    )
    found.add_argument(
        "--charter", help="the charter: JSON text or a JSON file's path (see docs/governance.md)"
    )
    found.add_argument("--timeout-ms", type=int, default=1000, help="consensus Δ (default 1000)")
    found.add_argument("--sign", metavar="FILE", help="add your signature to this founding file")
    found.add_argument("--out", help="the founding file to write (new founding)")
    found.add_argument("--force", action="store_true", help="replace an existing --out file")
    found.add_argument("--json", action="store_true")

    join = csub.add_parser("join", help="run the cooperative of a founding file on this node")
    _data(join)
    join.add_argument("file")
    join.add_argument("--json", action="store_true")

    vouch = csub.add_parser(
        "vouch", help="a mutual surety: sign your half, or countersign and submit"
    )
    _data(vouch)
    vouch.add_argument("coop")
    who = vouch.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--with", dest="with_member", metavar="MEMBER", help="sign your half (a member name)"
    )
    who.add_argument("--countersign", metavar="HALF", help="complete a half and submit it")
    vouch.add_argument("--json", action="store_true")

    propose = csub.add_parser("propose", help="open a decision")
    _data(propose)
    propose.add_argument("coop")
    propose.add_argument("kind")
    propose.add_argument(
        "subject", help="the subject's name, the member (admission, removal), or the app"
    )
    propose.add_argument("--proposal", help="a first proposal, as JSON")
    propose.add_argument(
        "--candidates",
        nargs="+",
        default=[],
        help="names standing (officer, board); a member's name becomes their full id",
    )
    propose.add_argument("--settings", help="app settings, as a JSON object")
    propose.add_argument(
        "--action",
        dest="app_action",
        help="app: a one-off action on adoption, as JSON (currency: mint)",
    )
    propose.add_argument("--disable", action="store_true", help="app: propose to disable it")
    propose.add_argument("--charter", help="amendment: the new charter, as JSON")
    propose.add_argument("--threshold", help="amendment: new consensus threshold 'n/d'")
    propose.add_argument("--timeout-ms", type=int, help="amendment: new consensus Δ")
    _wait(propose)

    table = csub.add_parser("table", help="table a proposal in an open decision")
    _data(table)
    table.add_argument("coop")
    table.add_argument("decision", help=DECISION_HELP)
    table.add_argument("proposal", help="the proposal, as JSON")
    _wait(table)

    vote = csub.add_parser("vote", help="cast (or replace) your ballot in an open decision")
    _data(vote)
    vote.add_argument("coop")
    vote.add_argument("decision", help=DECISION_HELP)
    vote.add_argument("ballot", help="your ideal point, as JSON (a number, a list, true...)")
    _wait(vote)

    close = csub.add_parser("close", help="ask to close a decision whose time is up")
    _data(close)
    close.add_argument("coop")
    close.add_argument("decision", help=DECISION_HELP)
    _wait(close)

    contribute = csub.add_parser("contribute", help="record your hours for a period")
    _data(contribute)
    contribute.add_argument("coop")
    contribute.add_argument("period")
    contribute.add_argument("hours", type=int)
    _wait(contribute)

    distribute = csub.add_parser("distribute", help="share a period's surplus pro rata")
    _data(distribute)
    distribute.add_argument("coop")
    distribute.add_argument("period")
    _wait(distribute)

    decisions = csub.add_parser("decisions", help="open and closed decisions")
    _data(decisions)
    decisions.add_argument("coop")
    decisions.add_argument("--json", action="store_true")

    show = csub.add_parser("show", help="members, parameters, officers, apps and more")
    _data(show)
    show.add_argument("coop")
    show.add_argument("--json", action="store_true")

    profile = csub.add_parser(
        "profile", help="write the cooperative's public profile, for customers to import"
    )
    _data(profile)
    profile.add_argument("coop")
    profile.add_argument("--out", required=True, help="the profile file to write")
    profile.add_argument("--json", action="store_true")


def add_audit_parser(sub: Subparsers) -> None:
    audit = sub.add_parser(
        "audit", help="recompute a cooperative from its signed blocks and report mismatches"
    )
    _data(audit)
    audit.add_argument("coop")
    audit.add_argument("--json", action="store_true")


def run_audit(args: argparse.Namespace, out: TextIO) -> int:
    """Exit 0 when the recomputation matches, 1 when it found a mismatch."""
    from peoplenet.actors.coop.audit import audit  # noqa: PLC0415

    data = DataDir(args.data)
    data.require()
    live: dict[str, Any] | None = None
    try:
        shown = control.call(data.control_socket, "coop_show", {"community": args.coop})
        live = shown if isinstance(shown, dict) else None
    except control.NodeNotRunning:
        live = None
    report = audit(data, args.coop, live).as_json()
    if args.json:
        print(json.dumps(report, sort_keys=True), file=out)
    else:
        verdict = "matches" if report["ok"] else "MISMATCH"
        print(
            f"{report['community']}: {report['transactions']} transactions in "
            f"{report['epochs']} epoch(s), {report['decisions']} decisions recomputed: {verdict}",
            file=out,
        )
        for problem in report["mismatches"]:
            print(f"  {problem}", file=out)
    return 0 if report["ok"] else 1


def _data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=os.environ.get("PEOPLENET_DATA", os.path.expanduser("~/.peoplenet")),
        help="the node's data directory (default $PEOPLENET_DATA or ~/.peoplenet)",
    )


def _wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait until the transaction is ordered (and say what became of it)",
    )
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, passphrase: Passphrase, out: TextIO) -> int:
    data = DataDir(args.data)
    if args.action == "found":
        return _found(args, data, passphrase, out)
    data.require()
    sock = data.control_socket
    if args.action == "join":
        coop = read_coop_file(Path(args.file))
        verify_founding(coop.complete())
        result = control.call(
            sock,
            "community_join",
            {
                "genesis": coop.genesis_bytes(),
                "founding": coop.founding_bytes(),
                "name": coop.founding.name,
            },
        )
        return _show(result, args.json, out, lambda r, o: _say(joined_text(r), o))
    which: dict[str, Any] = {"community": args.coop}
    resolve_coop_args(args, Namer(args.data))
    if args.action == "decisions":
        now = _now_ms()
        return _show(
            control.call(sock, "coop_decisions", which),
            args.json,
            out,
            lambda r, o: _say(decisions_text(r if isinstance(r, list) else [], now), o),
        )
    if args.action == "show":
        me = _me(data)
        return _show(
            control.call(sock, "coop_show", which),
            args.json,
            out,
            lambda r, o: _say(show_text(r, me) if isinstance(r, dict) else str(r), o),
        )
    if args.action == "profile":
        return _profile(args, data, which, out)
    if args.action == "vouch":
        if args.with_member:
            result = control.call(sock, "coop_vouch", {**which, "member": args.with_member})
        else:
            half = {"half": args.countersign, "check": True}
            result = control.call(sock, "coop_countersign", {**which, **half})
        return _show(result, args.json, out, lambda r, o: _say(vouch_text(r), o))
    op, extra = _submission(args)
    # Without --wait the member would never hear of a rejection: the node checks first.
    check = {"check": True} if args.wait <= 0 else {}
    result = control.call(sock, op, {**which, **extra, **check})
    if args.wait > 0 and isinstance(result, dict) and isinstance(result.get("key"), str):
        result = _wait_for(sock, which, result["key"], args.wait)
    _show(result, args.json, out, lambda r, o: _say(submission_text(r), o))
    refused = rejection(result)
    if refused is not None:
        raise refused
    return 0


def _say(text: str, out: TextIO) -> None:
    print(text, file=out)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _me(data: DataDir) -> bytes | None:
    """This node's member id (from the key file, no passphrase needed), to mark "you"."""
    from peoplenet.runtime.keys.keyfile import read_member_id  # noqa: PLC0415

    try:
        return bytes(read_member_id(data.key_file))
    except PeoplenetError:
        return None


def _submission(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    if args.action == "propose":
        extra: dict[str, Any] = {"kind": args.kind, "subject": args.subject}
        for key in ("proposal", "settings", "charter", "threshold"):
            value = getattr(args, key)
            if value is not None:
                extra[key] = value
        if args.charter is not None and not args.charter.lstrip().startswith("{"):
            _charter_json(args.charter)  # a path: say here if it cannot be read or parsed
            extra["charter"] = Path(args.charter).read_text(encoding="utf-8")
        if args.app_action is not None:
            extra["action"] = args.app_action
        if args.candidates:
            extra["candidates"] = list(args.candidates)
        if args.timeout_ms is not None:
            extra["timeout_ms"] = args.timeout_ms
        if args.disable:
            extra["disable"] = True
        return "coop_propose", extra
    if args.action == "table":
        return "coop_table", {"decision": args.decision, "proposal": args.proposal}
    if args.action == "vote":
        return "coop_vote", {"decision": args.decision, "ballot": args.ballot}
    if args.action == "close":
        return "coop_close", {"decision": args.decision}
    if args.action == "contribute":
        return "coop_contribute", {"period": args.period, "hours": args.hours}
    return "coop_distribute", {"period": args.period}


def _wait_for(sock: Path, which: dict[str, Any], key: str, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = control.call(sock, "coop_tx", {**which, "key": key})
        if isinstance(result, dict) and result.get("status") != "pending":
            return result
        if time.monotonic() >= deadline:
            return result
        time.sleep(WAIT_POLL_S)


def _found(args: argparse.Namespace, data: DataDir, passphrase: Passphrase, out: TextIO) -> int:
    from peoplenet.runtime.keys.keyfile import load_identity  # noqa: PLC0415

    data.require()
    if args.out and not args.sign and Path(args.out).exists() and not args.force:
        raise FoundingFileExists(
            f"{args.out} already exists and may hold founders' signatures: to add yours run "
            f"`peoplenet coop found --sign {args.out}`; to replace it, add --force"
        )
    charter_json = _charter_json(args.charter) if args.charter else {}
    identity = load_identity(data.key_file, passphrase("passphrase: "))
    if args.sign:
        coop = sign_founding(read_coop_file(Path(args.sign)), identity)
        write_coop_file(Path(args.sign), coop)
        return _show(_founding_summary(coop, args.sign), args.json, out, _print_founding)
    if not args.name or not args.out:
        raise CoopCommandError("a new founding needs a NAME and --out FILE (or --sign FILE)")
    namer = Namer(args.data)
    founders = {namer.member(text) for text in args.founder}
    founders.add(bytes(identity.member_id))
    charter = charter_from_json(charter_json)
    unsigned = Founding(args.name, charter, tuple(sorted(founders)), int(time.time() * 1000), ())
    coop = sign_founding(CoopFile(unsigned, args.timeout_ms), identity)
    write_coop_file(Path(args.out), coop)
    return _show(_founding_summary(coop, args.out), args.json, out, _print_founding)


def _profile(args: argparse.Namespace, data: DataDir, which: dict[str, Any], out: TextIO) -> int:
    """``coop profile``: the cooperative as this running node knows it, written for customers."""
    sock = data.control_socket
    shown = control.call(sock, "coop_show", which)
    status = control.call(sock, "status")
    peers = control.call(sock, "peers")
    if not isinstance(shown, dict) or not isinstance(status, dict):
        raise CoopCommandError("the node did not describe the cooperative")
    listen = str(status.get("listen", ""))
    mine = (data.settings().advertise_host, int(listen.rsplit(":", 1)[1])) if listen else None
    me = bytes.fromhex(str(status.get("member", "")))
    made = build_profile(shown, peers if isinstance(peers, list) else [], me, mine, _now_ms())
    write_profile(Path(args.out), made)
    summary = {**made.view(), "file": args.out}
    return _show(summary, args.json, out, lambda r, o: _say(profile_text(r), o))


def _print_founding(summary: Any, out: TextIO) -> None:
    _say(founding_text(summary) if isinstance(summary, dict) else str(summary), out)


def _founding_summary(coop: CoopFile, path: str) -> dict[str, Any]:
    f = coop.founding
    signed = {bytes(m) for m in coop.signers()}
    return {
        "coop": f.name,
        "file": path,
        "lace": coop.genesis().lace().hex(),
        "founders": [m.hex() for m in f.founders],
        "unsigned": [m.hex() for m in f.founders if m not in signed],
        "complete": len(signed) == len(f.founders),
    }


def _charter_json(text: str) -> Any:
    """``--charter``: JSON text (it starts with ``{``) or the path of a JSON file."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            raise CharterUnreadable(f"--charter is not valid JSON text: {exc}") from None
    try:
        with open(text, encoding="utf-8") as handle:
            raw = handle.read()
    except OSError as exc:
        raise CharterUnreadable(
            f"--charter {text!r} is not JSON text (it does not start with '{{') and not a "
            f"readable file: {exc.strerror or exc}"
        ) from None
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        raise CharterUnreadable(f"the charter file {text} is not valid JSON: {exc}") from None


def _show(
    result: Any, as_json: bool, out: TextIO, pretty: Callable[[Any, TextIO], None] | None = None
) -> int:
    if as_json:
        print(json.dumps(_jsonable(result), sort_keys=True), file=out)
    elif pretty is not None:
        pretty(result, out)
    else:
        _print_tree(_jsonable(result), out, 0)
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _print_tree(value: Any, out: TextIO, indent: int) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            if isinstance(item, dict | list) and item and not _flat(item):
                print(f"{pad}{key}:", file=out)
                _print_tree(item, out, indent + 1)
            else:
                print(f"{pad}{key}: {json.dumps(item)}", file=out)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                print(f"{pad}-", file=out)
                _print_tree(item, out, indent + 1)
            else:
                print(f"{pad}- {json.dumps(item)}", file=out)
    else:
        print(f"{pad}{json.dumps(value)}", file=out)


def _flat(value: dict[str, Any] | list[Any]) -> bool:
    items: Sequence[Any] = list(value.values()) if isinstance(value, dict) else value
    return len(items) <= 8 and all(not isinstance(v, dict | list) for v in items)
