"""``peoplenet sim deliveries``: the simulated town from the command line (a ``sim``
subcommand registered from above, ``peoplenet/main.py``)."""

from __future__ import annotations

import argparse
import json

from peoplenet.runtime.cli.group import Context


class DeliveriesSimCommand:
    """``peoplenet sim deliveries --stores S --couriers C --orders-per-hour O --hours H
    --seed N [--json]``."""

    name = "deliveries"
    help = "a town of stores, couriers and customers on the delivery app, on the simulator"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from peoplenet.bench.town.config import TownConfig  # noqa: PLC0415 - fast start-up

        d = TownConfig()
        parser.add_argument("--stores", type=int, default=d.stores, help="member stores")
        parser.add_argument("--couriers", type=int, default=d.couriers, help="member couriers")
        parser.add_argument(
            "--orders-per-hour",
            type=float,
            default=d.orders_per_hour,
            help="customers' orders an hour (one customer each)",
        )
        parser.add_argument(
            "--hours", type=float, default=d.hours, help="simulated hours of orders"
        )
        parser.add_argument("--seed", type=int, default=d.seed)
        parser.add_argument("--grid", type=int, default=d.grid, help="the town's cells a side")
        parser.add_argument(
            "--participants",
            type=int,
            default=d.participants,
            help="members in the consensus committee, stores first (0: every member)",
        )
        parser.add_argument(
            "--pace", type=float, default=d.pace_s, help="seconds between a phone's submissions"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        from peoplenet.bench.town.config import TownConfig  # noqa: PLC0415
        from peoplenet.bench.town.run import run_town  # noqa: PLC0415

        config = TownConfig(
            stores=args.stores,
            couriers=args.couriers,
            orders_per_hour=args.orders_per_hour,
            hours=args.hours,
            seed=args.seed,
            grid=args.grid,
            participants=args.participants,
            pace_s=args.pace,
        )
        report = run_town(config)
        if args.json:
            print(json.dumps(report.figures), file=ctx.out)
            return 0
        for key, value in report.figures.items():
            print(f"{key:>26}: {value}", file=ctx.out)
        print(f"{'mb_per_courier_hour_max':>26}: {report.mb_per_courier_hour_max}", file=ctx.out)
        print(f"{'mb_per_member_hour_max':>26}: {report.mb_per_member_hour_max}", file=ctx.out)
        print(f"{'assigned_by_dispatcher':>26}: {report.assigned_by_dispatcher}", file=ctx.out)
        print(f"{'simulated_s':>26}: {report.sim_seconds:.0f}", file=ctx.out)
        for reason, count in sorted(report.rejected.items()):
            print(f"{'refused ' + reason:>38}: {count}", file=ctx.out)
        for kind, share in report.breakdown().items():
            print(f"{'bytes ' + kind:>38}: {share:.1%}", file=ctx.out)
        return 0


__all__ = ["DeliveriesSimCommand"]
