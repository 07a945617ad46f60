"""Make the old-data-directories compatibility fixture, through the command line only.

Run from the repository root, with the code whose stored formats the fixture freezes::

    PYTHONPATH=$PWD .venv/bin/python tests/data/make_old_datadirs.py

Three members (ana, ben, cai) on loopback become friends, post and reply, name each other,
found the cooperative "night riders" (one founding file signed on three nodes), enable the
currency app by vote (minting cooperative coins to ana), set the commission rate by vote and
pay each other (own coins, coins needing the sovereign's approval, a mutual credit line,
cooperative coins). The nodes are stopped cleanly and their data directories (without the
control socket, lock, PID record and logs) go into ``old-datadirs-v1.tar.gz``.

Then every read-only ``--json`` command is run against two fresh extractions, each node started
alone (``--listen 127.0.0.1:0``, no zeroconf, so nothing reaches it); the outputs of the first
run go to ``old-datadirs-v1.expected.json`` together with the JSON paths whose values differed
between the two runs (the only values a later comparison ignores).

``tests/test_old_datadirs.py`` loads this file by path for :func:`record` and
:func:`normalise`: it never imports the project's modules, so it checks any later layout
against these files through the command line alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLI_MODULE = "runtime.cli"
"""The command line's module in the layout that made the v1 fixture (commit beecf26); a new
fixture made with later code passes ``--cli peoplenet``."""

PASSPHRASE = "old datadirs fixture"
NAMES = ("ana", "ben", "cai")
COOP = "night riders"
NETWORK = "compat-v1"
HERE = Path(__file__).resolve().parent
TARBALL = HERE / "old-datadirs-v1.tar.gz"
EXPECTED = HERE / "old-datadirs-v1.expected.json"
STEP_S = 90.0
VARIES = "<varies between runs>"

CHARTER = {
    "voting_period_ms": 20_000,
    "admission_sureties": 2,
    "rates": [{"name": "commission", "lo": 0, "hi": 30, "step": "1/2", "initial": 10}],
    "officers": ["treasurer"],
}
LEFT_OUT = ("control.sock", "node.lock", "node.pids", "logs")
"""Run-time files of a running node, not stored state (a stopped node removes most itself)."""

READ_ONLY: tuple[tuple[str, ...], ...] = (
    ("status",),
    ("feed",),
    ("friends",),
    ("friends", "peers"),
    ("inbox",),
    ("community", "list"),
    ("community", "status", COOP),
    ("community", "order", COOP),
    ("coop", "show", COOP),
    ("coop", "decisions", COOP),
    ("audit", COOP),
    ("apps", "list"),
    ("apps", "info", "currency", "--coop", COOP),
    ("balance", COOP),
    ("app", COOP, "currency", "history"),
)
"""Every read-only ``--json`` command, run on each node while it runs alone."""

OFFLINE: tuple[tuple[str, ...], ...] = (("apps", "list"), ("apps", "info", "currency"))
"""Read-only ``--json`` commands that work with the node stopped."""


class FixtureError(Exception):
    """A step of making or checking the fixture failed."""


def cli(
    cli_module: str, *args: str, data: Path | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``python -m CLI_MODULE ARGS [--data DATA]`` with the fixture's passphrase; never raises."""
    env = dict(os.environ, PEOPLENET_PASSPHRASE=PASSPHRASE, TZ="UTC")
    env.pop("PEOPLENET_DATA", None)
    command = [sys.executable, "-m", cli_module, *args]
    if data is not None:
        command += ["--data", str(data)]
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired as late:
        return subprocess.CompletedProcess(command, -1, "", f"timed out after {late.timeout} s")


def ok(cli_module: str, *args: str, data: Path | None = None) -> Any:
    """Run a command that must succeed; its parsed JSON when ``--json`` is among the args."""
    result = cli(cli_module, *args, data=data)
    if result.returncode != 0:
        raise FixtureError(f"{args} on {data} exited {result.returncode}: {result.stderr}")
    return json.loads(result.stdout) if "--json" in args else result.stdout


