"""``peoplenet bench``: the benchmarks' commands (loaded only when one is asked for)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping

from peoplenet.runtime.cli.group import Context, Subparsers
from peoplenet.runtime.errors import LocalError


class BenchCommands:
    """``peoplenet bench ingest|transport|consensus|payments|rides|deliveries``."""

    def add_parsers(self, sub: Subparsers) -> None:
        bench = sub.add_parser("bench", help="benchmarks that print JSON with a ratio to a ceiling")
        bench_sub = bench.add_subparsers(dest="bench", required=True)
        ingest = bench_sub.add_parser("ingest", help="decode, verify, store and index blocks")
        ingest.add_argument("--blocks", type=int, default=20_000)
        ingest.add_argument(
            "--workers", type=int, default=2, help="verification processes (0: verify inline)"
        )
        ingest.add_argument("--json", action="store_true", help="print one JSON object")
        transport = bench_sub.add_parser(
            "transport", help="blocks streamed between two nodes vs thespian TCP messages"
        )
        transport.add_argument("--seconds", type=float, default=5.0)
        transport.add_argument("--json", action="store_true", help="print one JSON object")
        consensus = bench_sub.add_parser(
            "consensus", help="finalized transactions/s and CPU per block vs signature checks"
        )
        consensus.add_argument("--nodes", type=int, default=4)
        consensus.add_argument("--seconds", type=float, default=None, help="time budget")
        consensus.add_argument("--seed", type=int, default=0)
        consensus.add_argument("--json", action="store_true", help="print one JSON object")

        payments = bench_sub.add_parser(
            "payments", help="Flash payments (issue, approve, accept) vs their signature checks"
        )
        payments.add_argument("--payments", type=int, default=200)
        payments.add_argument("--json", action="store_true", help="print one JSON object")
        rides = bench_sub.add_parser(
            "rides", help="whole ride-hailing trips (request to ratings) vs their signature checks"
        )
        rides.add_argument("--trips", type=int, default=50)
        rides.add_argument("--payment", choices=("cash", "escrow"), default="cash")
        rides.add_argument("--json", action="store_true", help="print one JSON object")
        deliveries = bench_sub.add_parser(
            "deliveries", help="whole delivery orders (order to ratings) vs their signature checks"
        )
        deliveries.add_argument("--orders", type=int, default=50)
        deliveries.add_argument("--payment", choices=("cash", "escrow"), default="cash")
        deliveries.add_argument("--json", action="store_true", help="print one JSON object")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        return _bench(args)


def _bench(args: argparse.Namespace) -> int:
    from peoplenet.bench import ingest  # noqa: PLC0415 - benchmarks load only when asked for

    if args.bench == "consensus":
        from peoplenet.bench import consensus  # noqa: PLC0415

        if args.nodes < 1:
            raise LocalError("--nodes must be positive")
        figures = consensus.run(args.nodes, seconds=args.seconds, seed=args.seed)
        return _show(figures, as_json=args.json, width=30)
    if args.bench == "payments":
        from peoplenet.bench import payments  # noqa: PLC0415

        if args.payments < 1:
            raise LocalError("--payments must be positive")
        figures = payments.run(args.payments)
        return _show(figures, as_json=args.json, width=32)
    if args.bench == "rides":
        from peoplenet.bench import rides  # noqa: PLC0415

        if args.trips < 1:
            raise LocalError("--trips must be positive")
        figures = rides.run(args.trips, payment=args.payment)
        return _show(figures, as_json=args.json, width=24)
    if args.bench == "deliveries":
        from peoplenet.bench import deliveries  # noqa: PLC0415

        if args.orders < 1:
            raise LocalError("--orders must be positive")
        figures = deliveries.run(args.orders, payment=args.payment)
        return _show(figures, as_json=args.json, width=25)
    if args.bench == "transport":
        from peoplenet.bench import transport  # noqa: PLC0415

        if args.seconds <= 0:
            raise LocalError("--seconds must be positive")
        figures = transport.run(args.seconds)
        return _show(figures, as_json=args.json, width=18)
    if args.blocks < 1 or args.workers < 0:
        raise LocalError("--blocks must be positive and --workers at least 0")
    result = ingest.run(args.blocks, workers=args.workers)
    return _show(result.as_json(), as_json=args.json, width=18)


def _show(figures: Mapping[str, object], *, as_json: bool, width: int) -> int:
    """One JSON object (the contract scripts read), or one aligned line per figure."""
    if as_json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>{width}}: {value}")
    return 0


__all__ = ["BenchCommands"]
