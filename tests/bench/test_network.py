"""The network benchmarks keep their JSON contracts (they start real node processes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from peoplenet.bench.dissemination_latency import measure

pytestmark = [pytest.mark.slow, pytest.mark.processes]


def test_bench_transport_prints_the_promised_json() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "peoplenet",
            "bench",
            "transport",
            "--seconds",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == {"blocks_per_s", "thespian_tcp_per_s", "ratio"}
    assert figures["blocks_per_s"] > 0
    assert figures["thespian_tcp_per_s"] > 0
    expected = figures["blocks_per_s"] / figures["thespian_tcp_per_s"]
    assert figures["ratio"] == pytest.approx(expected, rel=0.01)


def test_latency_bench_measures_every_friend() -> None:
    figures = measure(friends=3, posts=2)
    assert figures["friends"] == 3
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"] < 30_000
