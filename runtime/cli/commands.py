"""The runtime's own commands: ``demo``, ``identity`` and ``sim``.

``peoplenet demo --simulated`` is the runtime's (an in-process simulated network); plain
``peoplenet demo`` runs real nodes and the layers above them, so its runner is given from above
(:class:`DemoCommands` ``real``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Protocol

from peoplenet.runtime.cli.group import Context, DemoRunner, Passphrase, Subparsers
from peoplenet.runtime.errors import LocalError


class NoRealDemo(LocalError):
    """``peoplenet demo`` was composed without a real-node demo."""

    reason = "no_real_demo"


class DemoCommands:
    """``peoplenet demo [--simulated]``."""

    def __init__(self, real: DemoRunner | None = None) -> None:
        self.real = real

    def add_parsers(self, sub: Subparsers) -> None:
        demo = sub.add_parser(
            "demo",
            help="five real nodes on loopback: discovery, friends, posts, crash and catch-up",
        )
        demo.add_argument(
            "--simulated",
            action="store_true",
            help="the in-process simulated network demo instead (blocks, sync, partitions)",
        )

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        if args.simulated:
            from peoplenet.runtime.sim import demo  # noqa: PLC0415 - keep start-up fast

            return demo.main(ctx.out)
        if self.real is None:
            raise NoRealDemo("this command line has no real-node demo; try --simulated")
        return self.real(ctx.out)


class IdentityCommands:
    """``peoplenet identity create|show``: a member's encrypted key file."""

    def add_parsers(self, sub: Subparsers) -> None:
        ident = sub.add_parser("identity", help="create or inspect a member key file")
        ident_sub = ident.add_subparsers(dest="action", required=True)
        create = ident_sub.add_parser("create", help="create a new key pair in an encrypted file")
        create.add_argument("path")
        create.add_argument("--force", action="store_true", help="replace an existing file")
        show = ident_sub.add_parser("show", help="print the member id of a key file")
        show.add_argument("path")
        show.add_argument("--unlock", action="store_true", help="also check the passphrase")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        return _identity(args, ctx.passphrase)


def _identity(args: argparse.Namespace, passphrase: Passphrase) -> int:
    from peoplenet.runtime.keys.identity import Identity, fingerprint  # noqa: PLC0415 - keep start-up fast
    from peoplenet.runtime.keys.keyfile import load_identity, read_member_id, save_identity  # noqa: PLC0415

    if args.action == "create":
        identity = Identity.generate()
        save_identity(
            args.path,
            identity,
            passphrase("new passphrase: ", confirm=True),
            overwrite=args.force,
        )
        print(f"member id {identity.member_id.hex()}\nfingerprint {identity.fingerprint}")
        return 0
    mid = read_member_id(args.path)
    if args.unlock:
        load_identity(args.path, passphrase("passphrase: "))
    print(f"member id {mid.hex()}\nfingerprint {fingerprint(mid)}")
    return 0


class SimCommand(Protocol):
    """One more ``peoplenet sim NAME`` from a layer above (e.g. a city of an app's users)."""

    name: str
    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, ctx: Context) -> int: ...


class SimCommands:
    """``peoplenet sim consensus``: deterministic simulations of the protocols; ``extra``
    adds the simulations of the layers above (registered from above, ``peoplenet/main.py``)."""

    def __init__(self, extra: Sequence[SimCommand] = ()) -> None:
        self.extra = {c.name: c for c in extra}

    def add_parsers(self, sub: Subparsers) -> None:
        sim = sub.add_parser("sim", help="deterministic simulations of the protocols")
        sim_sub = sim.add_subparsers(dest="sim", required=True)
        for command in self.extra.values():
            command.add_arguments(sim_sub.add_parser(command.name, help=command.help))
        sim_consensus = sim_sub.add_parser(
            "consensus", help="a community of simulated members, some faulty, over many seeds"
        )
        sim_consensus.add_argument("--nodes", type=int, default=4)
        sim_consensus.add_argument("--faulty", type=int, default=0)
        sim_consensus.add_argument(
            "--fault", choices=["none", "crash", "silent", "equivocate", "delay"], default="none"
        )
        sim_consensus.add_argument("--seeds", type=int, default=10, help="how many seeds")
        sim_consensus.add_argument("--first-seed", type=int, default=0)
        sim_consensus.add_argument("--txs-per-node", type=int, default=3)
        sim_consensus.add_argument("--json", action="store_true", help="print one JSON object")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        extra = self.extra.get(args.sim)
        if extra is not None:
            return extra.run(args, ctx)
        from peoplenet.runtime.sim.consensus import SimConfig, run_many  # noqa: PLC0415

        if args.seeds < 1:
            raise LocalError("--seeds must be positive")
        config = SimConfig(
            nodes=args.nodes, faulty=args.faulty, fault=args.fault, txs_per_node=args.txs_per_node
        )
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        summary, results = run_many(config, seeds)
        if args.json:
            print(json.dumps(summary.as_json()))
        else:
            for key, value in summary.as_json().items():
                print(f"{key:>26}: {value}")
            for result in results:
                for problem in result.safety_violations:
                    print(f"seed {result.seed}: {problem}")
        return 0 if summary.safety_violations == 0 else 1


__all__ = ["DemoCommands", "IdentityCommands", "NoRealDemo", "SimCommand", "SimCommands"]
