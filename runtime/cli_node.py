"""The node commands of ``peoplenet``: init, node start/stop, friends, post, feed, status,
community."""

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


class UnknownCommunity(LocalError):
    """The node has joined no community of that name (or lace prefix)."""


class InvalidGenesisFile(LocalError):
    """The file given to ``community join`` is not a community's epoch-0 genesis."""


_TYPED_KINDS: dict[str, type[LocalError]] = {
    "UnknownCommunity": UnknownCommunity,
    "InvalidGenesisFile": InvalidGenesisFile,
}


def run(args: argparse.Namespace, passphrase: Passphrase, out: TextIO = sys.stdout) -> int:
    if args.command == "community":
        try:
            return _community(args, out)
        except control.ControlError as exc:
            typed = _TYPED_KINDS.get(exc.kind)
            if typed is None:
                raise
            raise typed(str(exc)) from None
    data = DataDir(args.data)
    if args.command == "init":
        return _init(args, data, passphrase, out)
    if args.command == "node":
        if args.action == "start":
            return _start(args, data, passphrase, out)
        data.require()
        return _stop(data, out)
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


def _stop(data: DataDir, out: TextIO) -> int:
    """Control socket first, then by PID: returns once no process of the node is left."""
    from runtime.node_procs import stop_node  # noqa: PLC0415

    result = stop_node(data)
    if result.killed:
        print(f"node did not stop in time: killed pids {list(result.killed)}", file=out)
    print("node stopped", file=out)
    return 0


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


def _community(args: argparse.Namespace, out: TextIO) -> int:
    from runtime.codec import decode_as, encode  # noqa: PLC0415
    from runtime.consensus.constitution import Constitution, Genesis  # noqa: PLC0415
    from runtime.errors import RemoteProtocolError  # noqa: PLC0415
    from runtime.identity import member_id  # noqa: PLC0415

    if args.action == "create":
        members: list[bytes] = []
        for text in args.member:
            try:
                members.append(bytes(member_id(bytes.fromhex(text.strip()))))
            except ValueError as exc:
                raise LocalError(f"--member {text!r} is not a 64-hex member id: {exc}") from None
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
    for entry in result:
        if isinstance(entry, dict):
            print(f"{entry.get('community')}  {entry.get('lace')}", file=out)


def _print_order(result: Any, out: TextIO) -> None:
    if not isinstance(result, list) or not result:
        print("nothing delivered yet", file=out)
        return
    for entry in result:
        if isinstance(entry, dict):
            creator = str(entry.get("creator", ""))[:16]
            tx = json.dumps(_jsonable(entry.get("tx")))
            print(f"{entry.get('epoch')}.{entry.get('position'):<5} {creator}  {tx}", file=out)


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
