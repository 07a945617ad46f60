"""The ``peoplenet`` command: the outermost shell, so it may import every layer (lazily)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence

from runtime import log
from runtime.errors import KeyFileError, LocalError, PeoplenetError

PASSPHRASE_ENV = "PEOPLENET_PASSPHRASE"  # noqa: S105 - a variable name, not a secret


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peoplenet", description="Platform cooperatives on their members' phones."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("demo", help="run the local demo: members sign and exchange blocks")

    ident = sub.add_parser("identity", help="create or inspect a member key file")
    ident_sub = ident.add_subparsers(dest="action", required=True)
    create = ident_sub.add_parser("create", help="create a new key pair in an encrypted file")
    create.add_argument("path")
    create.add_argument("--force", action="store_true", help="replace an existing file")
    show = ident_sub.add_parser("show", help="print the member id of a key file")
    show.add_argument("path")
    show.add_argument("--unlock", action="store_true", help="also check the passphrase")

    bench = sub.add_parser("bench", help="benchmarks that print JSON with a ratio to a ceiling")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    ingest = bench_sub.add_parser("ingest", help="decode, verify, store and index blocks")
    ingest.add_argument("--blocks", type=int, default=20_000)
    ingest.add_argument(
        "--workers", type=int, default=2, help="verification processes (0: verify inline)"
    )
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _passphrase(prompt: str, *, confirm: bool = False) -> str:
    """From $PEOPLENET_PASSPHRASE (scripts) or the terminal (people)."""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env is not None:
        return from_env
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != first:
        raise LocalError("the two passphrases differ")
    return first


def _identity(args: argparse.Namespace) -> int:
    from runtime.identity import Identity, fingerprint  # noqa: PLC0415 - keep start-up fast
    from runtime.keyfile import load_identity, read_member_id, save_identity  # noqa: PLC0415

    if args.action == "create":
        identity = Identity.generate()
        save_identity(
            args.path,
            identity,
            _passphrase("new passphrase: ", confirm=True),
            overwrite=args.force,
        )
        print(f"member id {identity.member_id.hex()}\nfingerprint {identity.fingerprint}")
        return 0
    mid = read_member_id(args.path)
    if args.unlock:
        load_identity(args.path, _passphrase("passphrase: "))
    print(f"member id {mid.hex()}\nfingerprint {fingerprint(mid)}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from bench import ingest  # noqa: PLC0415 - benchmarks load only when asked for

    if args.blocks < 1 or args.workers < 0:
        raise LocalError("--blocks must be positive and --workers at least 0")
    result = ingest.run(args.blocks, workers=args.workers)
    if args.json:
        print(json.dumps(result.as_json()))
    else:
        for key, value in result.as_json().items():
            print(f"{key:>18}: {value}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    log.configure()
    try:
        if args.command == "demo":
            from runtime import demo  # noqa: PLC0415

            return demo.main(sys.stdout)
        if args.command == "identity":
            return _identity(args)
        return _bench(args)
    except KeyFileError as exc:
        print(f"peoplenet: {exc}", file=sys.stderr)
        return 2
    except PeoplenetError as exc:
        print(f"peoplenet: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
