"""The composer: every layer's part registered from above, and the runtime's CLI knowing none."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from peoplenet import main as composer
from peoplenet.actors.coop.cli import CoopCommands
from peoplenet.actors.governance.decide_cli import DecideCommands
from peoplenet.actors.member.commands import NodeCommands
from peoplenet.bench.cli import BenchCommands
from peoplenet.plugins.cli import AppsCommands
from peoplenet.runtime.cli.commands import DemoCommands, IdentityCommands, SimCommands
from peoplenet.runtime.cli.main import Commands
from peoplenet.runtime.consensus.constitution import Constitution, Genesis
from peoplenet.runtime.consensus.consumer import consumer_factory

ROOT = Path(__file__).resolve().parent.parent


def test_each_command_is_run_by_the_group_of_its_layer() -> None:
    owners = Commands(composer.command_groups()).owners
    expected = {
        "demo": DemoCommands,
        "identity": IdentityCommands,
        "init": NodeCommands,
        "inbox": NodeCommands,
        "community": NodeCommands,
        "coop": CoopCommands,
        "audit": CoopCommands,
        "apps": AppsCommands,
        "app": AppsCommands,
        "pay": AppsCommands,  # a bundled app's top-level command
        "ride": AppsCommands,  # a bundled app's command group (AppSpec.cli_group)
        "decide": DecideCommands,
        "bench": BenchCommands,
        "sim": SimCommands,
    }
    assert {name: type(owners[name]) for name in expected} == expected
    assert list(owners)[:2] == ["demo", "identity"] and list(owners)[-1] == "sim"


def test_the_composer_registers_the_cooperatives_consumer() -> None:
    member = bytes(32)
    composer.register()

    def genesis(name: bytes) -> Genesis:
        return Genesis(name, 0, Constitution((member,), 2, 3, 1000), b"", b"", 0)

    assert consumer_factory(genesis(b"f/night riders")) is composer.cooperative
    assert consumer_factory(genesis(b"a plain community")) is None


_RUNTIME_ALONE = """
import json, sys
from peoplenet.runtime.cli import main as framework
from peoplenet.runtime.cli.commands import DemoCommands, IdentityCommands, SimCommands
code = framework.run([DemoCommands(), IdentityCommands(), SimCommands()], ["demo"])
layers = ("actors", "plugins", "apps", "bench", "main")
upper = sorted(m for m in sys.modules if m.split(".")[:2] in (["peoplenet", n] for n in layers))
print(json.dumps({"code": code, "upper": upper}))
"""


def test_the_runtime_command_line_alone_loads_no_upper_layer() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _RUNTIME_ALONE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"code": 2, "upper": []}
    assert "no real-node demo" in done.stderr  # `demo` with none given from above


def test_the_layer_contracts_ignore_no_import() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    ignoring = {c["name"] for c in contracts if c.get("ignore_imports")}
    assert ignoring == {"thespian only inside runtime.kernel"}  # its definition, not debt
    kinds = {c["type"] for c in contracts}
    assert {"layers", "forbidden", "independence"} <= kinds


_PARSE_ONLY = """
import json, sys
from peoplenet import main
main.build_parser()
print(json.dumps(sorted(m for m in ("zeroconf", "thespian", "peoplenet.actors.member.cli")
                        if m in sys.modules)))
"""


def test_parsing_any_command_loads_no_node_machinery() -> None:
    """Every command builds the whole parser: only a node command may pay for what runs one."""
    done = subprocess.run(
        [sys.executable, "-c", _PARSE_ONLY],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
