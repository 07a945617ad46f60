"""Every process the command line starts knows the whole record table (no verdict depends on
which modules a process happened to import)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from peoplenet.runtime.wire.codec import registered_tags

_PROBE = """
import json, sys
from peoplenet import main as cli
from peoplenet.runtime.wire import codec
code = cli.main(["status", "--data", sys.argv[1]])
tags = sorted(t for t in codec.registered_tags() if 100 <= t < 200)
print(json.dumps({"code": code, "tags": tags}))
"""


def test_the_command_line_registers_every_layer_record_before_it_runs(tmp_path: Path) -> None:
    import peoplenet.actors.records  # noqa: F401, PLC0415 - the whole table, as the wire-format page has it

    expected = sorted(t for t in registered_tags() if 100 <= t < 200)
    assert {100, 150, 151} <= set(expected)  # governance, founding draft, surety half
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "no-node-here")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["code"] == 2  # no data directory: refused, after the table was loaded
    assert seen["tags"] == expected


def test_runtime_node_alone_does_not_know_the_upper_layers() -> None:
    """Why the command line must load them: the node module by itself does not."""
    probe = (
        "import peoplenet.actors.member.supervisor, peoplenet.runtime.wire.codec as c;"
        " print(151 in c.registered_tags())"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
