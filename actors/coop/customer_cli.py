"""``peoplenet customer ...``: what a customer types -- import a profile, request, check.

A customer is a person with their own data directory and key (``peoplenet init``) who reaches
a cooperative without joining it (docs/work-kit.md#customers).  ``import`` keeps a
cooperative's profile in ``DATA/customer/``; ``request`` signs an app request with the
customer's key and hands it to one member's node; ``status`` asks members' nodes for receipts
and accepts an outcome only once more than a third of the profile's members signed it.
Nothing here needs a running node of the customer's: each command dials the members itself.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, Final, TextIO

from peoplenet.actors.coop.customer_client import Answer, Target, hand_over
from peoplenet.actors.coop.profile_file import ProfileFileError, read_profile, write_profile
from peoplenet.actors.work.customers import CustomerRequest, sign_request
from peoplenet.actors.work.profile import CoopProfile
from peoplenet.actors.work.receipts import (
    ConflictingReceipts,
    CustomerReceipt,
    ReceiptQuery,
    tally,
)
from peoplenet.runtime.cli.exit import ActionRefused
from peoplenet.runtime.cli.group import Context, Passphrase, Subparsers
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.keys.keyfile import load_identity
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.wire.codec import Value, decode_as, encode

FOLDER: Final = "customer"
POLL_S: Final = 0.5


class CustomerCommandError(LocalError):
    """A ``customer`` command that cannot be carried out as typed."""

    reason = "bad_customer_command"


class UnknownCoop(CustomerCommandError):
    """No imported profile matches the name given."""

    reason = "unknown_coop"


class NoCarrier(CustomerCommandError):
    """No member's node of the profile could be reached to carry the request."""

    reason = "no_carrier"


class CustomerCommands:
    """``peoplenet customer ...``."""

    def add_parsers(self, sub: Subparsers) -> None:
        add_parser(sub)

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        return run(args, ctx.passphrase, ctx.out)


def add_parser(sub: Subparsers) -> None:
    customer = sub.add_parser(
        "customer", help="reach a cooperative as its customer: import, request, status"
    )
    csub = customer.add_subparsers(dest="action", required=True)
    imp = csub.add_parser("import", help="keep a cooperative's profile (from `coop profile`)")
    _data(imp)
    imp.add_argument("file")
    coops = csub.add_parser("coops", help="the cooperatives whose profile you imported")
    _data(coops)
    request = csub.add_parser("request", help="sign a request to a cooperative's app, send it")
    _data(request)
    request.add_argument("coop", help="the cooperative's name or community id (hex prefix)")
    request.add_argument("app")
    request.add_argument("--body", required=True, help="the app's request, as JSON")
    request.add_argument("--seq", type=int, help="the sequence number (default: the next)")
    request.add_argument("--via", help="the member whose node carries it (hex prefix)")
    resend = csub.add_parser("resend", help="send a request you made before again, unchanged")
    _data(resend)
    resend.add_argument("coop")
    resend.add_argument("request", help="the request's digest (hex), as `request` printed it")
    resend.add_argument("--via", help="the member whose node carries it (hex prefix)")
    status = csub.add_parser("status", help="what became of a request: members' receipts")
    _data(status)
    status.add_argument("coop")
    status.add_argument("request", help="the request's digest (hex)")
    status.add_argument(
        "--event", default="", help="a later event the app declares (assigned, finished...)"
    )
    status.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")
    for parser in (imp, coops, request, resend, status):
        parser.add_argument("--json", action="store_true")


def _data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default=os.environ.get("PEOPLENET_DATA", os.path.expanduser("~/.peoplenet")),
        help="your data directory (default $PEOPLENET_DATA or ~/.peoplenet)",
    )


