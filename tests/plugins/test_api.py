"""Apps import only the public plugin API: the import-linter contract lists every other module."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import peoplenet.plugins as plugins
from peoplenet.plugins import api

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {
    "peoplenet.plugins.api",
    "peoplenet.plugins.kit",
    "peoplenet.plugins.testing",
    "peoplenet.plugins.demo",
}
"""What an app may import: the API, the work kit, the conformance kit (tests), the demo
driver's module."""


def _apps_contract() -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c.get("source_modules") == ["peoplenet.apps"] and c["type"] == "forbidden"
    ]
    assert isinstance(contract, dict)
    return contract


def test_every_private_plugin_module_is_forbidden_to_apps() -> None:
    forbidden = set(_apps_contract()["forbidden_modules"])
    modules = {f"{plugins.__name__}.{m.name}" for m in pkgutil.iter_modules(plugins.__path__)}
    assert modules - PUBLIC <= forbidden, sorted(modules - PUBLIC - forbidden)
    assert {"peoplenet.runtime", "peoplenet.actors"} <= forbidden


def test_the_api_exports_what_the_bundled_app_needs() -> None:
    for name in ("hookimpl", "Record", "Value", "wire_type", "Block", "BlockId", "MemberId"):
        assert name in api.__all__
        assert getattr(api, name) is not None
