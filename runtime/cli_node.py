"""The node commands of ``peoplenet``: init, node start/stop, friends, post, feed, status."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from runtime import control
from runtime.codec import Value
from runtime.datadir import DataDir, DataDirError, NodeSettings
from runtime.discovery import parse_static_peer
from runtime.errors import LocalError

Passphrase = Callable[..., str]


def run(args: argparse.Namespace, passphrase: Passphrase, out: TextIO = sys.stdout) -> int:
    data = DataDir(args.data)
    if args.command == "init":
        return _init(args, data, passphrase, out)
    if args.command == "node":
        if args.action == "start":
            return _start(args, data, passphrase, out)
        data.require()
        control.call(data.control_socket, "stop")
        print("node stopping", file=out)
        return 0
    data.require()
    sock = data.control_socket
    if args.command == "status":
        return _show(control.call(sock, "status"), args.json, out, _print_status)
    if args.command == "post":
        result = control.call(sock, "post", {"text": args.text, "reply": args.reply})
        return _show(
            result, args.json, out, lambda r, o: print(f"posted {_get(r, 'block')}", file=o)
        )
    if args.command == "feed":
        return _show(control.call(sock, "feed", {"limit": args.limit}), args.json, out, _print_feed)
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
    from runtime.identity import Identity  # noqa: PLC0415
    from runtime.keyfile import save_identity  # noqa: PLC0415

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
    data.create(settings)
    save_identity(data.key_file, identity, secret)
    print(f"member id   {identity.member_id.hex()}", file=out)
    print(f"fingerprint {identity.fingerprint}", file=out)
    print(f"data dir    {data.root}", file=out)
    return 0


def _start(args: argparse.Namespace, data: DataDir, passphrase: Passphrase, out: TextIO) -> int:
    from runtime.node_runner import Overrides, run_node  # noqa: PLC0415 - loads thespian

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


def _friends(args: argparse.Namespace, sock: object, out: TextIO) -> int:
    from pathlib import Path  # noqa: PLC0415

    assert isinstance(sock, Path)
    action = args.action or "list"
    if action == "list":
        return _show(control.call(sock, "friends"), args.json, out, _print_friends)
    if action == "peers":
        return _show(control.call(sock, "peers"), args.json, out, _print_peers)
    if action == "introduce":
        result = control.call(sock, "introduce", {"a": args.a, "b": args.b, "note": args.note})
        return _show(result, args.json, out, lambda r, o: print("introduced", file=o))
    op = {
        "add": "befriend",
        "accept": "accept",
        "remove": "unfriend",
        "follow": "follow",
        "unfollow": "unfollow",
    }[action]
    result = control.call(sock, op, {"member": args.member})
    return _show(result, args.json, out, lambda r, o: print(f"{action}: done", file=o))


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
    for key in sorted(result):
        print(f"{key:>14}: {_jsonable(result[key])}", file=out)


def _print_friends(result: Any, out: TextIO) -> None:
    if not isinstance(result, dict):
        print(result, file=out)
        return
    for section in sorted(result):
        entries = result[section]
        print(f"{section}:", file=out)
        if not isinstance(entries, list) or not entries:
            print("  (none)", file=out)
            continue
        for entry in entries:
            print(f"  {_jsonable(entry)}", file=out)


def _print_peers(result: Any, out: TextIO) -> None:
    if not isinstance(result, list) or not result:
        print("no peers discovered yet", file=out)
        return
    for peer in result:
        if isinstance(peer, dict):
            print(
                f"{peer.get('fingerprint')}  {peer.get('host')}:{peer.get('port')}"
                f"  ({peer.get('source')})  {peer.get('member')}",
                file=out,
            )


def _print_feed(result: Any, out: TextIO) -> None:
    if not isinstance(result, list) or not result:
        print("the feed is empty", file=out)
        return
    for item in result:
        if isinstance(item, dict):
            reply = f" (reply to {item.get('reply_to')})" if item.get("reply_to") else ""
            print(f"[{item.get('author')}] {item.get('text')}{reply}", file=out)