def until(what: str, predicate: Callable[[], bool], timeout: float = STEP_S) -> None:
    """Poll ``predicate`` (errors count as false) until it holds; FixtureError after timeout."""
    print(f"  until {what}", file=sys.stderr, flush=True)
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(FixtureError, ValueError, KeyError, TypeError):
            if predicate():
                return
        if time.monotonic() > deadline:
            raise FixtureError(f"timed out waiting until {what}")
        time.sleep(0.3)


_LISTEN = re.compile(r"listening on (\S+):(\d+)")


@dataclass
class Node:
    """One ``node start`` process (foreground) and the actors' process group it reports."""

    name: str
    root: Path
    cli_module: str
    proc: subprocess.Popen[str] | None = None
    groups: set[int] = field(default_factory=set)
    lines: list[str] = field(default_factory=list, repr=False)
    port: int = 0

    def start(self, *args: str, timeout: float = 60.0) -> None:
        """Start the node and wait until ``status --json`` answers (FixtureError if never)."""
        env = dict(os.environ, PEOPLENET_PASSPHRASE=PASSPHRASE, PYTHONUNBUFFERED="1", TZ="UTC")
        env.pop("PEOPLENET_DATA", None)
        cmd = [sys.executable, "-m", self.cli_module, "node", "start", "--data", str(self.root)]
        self.proc = subprocess.Popen(
            [*cmd, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.groups = {self.proc.pid}
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise FixtureError(f"{self.name} exited at start:\n" + "\n".join(self.lines))
            self._note_groups()
            result = cli(self.cli_module, "status", "--json", data=self.root)
            if result.returncode == 0:
                self.port = int(json.loads(result.stdout)["listen"].rsplit(":", 1)[1])
                return
            if time.monotonic() > deadline:
                raise FixtureError(f"{self.name} did not start:\n" + "\n".join(self.lines))
            time.sleep(0.3)

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _note_groups(self) -> None:
        """Remember the actors' process group (from the node's PID record) for a forced end."""
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            record = json.loads((self.root / "node.pids").read_text())
            self.groups.add(int(record["actors_group"]))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> int | None:
        """``node stop``, then wait for the foreground; anything left is SIGKILLed by group."""
        if self.proc is None:
            return None
        self._note_groups()
        if self.proc.poll() is None:
            cli(self.cli_module, "node", "stop", data=self.root, timeout=60.0)
        code: int | None
        try:
            code = self.proc.wait(30.0)
        except subprocess.TimeoutExpired:
            code = None
        self.kill()
        return code

    def kill(self) -> None:
        """SIGKILL both process groups of the node (harmless when they are gone)."""
        for group in self.groups - {0, 1}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10.0)
            if self.proc.stdout is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdout.close()

    def left_behind(self) -> set[int]:
        """Live (non-zombie) processes still in the node's process groups."""
        found: set[int] = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) in self.groups:
                found.add(int(entry))
        return found


@contextlib.contextmanager
def running(started: list[Node]) -> Iterator[list[Node]]:
    """Yield a list to append started nodes to; every one is stopped on the way out."""
    try:
        yield started
    finally:
        for node in started:
            node.stop()


# ---------------------------------------------------------------------------------------------
# making the data directories (old code only)


def _friends(cli_module: str, node: Node) -> dict[str, Any]:
    shown = ok(cli_module, "friends", "--json", data=node.root)
    assert isinstance(shown, dict)
    return shown


def _members_in(cli_module: str, node: Node, section: str) -> set[str]:
    return {e["member"] for e in _friends(cli_module, node)[section]}


def _befriend(cli_module: str, asker: Node, accepter: Node, ids: dict[str, str]) -> None:
    ok(cli_module, "friends", "add", ids[accepter.name], data=asker.root)
    until(
        f"{accepter.name} sees {asker.name}'s request",
        lambda: ids[asker.name] in _members_in(cli_module, accepter, "pending"),
    )
    ok(cli_module, "friends", "accept", ids[asker.name], data=accepter.root)
    until(
        f"{asker.name} and {accepter.name} are friends",
        lambda: (
            ids[accepter.name] in _members_in(cli_module, asker, "friends")
            and ids[asker.name] in _members_in(cli_module, accepter, "friends")
        ),
    )


