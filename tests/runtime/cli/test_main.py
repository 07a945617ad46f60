"""The command-line contracts: exit codes, messages and the bench JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from peoplenet.main import main


def run_cli(*args: str, passphrase: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    if passphrase is not None:
        env["PEOPLENET_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, "-m", "peoplenet", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_identity_create_show_and_wrong_passphrase(tmp_path: Path) -> None:
    key = tmp_path / "me.key"
    made = run_cli("identity", "create", str(key), passphrase="pw one")
    assert made.returncode == 0, made.stderr
    member_line = made.stdout.splitlines()[0]
    assert member_line.startswith("member id ") and len(member_line.split()[-1]) == 64
    shown = run_cli("identity", "show", str(key))
    assert shown.stdout.splitlines()[0] == member_line
    ok = run_cli("identity", "show", str(key), "--unlock", passphrase="pw one")
    assert ok.returncode == 0
    bad = run_cli("identity", "show", str(key), "--unlock", passphrase="pw two")
    assert bad.returncode == 2
    assert "passphrase does not open" in bad.stderr
    again = run_cli("identity", "create", str(key), passphrase="pw one")
    assert again.returncode == 2  # never silently replaces a key


def test_missing_key_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["identity", "show", str(tmp_path / "nope.key")]) == 2
    assert "nope.key" in capsys.readouterr().err


def test_bench_ingest_json_contract() -> None:
    done = run_cli("bench", "ingest", "--blocks", "600", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert list(result) == ["blocks", "blocks_per_s", "raw_verify_per_s", "ratio"]
    assert result["blocks"] == 600
    assert result["blocks_per_s"] > 0 and result["raw_verify_per_s"] > 0
    assert result["ratio"] == pytest.approx(
        result["blocks_per_s"] / result["raw_verify_per_s"], rel=0.01
    )
