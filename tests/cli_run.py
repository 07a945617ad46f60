"""Run the ``peoplenet`` command line in a child process, as a member would."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str, passphrase: str) -> subprocess.CompletedProcess[str]:
    """``python -m runtime.cli ARGS`` with the passphrase in the environment; never raises."""
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PEOPLENET_PASSPHRASE": passphrase, "PATH": "/usr/bin:/bin"},
        check=False,
    )