def _coop(cli_module: str, node: Node, *args: str) -> Any:
    return ok(cli_module, "coop", *args, "--json", data=node.root)


def _decide(cli_module: str, nodes: list[Node], proposer: Node, ballots: dict[str, str],
            *proposal: str) -> int:  # fmt: skip
    """Open a decision, have every member vote, and wait until every node shows it closed."""
    opened = _coop(cli_module, proposer, "propose", COOP, *proposal, "--wait", "60")
    if opened.get("status") != "applied":
        raise FixtureError(f"proposal {proposal} not applied: {opened}")
    number = int(opened["opened"])
    for node in nodes:
        voted = _coop(
            cli_module, node, "vote", COOP, f"#{number}", ballots[node.name], "--wait", "60"
        )
        if voted.get("status") != "applied":
            raise FixtureError(f"{node.name}'s ballot in #{number} not applied: {voted}")

    def closed(node: Node) -> bool:
        shown = _coop(cli_module, node, "decisions", COOP)
        rows = shown["decisions"] if isinstance(shown, dict) else shown
        row = next(r for r in rows if int(r["number"]) == number)
        return row.get("status") not in (None, "open")

    until(f"decision #{number} closed everywhere", lambda: all(closed(n) for n in nodes))
    return number


def _app(cli_module: str, node: Node, *args: str) -> Any:
    shown = ok(cli_module, *args, "--json", data=node.root)
    return shown["result"] if isinstance(shown, dict) and "result" in shown else shown


def _settled(cli_module: str, nodes: list[Node], last: dict[str, str]) -> bool:
    """Every node shows the same cooperative digest, and its currency history did not change
    since the previous call (histories are per member: each shows its own side)."""
    digests = {json.dumps(_coop(cli_module, n, "show", COOP).get("digest")) for n in nodes}
    still = True
    for node in nodes:
        history = _app(cli_module, node, "app", COOP, "currency", "history")
        now = json.dumps(history, sort_keys=True)
        still = still and last.get(node.name) == now
        last[node.name] = now
    return len(digests) == 1 and still


