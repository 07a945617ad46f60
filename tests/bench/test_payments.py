"""``peoplenet bench payments``: the full Flash exchange per payment, and the JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys

from peoplenet.bench import payments

KEYS = {
    "payments",
    "payments_per_s",
    "blocks_per_payment",
    "messages_per_payment",
    "cpu_ms_per_payment",
    "verify_ms_per_payment_all_nodes",
    "ratio",
}


def test_every_payment_is_issue_approve_accept_and_the_ratio_is_measured() -> None:
    figures = payments.run(20)
    assert set(figures) == KEYS
    assert figures["payments"] == 20 and figures["blocks_per_payment"] == 3.0
    assert figures["messages_per_payment"] == 6.0  # each block to the two other members
    assert figures["verify_ms_per_payment_all_nodes"] > 0
    ratio = figures["cpu_ms_per_payment"] / figures["verify_ms_per_payment_all_nodes"]
    assert abs(ratio - figures["ratio"]) < 0.05 * ratio + 0.01


def test_cli_prints_one_json_object() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "peoplenet",
            "bench",
            "payments",
            "--payments",
            "5",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert set(json.loads(out.stdout.strip().splitlines()[-1])) == KEYS
