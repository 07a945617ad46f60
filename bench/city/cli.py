"""``peoplenet sim rides``: the simulated city from the command line (a ``sim`` subcommand
registered from above, ``peoplenet/main.py``)."""

from __future__ import annotations

import argparse
import json

from peoplenet.runtime.cli.group import Context


class RidesSimCommand:
    """``peoplenet sim rides --drivers N --riders M --hours H --seed S [--json]``."""

    name = "rides"
    help = "a city of drivers and riders on the ride-hailing app, on the simulator"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from peoplenet.bench.city.config import CityConfig  # noqa: PLC0415 - fast start-up

        d = CityConfig()
        parser.add_argument("--drivers", type=int, default=d.drivers, help="members who drive")
        parser.add_argument(
            "--riders", type=int, default=d.riders, help="customers (one ride each)"
        )
        parser.add_argument(
            "--hours", type=float, default=d.hours, help="simulated hours of requests"
        )
        parser.add_argument("--seed", type=int, default=d.seed)
        parser.add_argument(
            "--participants",
            type=int,
            default=d.participants,
            help="drivers in the consensus committee (0: every driver)",
        )
        parser.add_argument(
            "--pace", type=float, default=d.pace_s, help="seconds between a phone's submissions"
        )
        parser.add_argument(
            "--offer-timeout",
            type=float,
            default=d.offer_timeout_s,
            help="the voted offer_timeout_ms, in seconds",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def run(self, args: argparse.Namespace, ctx: Context) -> int:
        from peoplenet.bench.city.config import CityConfig  # noqa: PLC0415
        from peoplenet.bench.city.run import run_city  # noqa: PLC0415

        config = CityConfig(
            drivers=args.drivers,
            riders=args.riders,
            hours=args.hours,
            seed=args.seed,
            participants=args.participants,
            pace_s=args.pace,
            offer_timeout_s=args.offer_timeout,
        )
        report = run_city(config)
        if args.json:
            print(json.dumps(report.figures), file=ctx.out)
            return 0
        for key, value in report.figures.items():
            print(f"{key:>22}: {value}", file=ctx.out)
        print(f"{'mb_per_member_hour_max':>22}: {report.mb_per_member_hour_max}", file=ctx.out)
        print(f"{'still_open':>22}: {report.still_open}", file=ctx.out)
        for kind, share in report.breakdown().items():
            print(f"{'bytes ' + kind:>34}: {share:.1%}", file=ctx.out)
        return 0


__all__ = ["RidesSimCommand"]