def run(args: argparse.Namespace, passphrase: Passphrase, out: TextIO) -> int:
    data = DataDir(args.data)
    data.require()
    folder = data.root / FOLDER
    if args.action == "import":
        profile = read_profile(Path(args.file))
        folder.mkdir(exist_ok=True)
        stored = folder / f"{profile.community.hex()}.profile"
        write_profile(stored, profile)
        return _show({**profile.view(), "file": str(stored)}, args.json, out, _profile_line)
    if args.action == "coops":
        listing = [p.view() for p in _profiles(folder)]
        return _show(listing, args.json, out, _profile_lines)
    profile = _profile(folder, args.coop)
    if args.action == "status":
        return _status(args, data, profile, passphrase, out)
    identity = load_identity(data.key_file, passphrase("passphrase: "))
    if args.action == "request":
        req = _new_request(args, folder, profile, identity)
    else:
        req = _stored_request(folder, args.request)
    answer = _carry(identity, data, profile, req, args.via)
    receipt = answer.receipt
    assert receipt is not None
    result = {
        "request": req.digest.hex(),
        "coop": profile.name,
        "app": req.app,
        "seq": req.seq,
        "carrier": answer.target.member.hex(),
        "status": receipt.status,
        "detail": receipt.detail,
    }
    _show(result, args.json, out, _request_line)
    if receipt.status != "submitted":
        reason, _, detail = receipt.detail.partition(": ")
        raise ActionRefused(f"the carrier refused the request: {reason} ({detail})", reason)
    return 0


def _new_request(
    args: argparse.Namespace, folder: Path, profile: CoopProfile, identity: Identity
) -> CustomerRequest:
    try:
        body = _canonical(json.loads(args.body))
    except ValueError as exc:
        raise CustomerCommandError(f"--body is not JSON: {exc}") from None
    if args.app not in profile.apps:
        known = ", ".join(profile.apps) or "none"
        raise CustomerCommandError(f"{profile.name} runs no app {args.app!r} (it runs {known})")
    counters = folder / f"{profile.community.hex()}.seq.json"
    last = _read_json(counters).get(args.app, 0)
    seq = args.seq if args.seq is not None else max(int(last) + 1, 1)
    req = sign_request(identity, profile.community, args.app, seq, encode(body))
    sent = folder / "requests"
    sent.mkdir(exist_ok=True)
    (sent / f"{req.digest.hex()}.request").write_bytes(encode(req))
    counts = _read_json(counters)
    counts[args.app] = max(seq, int(counts.get(args.app, 0)))
    counters.write_text(json.dumps(counts, sort_keys=True), encoding="utf-8")
    return req


def _stored_request(folder: Path, digest: str) -> CustomerRequest:
    prefix = digest.lower()
    if len(prefix) < 8 or not all(c in "0123456789abcdef" for c in prefix):
        raise CustomerCommandError("a request is named by its digest: at least 8 hex digits")
    matches = sorted((folder / "requests").glob(f"{prefix}*.request"))
    if len(matches) != 1:
        raise CustomerCommandError(f"no single request of yours starts with {digest!r}")
    return decode_as(CustomerRequest, matches[0].read_bytes())


def _carry(
    identity: Identity, data: DataDir, profile: CoopProfile, req: CustomerRequest, via: str | None
) -> Answer:
    """Hand ``req`` to one member's node: ``via``, or each reachable one in turn."""
    wanted = (via or "").lower()
    candidates = [m for m in profile.reachable() if m.member.hex().startswith(wanted)]
    if not candidates:
        raise NoCarrier(f"no member's node of {profile.name} to hand the request to")
    tried = []
    for m in candidates:
        answer = hand_over(
            identity, data.settings().network_id, [Target(m.member, m.host, m.port)], req
        )[0]
        if answer.receipt is not None:
            return answer
        tried.append(f"{m.member.hex()[:16]}: {answer.error}")
    raise NoCarrier("no member's node answered: " + "; ".join(tried))