def make(cli_module: str, root: Path) -> None:
    """Create the three data directories under ``root`` and leave their nodes stopped."""
    for name in NAMES:
        ok(cli_module, "init", "--network", NETWORK, "--listen", "127.0.0.1:0",
           "--advertise", "127.0.0.1", "--no-mdns", data=root / name)  # fmt: skip
    ids = {name: _offline_member(cli_module, root / name) for name in NAMES}
    with running([]) as started:
        ana, ben, cai = (Node(n, root / n, cli_module) for n in NAMES)
        for node in (ana, ben, cai):
            node.start(*(a for s in started for a in ("--peer", s.address)))
            started.append(node)
        nodes = [ana, ben, cai]
        _befriend(cli_module, ben, ana, ids)
        _befriend(cli_module, cai, ana, ids)
        _befriend(cli_module, cai, ben, ids)
        ok(cli_module, "friends", "name", ids["ben"], "bob", data=ana.root)
        ok(cli_module, "friends", "name", ids["ana"], "ana", data=cai.root)
        first = ok(cli_module, "post", "hello from ana", "--json", data=ana.root)["block"]
        until("ben has ana's post", lambda: _has_post(cli_module, ben, first))
        ok(cli_module, "post", "hi ana, ben here", "--reply", first, data=ben.root)
        ok(cli_module, "post", "cai: bikes ready for the night shift", data=cai.root)
        until(
            "every feed has the three posts",
            lambda: all(len(ok(cli_module, "feed", "--json", data=n.root)) >= 3 for n in nodes),
        )

        founding = root / "night-riders.coop"
        _coop(cli_module, ana, "found", COOP, "--founder", ids["ben"], "--founder",
              ids["cai"], "--charter", json.dumps(CHARTER), "--out", str(founding))  # fmt: skip
        for node in (ben, cai):
            _coop(cli_module, node, "found", "--sign", str(founding))
        for node in nodes:
            _coop(cli_module, node, "join", str(founding))
        until("every node runs the cooperative",
              lambda: all(_coop(cli_module, n, "show", COOP) for n in nodes))  # fmt: skip

        settings = json.dumps({"ubi_per_period": 0, "claim_deadline_ms": 120_000})
        action = json.dumps({"mint": 100, "to": ids["ana"]})
        _decide(cli_module, nodes, ben, dict.fromkeys(NAMES, "true"),
                "app", "currency", "--settings", settings, "--action", action)  # fmt: skip
        until(
            "the currency is enabled everywhere",
            lambda: all(_currency_enabled(cli_module, n) for n in nodes),
        )
        _decide(cli_module, nodes, ana, {"ana": "12", "ben": "11.5", "cai": "14"},
                "rate", "commission", "--proposal", "12")  # fmt: skip

        def coins(node: Node) -> dict[str, Any]:
            return dict(_app(cli_module, node, "balance", COOP)["coins"])

        _app(cli_module, ana, "pay", COOP, "--to", ids["ben"], "--amount", "30",
             "--memo", "lunch run")  # fmt: skip
        until("ben holds 30 of ana's coins", lambda: coins(ben).get(ids["ana"]) == 30)
        _app(cli_module, ben, "pay", COOP, "--to", ids["cai"], "--amount", "10",
             "--currency", ids["ana"])  # fmt: skip
        until("cai holds 10 of ana's coins", lambda: coins(cai).get(ids["ana"]) == 10)
        offer = _app(cli_module, cai, "credit", COOP, "--with", ids["ben"], "--amount", "20",
                     "--limit", "40")["offer"]  # fmt: skip
        until("ben sees cai's offer", lambda: _seen(cli_module, ben, offer))
        _app(cli_module, ben, "credit", COOP, "--offer", offer, "--limit", "40")
        until("the credit line is open", lambda: coins(ben).get(ids["cai"]) == 20)
        _app(cli_module, ana, "pay", COOP, "--to", ids["cai"], "--amount", "7",
             "--currency", "community")  # fmt: skip
        until(
            "cai holds 7 cooperative coins",
            lambda: _app(cli_module, cai, "balance", COOP).get("cooperative") == 7,
        )
        last: dict[str, str] = {}
        until("every node agrees", lambda: _settled(cli_module, nodes, last))
        time.sleep(3.0)
        until("every node still agrees", lambda: _settled(cli_module, nodes, last))
        for node in nodes:
            if node.stop() != 0:
                raise FixtureError(f"{node.name} did not stop cleanly:\n" + "\n".join(node.lines))
    founding.unlink()


def _offline_member(cli_module: str, data: Path) -> str:
    """The member's full id, from ``identity show`` of the key file (no node needed)."""
    shown = ok(cli_module, "identity", "show", str(data / "identity.key"))
    match = re.search(r"\b([0-9a-f]{64})\b", shown)
    if match is None:
        raise FixtureError(f"no member id in `identity show`: {shown}")
    return match.group(1)


def _has_post(cli_module: str, node: Node, block: str) -> bool:
    posts = ok(cli_module, "feed", "--json", data=node.root)
    return any(p.get("block") == block for p in posts)


def _currency_enabled(cli_module: str, node: Node) -> bool:
    shown = ok(cli_module, "apps", "list", "--json", data=node.root)
    return any(
        a.get("name") == "currency" and a.get("enabled")
        for c in shown["cooperatives"]
        for a in c.get("apps", [])
    )


def _seen(cli_module: str, node: Node, offer: str) -> bool:
    return offer in json.dumps(_app(cli_module, node, "app", COOP, "currency", "history"))


def pack(root: Path, tarball: Path) -> None:
    """The data directories, without run-time files, as a gzip tarball (sorted, fixed mtime)."""

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        if len(parts) > 1 and parts[1] in LEFT_OUT:
            return None
        if info.type not in (tarfile.REGTYPE, tarfile.DIRTYPE):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(tarball, "w:gz", compresslevel=9) as tar:
        for name in NAMES:
            tar.add(root / name, arcname=name, filter=keep)


# ---------------------------------------------------------------------------------------------
# recording and comparing (any code, through the command line only)


