"""The node commands of ``peoplenet``: init, node start/stop, friends, post, feed, status,
community."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from peoplenet.actors.member.command_errors import InvalidGenesisFile
from peoplenet.actors.member.commands import DecisionLines
from peoplenet.runtime.cli.format import amount_text, describe_member, fields, table
from peoplenet.runtime.cli.resolve import Namer, name_member, unname, with_petnames
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.local import control
from peoplenet.runtime.local.datadir import DataDir, DataDirError, NodeSettings
from peoplenet.runtime.net.discovery import parse_static_peer
from peoplenet.runtime.wire.codec import Value

Passphrase = Callable[..., str]


def run(
    args: argparse.Namespace,
    passphrase: Passphrase,
    out: TextIO = sys.stdout,
    *,
    decision_lines: DecisionLines | None = None,
) -> int:
    if args.command == "community":
        return _community(args, out)
    data = DataDir(args.data)
    if args.command == "init":
        return _init(args, data, passphrase, out)
    if args.command == "node":
        if args.action == "start":
            return _start(args, data, passphrase, out)
        data.require()
        return _stop(data, out)
    if args.command == "friends" and args.action in ("name", "unname"):
        return _petname(args, out)
    data.require()
    sock = data.control_socket
    if args.command == "status":
        return _show(control.call(sock, "status"), args.json, out, _print_status)
    if args.command == "post":
        post_args: dict[str, Value] = {"text": args.text, "reply": args.reply}
        if args.unsynced:
            post_args["unsynced"] = True
        result = control.call(sock, "post", post_args)
        return _show(
            result, args.json, out, lambda r, o: print(f"posted {_get(r, 'block')}", file=o)
        )
    if args.command == "feed":
        return _show(control.call(sock, "feed", {"limit": args.limit}), args.json, out, _print_feed)
    if args.command == "inbox":
        return _show(
            control.call(sock, "inbox"),
            args.json,
            out,
            lambda r, o: print_inbox(r, o, decision_lines=decision_lines),
        )
    return _friends(args, sock, out)


def _split_hostport(text: str) -> tuple[str, int]:
    try:
        return parse_static_peer(text)
    except ValueError as exc:
        raise LocalError(str(exc)) from exc


def _split_listen(text: str) -> tuple[str, int]:
    """Like a peer address, but port 0 (any free port) is allowed."""
    host, sep, port = text.rpartition(":")
    if sep and port == "0":
        return _split_hostport(f"{host}:1")[0], 0
    return _split_hostport(text)


def _init(args: argparse.Namespace, data: DataDir, passphrase: Passphrase, out: TextIO) -> int:
    from peoplenet.runtime.keys.identity import Identity  # noqa: PLC0415
    from peoplenet.runtime.keys.keyfile import save_identity  # noqa: PLC0415

    if data.exists():
        raise DataDirError(f"{data.root} already holds a node (config.json and identity.key)")
    host, port = _split_listen(args.listen)
    for peer in args.peer:
        _split_hostport(peer)
    settings = NodeSettings(
        network=args.network,
        listen_host=host,
        listen_port=port,
        advertise_host=args.advertise,
        mdns=not args.no_mdns,
        mdns_interfaces=tuple(args.mdns_interface or ("127.0.0.1",)),
        peers=tuple(args.peer),
        auto_accept=args.auto_accept,
    )
    NodeSettings.from_json(settings.to_json())  # the same checks as on start
    identity = Identity.generate()
    secret = passphrase("new passphrase: ", confirm=True)
    for fix in data.create(settings):
        print(f"made private: {fix}", file=out)
    save_identity(data.key_file, identity, secret)
    print(f"member id   {identity.member_id.hex()}", file=out)
    print(f"fingerprint {identity.fingerprint}", file=out)
    print(f"data dir    {data.root}", file=out)
    return 0


def _start(args: argparse.Namespace, data: DataDir, passphrase: Passphrase, out: TextIO) -> int:
    from peoplenet.actors.member.runner import Overrides, run_node  # noqa: PLC0415 - loads thespian

    data.require()
    host: str | None = None
    port: int | None = None
    if args.listen:
        host, port = _split_listen(args.listen)
    for peer in args.peer:
        _split_hostport(peer)
    overrides = Overrides(
        listen_host=host,
        listen_port=port,
        advertise_host=args.advertise,
        peers=tuple(args.peer),
        mdns=False if args.no_mdns else None,
    )
    return run_node(data, passphrase("passphrase: "), overrides, out)


def _petname(args: argparse.Namespace, out: TextIO) -> int:
    namer = Namer(args.data)
    if args.action == "name":
        result = name_member(namer, args.member, args.petname)
        text = f"{result['petname']} now names {result['fingerprint']}"
    else:
        result = unname(namer, args.petname)
        text = f"{result['unnamed']} forgotten"
    return _show(result, args.json, out, lambda _r, o: print(text, file=o))


def _stop(data: DataDir, out: TextIO) -> int:
    """Control socket first, then by PID: returns once no process of the node is left."""
    from peoplenet.runtime.local.procs import stop_node  # noqa: PLC0415

    result = stop_node(data)
    if result.killed:
        print(f"node did not stop in time: killed pids {list(result.killed)}", file=out)
    print("node stopped", file=out)
    return 0


def _friends(args: argparse.Namespace, sock: object, out: TextIO) -> int:
    from pathlib import Path  # noqa: PLC0415

    assert isinstance(sock, Path)
    action = args.action or "list"
    namer = Namer(args.data)
    if action == "list":
        listing = with_petnames(namer, control.call(sock, "friends"))
        return _show(listing, args.json, out, _print_friends)
    if action == "peers":
        return _show(control.call(sock, "peers"), args.json, out, _print_peers)
    if action == "introduce":
        a, b = namer.member_hex(args.a), namer.member_hex(args.b)
        result = control.call(sock, "introduce", {"a": a, "b": b, "note": args.note})
        return _show(
            result,
            args.json,
            out,
            lambda r, o: print(f"introduced {describe_member(a)} and {describe_member(b)}", file=o),
        )
    op = {
        "add": "befriend",
        "accept": "accept",
        "remove": "unfriend",
        "follow": "follow",
        "unfollow": "unfollow",
    }[action]
    member = namer.member_hex(args.member)
    result = control.call(sock, op, {"member": member})
    return _show(
        result,
        args.json,
        out,
        lambda r, o: print(f"{_DONE[action]} {describe_member(member)}", file=o),
    )


_DONE = {
    "add": "asked to be friends with",
    "accept": "accepted",
    "remove": "no longer friends with",
    "follow": "now following",
    "unfollow": "no longer following",
}


def _community(args: argparse.Namespace, out: TextIO) -> int:
    from peoplenet.runtime.consensus.constitution import Constitution, Genesis  # noqa: PLC0415
    from peoplenet.runtime.errors import RemoteProtocolError  # noqa: PLC0415
    from peoplenet.runtime.wire.codec import decode_as, encode  # noqa: PLC0415

    if args.action == "create":
        namer = Namer(args.data)
        members = [namer.member(text) for text in args.member]
        if len(set(members)) != len(members):
            raise LocalError("a member is listed twice")
        name = args.name.encode()
        constitution = Constitution.of(members, timeout_ms=args.timeout_ms)
        genesis = Genesis.first(name, constitution)
        raw = encode(genesis)
        with open(args.out, "wb") as handle:
            handle.write(raw)
        summary = {
            "community": args.name,
            "lace": genesis.lace().hex(),
            "participants": constitution.n,
            "quorum": constitution.quorum,
            "timeout_ms": constitution.timeout_ms,
            "file": str(args.out),
        }
        return _show(summary, args.json, out, _print_status)
    data = DataDir(args.data)
    data.require()
    sock = data.control_socket
    if args.action == "join":
        try:
            with open(args.file, "rb") as handle:
                raw = handle.read(1 << 20)
        except OSError as exc:
            raise InvalidGenesisFile(f"cannot read {args.file}: {exc.strerror or exc}") from None
        try:
            genesis = decode_as(Genesis, raw)
        except RemoteProtocolError as exc:
            raise InvalidGenesisFile(
                f"{args.file} is not a community genesis file: {exc}"
            ) from None
        if genesis.epoch != 0:
            raise InvalidGenesisFile(f"{args.file} is not a first (epoch 0) genesis")
        result = control.call(sock, "community_join", {"genesis": raw})
        return _show(result, args.json, out, _print_status)
    if args.action == "list":
        return _show(control.call(sock, "community_list"), args.json, out, _print_communities)
    which: dict[str, Value] = {"community": args.name}
    if args.action == "submit":
        result = control.call(sock, "community_submit", {**which, "text": args.text})
        return _show(result, args.json, out, _print_status)
    if args.action == "order":
        return _show(control.call(sock, "community_order", which), args.json, out, _print_order)
    return _show(control.call(sock, "community_status", which), args.json, out, _print_status)


def _print_communities(result: Any, out: TextIO) -> None:
    if not isinstance(result, list) or not result:
        print("no community joined", file=out)
        return
    rows = [
        (e.get("community"), e.get("participants"), e.get("quorum"), e.get("lace"))
        for e in result
        if isinstance(e, dict)
    ]
    print(table(("community", "participants", "quorum", "lace"), rows), file=out)


def _print_order(result: Any, out: TextIO) -> None:
    if not isinstance(result, list) or not result:
        print("nothing delivered yet", file=out)
        return
    rows = [
        (
            f"{e.get('epoch')}.{e.get('position')}",
            describe_member(str(e.get("creator", ""))),
            _tx_text(e.get("tx")),
        )
        for e in result
        if isinstance(e, dict)
    ]
    print(table(("at", "by", "transaction"), rows), file=out)


def _tx_text(tx: Any) -> str:
    if isinstance(tx, str):
        return tx
    if isinstance(tx, dict) and set(tx) == {"text"}:
        return str(tx["text"])
    if isinstance(tx, list) and len(tx) == 2 and tx[0] == "text":
        return str(tx[1])
    return json.dumps(_jsonable(tx))


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _show(result: Any, as_json: bool, out: TextIO, pretty: Callable[[Value, TextIO], None]) -> int:
    if as_json:
        print(json.dumps(_jsonable(result), sort_keys=True), file=out)
    else:
        pretty(result, out)
    return 0


def _jsonable(value: Any) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _print_status(result: Any, out: TextIO) -> None:
    if not isinstance(result, dict):
        print(result, file=out)
        return
    pairs: list[tuple[str, object]] = []
    for key in sorted(result):
        value = _jsonable(result[key])
        if key in ("member", "creator") and isinstance(value, str):
            value = describe_member(value)
        elif isinstance(value, dict | list):
            value = json.dumps(value)
        pairs.append((key, value))
    print(fields(pairs), file=out)


_SECTIONS = (
    ("friends", "friends"),
    ("pending", "friend requests to you (accept with `peoplenet friends accept MEMBER`)"),
    ("outgoing", "your requests, not yet accepted"),
    ("follows", "following"),
    ("introductions", "introductions to you"),
)


def _print_friends(result: Any, out: TextIO) -> None:
    if not isinstance(result, dict):
        print(result, file=out)
        return
    known = [key for key, _ in _SECTIONS]
    titles = [*_SECTIONS, *((k, k) for k in sorted(result) if k not in known)]
    for key, title in titles:
        entries = result.get(key)
        if not isinstance(entries, list):
            continue
        print(f"{title}: {len(entries) if entries else 'none'}", file=out)
        for entry in entries:
            print(f"  {_who_text(entry)}", file=out)


def _who_text(entry: Any) -> str:
    if not isinstance(entry, dict):
        return str(_jsonable(entry))
    text = describe_member(str(entry.get("member", "")))
    if entry.get("by"):
        text += f", introduced by {entry.get('by')}"
    return text


def _print_peers(result: Any, out: TextIO) -> None:
    if not isinstance(result, list) or not result:
        print("no peers discovered yet", file=out)
        return
    rows = [
        (describe_member(str(p.get("member"))), f"{p.get('host')}:{p.get('port')}", p.get("source"))
        for p in result
        if isinstance(p, dict)
    ]
    print(table(("member", "address", "found by"), rows), file=out)


def _print_feed(result: Any, out: TextIO) -> None:
    if not isinstance(result, list) or not result:
        print("the feed is empty", file=out)
        return
    for item in result:
        if isinstance(item, dict):
            reply = f" (reply to {item.get('reply_to')})" if item.get("reply_to") else ""
            who = describe_member(str(item.get("member") or item.get("author")))
            print(f"{who}{reply}:\n  {item.get('text')}", file=out)


def print_inbox(result: Any, out: TextIO, *, decision_lines: DecisionLines | None = None) -> None:
    """What waits for the member, section by section; one line when nothing does.

    ``decision_lines`` shows one decision (the cooperative layer's text); without it, JSON.
    """
    lines = decision_lines or _decision_json
    if not isinstance(result, dict):
        print(result, file=out)
        return
    now = result.get("now") if isinstance(result.get("now"), int) else 0
    assert isinstance(now, int)
    requests = _list_of(result.get("friend_requests"))
    intros = _list_of(result.get("introductions"))
    decisions = _list_of(result.get("decisions"))
    apps = _list_of(result.get("app_requests"))
    if not (requests or intros or decisions or apps):
        print("nothing waits for you", file=out)
        return
    if requests:
        print(f"friend requests ({len(requests)}): `peoplenet friends accept MEMBER`", file=out)
        for entry in requests:
            print(f"  {_who_text(entry)}", file=out)
    if intros:
        print(f"introductions ({len(intros)}): `peoplenet friends accept MEMBER`", file=out)
        for entry in intros:
            print(f"  {_who_text(entry)}", file=out)
    if decisions:
        print(
            f"decisions waiting for your ballot ({len(decisions)}): "
            "`peoplenet coop vote COOP NUMBER BALLOT`",
            file=out,
        )
        for d in decisions:
            for line in lines(d, now, coop=str(d.get("coop"))):
                print(f"  {line}", file=out)
    if apps:
        print(f"app requests ({len(apps)}):", file=out)
        for a in apps:
            print(f"  {a.get('coop')} {a.get('app')}:", file=out)
            for item in _list_of(a.get("waiting")) or [a.get("waiting")]:
                print(f"    {_app_item(item)}", file=out)


def _decision_json(d: Any, now_ms: int, coop: str) -> list[str]:
    """A decision as one line of JSON (no cooperative layer to show it better)."""
    return [f"{coop} {json.dumps(_jsonable(d), sort_keys=True)}"]


def _app_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(_jsonable(item))
    parts = []
    for key, value in item.items():
        shown: object = value
        if key in ("from", "to", "member") and isinstance(value, str):
            shown = describe_member(value)
        elif key == "amount" and isinstance(value, int):
            shown = amount_text(value)
        parts.append(f"{key} {shown}")
    return ", ".join(parts)


def _list_of(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []
