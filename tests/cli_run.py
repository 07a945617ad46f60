"""Run the ``peoplenet`` command line in a child process, as a member would."""

from __future__ import annotations

import subprocess
import sys


def run_cli(
    *args: str, passphrase: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m peoplenet ARGS`` with the passphrase in the environment; never
    raises.

    ``env`` adds variables (``TZ``, say) to the child's otherwise minimal environment.
    """
    return subprocess.run(
        [sys.executable, "-m", "peoplenet", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PEOPLENET_PASSPHRASE": passphrase, "PATH": "/usr/bin:/bin", **(env or {})},
        check=False,
    )