def _status(
    args: argparse.Namespace,
    data: DataDir,
    profile: CoopProfile,
    passphrase: Passphrase,
    out: TextIO,
) -> int:
    try:
        request = bytes.fromhex(args.request)
    except ValueError:
        raise CustomerCommandError("the request is its digest, in hex") from None
    identity = load_identity(data.key_file, passphrase("passphrase: "))
    targets = [Target(m.member, m.host, m.port) for m in profile.reachable()]
    deadline = time.monotonic() + args.wait
    while True:
        query = ReceiptQuery(profile.community, request, args.event)
        answers = hand_over(identity, data.settings().network_id, targets, query)
        receipts = [a.receipt for a in answers if a.receipt is not None]
        try:
            counted = tally(receipts, profile.member_ids, request, event=args.event)
        except ConflictingReceipts as exc:
            raise CustomerCommandError(f"members signed conflicting outcomes: {exc}") from None
        if counted.accepted is not None or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    result = _status_result(request, counted.accepted, receipts, answers)
    result["event"] = args.event
    result.update(signers=counted.signers, needed=counted.needed, members=len(profile.members))
    return _show(result, args.json, out, _status_line)


def _status_result(
    request: bytes,
    accepted: CustomerReceipt | None,
    receipts: list[CustomerReceipt],
    answers: list[Answer],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "request": request.hex(),
        "accepted": accepted is not None,
        "asked": len(answers),
        "answered": len(receipts),
        "unreachable": [a.target.member.hex() for a in answers if a.receipt is None],
    }
    if accepted is not None:
        out.update(
            status=accepted.status,
            detail=accepted.detail,
            epoch=accepted.epoch,
            position=accepted.position,
            app=accepted.app,
        )
    return out


def _profiles(folder: Path) -> list[CoopProfile]:
    found = []
    for path in sorted(folder.glob("*.profile")):
        try:
            found.append(read_profile(path))
        except ProfileFileError:
            continue
    return found


def _profile(folder: Path, name: str) -> CoopProfile:
    profiles = _profiles(folder)
    matches = [p for p in profiles if p.name == name] or [
        p for p in profiles if p.community.hex().startswith(name.lower())
    ]
    if len(matches) != 1:
        known = ", ".join(sorted(p.name for p in profiles)) or "none imported"
        raise UnknownCoop(f"no single cooperative {name!r} among your profiles ({known})")
    return matches[0]


def _canonical(value: Any) -> Value:
    """JSON as a codec value: lists become tuples (the codec's arrays); floats are refused."""
    if isinstance(value, list):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, float):
        raise CustomerCommandError("--body has a fraction: use whole numbers or text")
    return value  # type: ignore[no-any-return]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _show(result: Any, as_json: bool, out: TextIO, pretty: Any) -> int:
    if as_json:
        print(json.dumps(result, sort_keys=True), file=out)
    else:
        pretty(result, out)
    return 0


def _profile_line(p: dict[str, Any], out: TextIO) -> None:
    where = f"{p['file']}: " if p.get("file") else ""
    apps = ", ".join(p["apps"]) or "no apps"
    print(
        f"{where}{p['coop']} ({len(p['members'])} members; {apps}); "
        f"profile fingerprint {p['fingerprint']}",
        file=out,
    )


def _profile_lines(profiles: list[dict[str, Any]], out: TextIO) -> None:
    for p in profiles:
        _profile_line(p, out)
    if not profiles:
        print("no profile imported yet: `peoplenet customer import FILE`", file=out)


def _request_line(r: dict[str, Any], out: TextIO) -> None:
    said = r["status"] + (f" ({r['detail']})" if r["detail"] else "")
    print(f"request {r['request']} (seq {r['seq']}) to {r['app']}: {said}", file=out)


def _status_line(r: dict[str, Any], out: TextIO) -> None:
    if r["accepted"]:
        what = r["status"] + (f" ({r['detail']})" if r["detail"] else "")
        where = f"at {r['epoch']}:{r['position']}"
        print(f"{what} {where}: signed by {r['signers']} of {r['members']} members", file=out)
    else:
        print(
            f"no outcome yet: {r['signers']} of the {r['needed']} signatures needed "
            f"({r['answered']} of {r['asked']} members answered)",
            file=out,
        )


__all__ = ["CustomerCommands", "add_parser", "run"]