def extract(tarball: Path, into: Path) -> list[Path]:
    """Unpack the fixture; returns every stored file (relative to ``into``), sorted."""
    with tarfile.open(tarball, "r:gz") as tar:
        tar.extractall(into, filter="data")
    return sorted(p.relative_to(into) for p in into.rglob("*") if p.is_file())


def _key(name: str, args: tuple[str, ...], offline: bool) -> str:
    return f"{name}{' (stopped)' if offline else ''}: {' '.join(args)} --json"


def record(cli_module: str, root: Path, started: list[Node]) -> dict[str, Any]:
    """Every read-only command's JSON on each node of ``root``: stopped, then running alone.

    Each node started is appended to ``started`` before it runs, so the caller stops it
    whatever happens here.
    """
    outputs: dict[str, Any] = {}
    for name in NAMES:
        data = root / name
        for args in OFFLINE:
            outputs[_key(name, args, True)] = ok(cli_module, *args, "--json", data=data)
        node = Node(name, data, cli_module)
        started.append(node)
        node.start("--listen", "127.0.0.1:0", "--no-mdns")
        for args in READ_ONLY:
            outputs[_key(name, args, False)] = ok(cli_module, *args, "--json", data=data)
        if node.stop() != 0:
            raise FixtureError(f"{name} did not stop cleanly:\n" + "\n".join(node.lines))
    return outputs


def differing_paths(a: Any, b: Any, path: str = "") -> list[str]:
    """JSON paths (``key/0/key``) where ``a`` and ``b`` differ: a key only one has, a value;
    a list whose length differs counts as one difference."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(a.keys() | b.keys())
        return [
            p
            for k in keys
            for p in (
                differing_paths(a[k], b[k], _join(path, k))
                if k in a and k in b
                else [_join(path, k)]
            )
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [p for i, (x, y) in pairs for p in differing_paths(x, y, _join(path, str(i)))]
    return [] if a == b else [path]


def _join(path: str, part: str) -> str:
    return f"{path}/{part}" if path else part


def normalise(outputs: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """A copy of ``outputs`` with the value at each ``COMMAND KEY/PATH`` replaced by VARIES.

    A path's first part is the output's key (``ana: status --json``); a part ``*`` matches
    every key or index. A path absent from an output is left alone (so a removed key still
    fails the comparison).
    """
    copied = json.loads(json.dumps(outputs))
    for spec in paths:
        command, _, rest = spec.partition(" --json/")
        parts = [command + " --json", *rest.split("/")]
        _replace(copied, parts)
    return dict(copied)


def _replace(value: Any, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head] if head in value else []
    elif isinstance(value, list):
        keys = list(range(len(value))) if head == "*" else (
            [int(head)] if head.isdigit() and int(head) < len(value) else []
        )  # fmt: skip
    else:
        return
    for key in keys:
        if rest:
            _replace(value[key], rest)
        else:
            value[key] = VARIES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cli", default=CLI_MODULE, help="the command line's module")
    parser.add_argument("--keep", type=Path, help="also leave the made directories here")
    parser.add_argument("--record-only", action="store_true", help="reuse the tarball")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="old-datadirs-") as tmp:
        work = Path(tmp)
        if not options.record_only:
            make(options.cli, work / "made")
            pack(work / "made", TARBALL)
            print(f"wrote {TARBALL} ({TARBALL.stat().st_size} bytes)")
        runs = []
        for run in ("first", "second"):
            files = extract(TARBALL, work / run)
            with running([]) as started:
                runs.append(record(options.cli, work / run, started))
            after = sorted(
                p.relative_to(work / run) for p in (work / run).rglob("*") if p.is_file()
            )
            missing = set(files) - set(after)
            if missing:
                raise FixtureError(f"files gone after the {run} run: {sorted(map(str, missing))}")
        varies = sorted(differing_paths(runs[0], runs[1]))
        print("varies between runs:", *varies, sep="\n  ")
        expected = {
            "cli_module": options.cli,
            "normalised": varies,
            "stored_files": [str(p) for p in files],
            "outputs": normalise(runs[0], varies),
        }
        EXPECTED.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
        print(f"wrote {EXPECTED} ({EXPECTED.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
