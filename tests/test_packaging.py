"""A plain install runs: the wheel, installed without extras into a fresh virtualenv, works.

It installs one import name, ``peoplenet``: the generic folder names stay in the checkout.

Slow (it builds a wheel and installs the runtime dependencies from the package index), so it
runs in ``make test-slow``.  It catches an import that only the ``dev`` extra happened to bring.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PEOPLENET_DATA": str(cwd / "data")}
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST"):
        if key in os.environ:
            env[key] = os.environ[key]
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_wheel_installed_without_extras_runs_the_cli(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # a copy of the checkout without build leftovers (setuptools would pack a stale build/)
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
        ),
    )
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(source)],
        tmp_path,
        600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"peoplenet"}, tops
    # the repository's folders are linked under peoplenet/: the wheel must hold their files
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "peoplenet/runtime/lace/block.py" in names
    assert "peoplenet/plugins/api.py" in names
    assert "peoplenet/apps/currency/plugin.py" in names

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    installed = _run([python, "-m", "pip", "install", "--quiet", str(wheel)], tmp_path, 600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    # nothing of the checkout may leak in: run from an empty directory
    work = tmp_path / "elsewhere"
    work.mkdir()
    peoplenet = str(env_dir / "bin" / "peoplenet")

    helped = _run([peoplenet, "--help"], work, 120)
    assert helped.returncode == 0, helped.stderr
    assert "Platform cooperatives" in helped.stdout

    apps = _run([peoplenet, "apps", "list", "--json"], work, 120)
    assert apps.returncode == 0, apps.stderr
    assert "currency" in apps.stdout

    demo = _run([peoplenet, "demo", "--simulated"], work, 600)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "Traceback" not in demo.stderr

    # one import name in the user's environment, none of the generic folder names
    probe = (
        "import importlib.util, json;"
        " print(json.dumps({n: importlib.util.find_spec(n) is not None"
        " for n in ('peoplenet', 'runtime', 'actors', 'plugins', 'apps', 'bench')}))"
    )
    found = _run([python, "-c", probe], work, 60)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == (
        '{"peoplenet": true, "runtime": false, "actors": false, "plugins": false,'
        ' "apps": false, "bench": false}'
    )
