"""The example third-party app, installed the way a user would, found through its entry point.

The package is installed with pip into a temporary directory that is put on ``sys.path`` only
while a test runs.  If this virtualenv cannot build wheels (setuptools < 70.1 without the
``wheel`` package: pip fails with "invalid command 'bdist_wheel'"), the fixture lays the
package out as pip's ``--target`` would, with the entry points read from its pyproject.toml.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from peoplenet.plugins.api import PluginError
from peoplenet.plugins.manager import load_apps
from peoplenet.plugins.testing import check_app
from tests.plugins.test_testing import EXAMPLE, noticeboard_case

pytestmark = pytest.mark.processes  # pip (and one interpreter) run as child processes

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "entry point noticeboard (peoplenet_noticeboard.plugin)"


def pip_can_build() -> bool:
    """setuptools >= 70.1 has bdist_wheel itself; older ones need the ``wheel`` package."""
    if importlib.util.find_spec("wheel") is not None:
        return True
    major, minor = importlib.metadata.version("setuptools").split(".")[:2]
    return (int(major), int(minor)) >= (70, 1)


def emulate_pip_target(project: Path, target: Path) -> None:
    """What ``pip install --target`` leaves: the package and a dist-info with entry points."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    for package in ("peoplenet_noticeboard",):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(project / package, target / package, ignore=ignore)
    dist = target / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
    )
    lines = []
    for group, entries in meta.get("entry-points", {}).items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {value}" for name, value in entries.items())
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    (dist / "INSTALLER").write_text("tests (emulated pip --target)\n")


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed into a fresh directory (built from a copy: no build/ in the repo)."""
    work = tmp_path_factory.mktemp("noticeboard")
    project, target = work / "src", work / "site"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "build"))
    target.mkdir()
    if pip_can_build():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "--disable-pip-version-check",
                "--quiet",
                "--target",
                str(target),
                str(project),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    else:
        emulate_pip_target(project, target)
    return target


def broken_dist(folder: Path) -> Path:
    """An installed distribution whose entry point names a module that does not exist."""
    dist = folder / "peoplenet_bogus-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: peoplenet-bogus\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[peoplenet.apps]\nbogus = peoplenet_no_such_module.plugin\n"
    )
    return folder


@pytest.fixture
def on_path(installed: Path) -> Iterator[list[str]]:
    """``sys.path`` with the installed example (tests may add more); restored afterwards."""
    added = [str(installed)]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield added
    finally:
        for entry in added:
            sys.path.remove(entry)
        importlib.invalidate_caches()


def test_the_installed_package_has_its_entry_point(installed: Path) -> None:
    (dist,) = installed.glob("peoplenet_noticeboard-1.0.0.dist-info")
    (found,) = importlib.metadata.distributions(path=[str(installed)])
    assert found.metadata["Name"] == "peoplenet-noticeboard"
    (ep,) = found.entry_points.select(group="peoplenet.apps")
    assert (ep.name, ep.value) == ("noticeboard", "peoplenet_noticeboard.plugin")
    assert (installed / "peoplenet_noticeboard" / "py.typed").is_file()
    assert dist.is_dir()


def test_load_apps_finds_it_and_it_passes_the_kit(on_path: list[str]) -> None:
    registry = load_apps()
    assert "noticeboard" in registry.names()
    assert registry.sources["noticeboard"] == SOURCE
    assert not [b for b in registry.broken if "noticeboard" in b.source]
    check_app(noticeboard_case(registry.plugins["noticeboard"], source=SOURCE))


def test_a_broken_entry_point_is_set_aside(on_path: list[str], tmp_path: Path) -> None:
    on_path.append(str(broken_dist(tmp_path / "bogus")))
    sys.path.append(on_path[-1])
    importlib.invalidate_caches()
    registry = load_apps()
    (bogus,) = [b for b in registry.broken if b.source.startswith("entry point bogus")]
    assert bogus.source == "entry point bogus (peoplenet_no_such_module.plugin)"
    assert bogus.reason.startswith("cannot import: ModuleNotFoundError")
    assert "noticeboard" in registry.names()  # the other apps load all the same
    with pytest.raises(PluginError, match="entry point bogus"):
        load_apps(strict=True, bundled=())


def test_the_installed_copy_alone_works(installed: Path, tmp_path: Path) -> None:
    """In a fresh interpreter that only has the installed copy (not the source tree)."""
    script = (
        "import json, peoplenet_noticeboard\n"
        "from peoplenet.plugins.manager import load_apps\n"
        "from peoplenet.plugins.testing import check_app\n"
        "from tests.plugins.test_testing import noticeboard_case\n"
        "registry = load_apps(bundled=())\n"
        "check_app(noticeboard_case(registry.plugins['noticeboard']))\n"
        "print(json.dumps({'file': peoplenet_noticeboard.__file__,"
        " 'source': registry.sources['noticeboard']}))\n"
    )
    path = os.pathsep.join([str(installed), str(ROOT), str(ROOT / "tests")])
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(seen["file"]).is_relative_to(installed)
    assert seen["source"] == SOURCE
