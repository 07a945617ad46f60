"""``make demo``: five real node processes on loopback find each other, befriend and post.

What it shows, step by step (every step waits for the real effect, with a deadline):

1. five members get data directories and start ``peoplenet node start`` processes;
2. zeroconf (``_peoplenet._tcp.local.`` on the loopback interface) lets each find the others;
3. they befriend in a ring (a request, then an acceptance: both signed blocks);
4. alice introduces bob to erin, both accept, and they become friends;
5. everyone posts; each sees the posts of their friends, relayed only along friendship edges;
6. carol follows alice without being her friend and gets alice's posts through bob;
7. dave's node is killed with SIGKILL, misses posts, restarts from its data dir and catches up;
8. every node is stopped and no process is left behind.

The layers above add their own steps as :class:`DemoPart` s, given from above (the composer
passes the cooperative's part, then the apps'): they run on the same live nodes, before the
last step.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from peoplenet.runtime.errors import DemoFailed
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import LocalNode, create_node, wait_for
from peoplenet.runtime.wire.codec import Value

NAMES = ("alice", "bob", "carol", "dave", "erin")
RING = (("alice", "bob"), ("bob", "carol"), ("carol", "dave"), ("dave", "erin"), ("erin", "alice"))
STEP_TIMEOUT = 60.0


class DemoPart(Protocol):
    """A later part of the demo, run on the live nodes; returns the number of its next step.

    A step that does not happen raises :class:`~peoplenet.runtime.errors.DemoFailed`.
    """

    def __call__(
        self,
        nodes: Mapping[str, LocalNode],
        identities: Mapping[str, Identity],
        workdir: Path,
        out: TextIO,
        first_step: int,
    ) -> int: ...


def _ids(value: Any, section: str) -> set[str]:
    if not isinstance(value, dict):
        return set()
    entries = value.get(section)
    if not isinstance(entries, list):
        return set()
    return {str(e.get("member")) for e in entries if isinstance(e, dict)}


def _feed_texts(node: LocalNode) -> list[str]:
    feed = node.call("feed", {"limit": 200})
    assert isinstance(feed, list)
    return [str(item.get("text")) for item in feed if isinstance(item, dict)]


def _step(
    out: TextIO, text: str, check: Callable[[], bool], timeout: float = STEP_TIMEOUT
) -> float:
    started = time.monotonic()
    if not wait_for(check, timeout):
        raise DemoFailed(f"timed out: {text}")
    took = time.monotonic() - started
    print(f"  ok  {text} ({took:.1f} s)", file=out, flush=True)
    return took


def befriend(a: LocalNode, b: LocalNode, out: TextIO) -> None:
    a.call("befriend", {"member": b.member.hex()})
    _step(
        out,
        f"{b.name} sees {a.name}'s request",
        lambda: a.member.hex() in _ids(b.call("friends"), "pending"),
    )
    b.call("accept", {"member": a.member.hex()})
    _step(
        out,
        f"{a.name} and {b.name} are friends",
        lambda: (
            b.member.hex() in _ids(a.call("friends"), "friends")
            and a.member.hex() in _ids(b.call("friends"), "friends")
        ),
    )


def run(  # noqa: PLR0915 - a script, step by step
    workdir: Path, out: TextIO, parts: Sequence[DemoPart] = ()
) -> None:
    network = f"demo-{time.time_ns()}"
    nodes: dict[str, LocalNode] = {}
    identities: dict[str, Identity] = {}
    for name in NAMES:
        data, identity = create_node(workdir / name, network=network)
        nodes[name] = LocalNode(name, data, identity.member_id)
        identities[name] = identity
    try:
        print(f"1. starting {len(nodes)} nodes (network {network!r})", file=out, flush=True)
        for node in nodes.values():
            node.start()
            print(
                f"  {node.name:<6} {node.member.hex()[:16]}…  {node.address}  pid {node.pid}",
                file=out,
            )

        print("2. zeroconf discovery on the loopback interface", file=out, flush=True)
        for node in nodes.values():
            others = {n.member.hex() for n in nodes.values() if n is not node}
            _step(out, f"{node.name} found the other four", _discovered(node, others))

        print("3. befriending in a ring: a signed request, a signed acceptance", file=out)
        for a, b in RING:
            befriend(nodes[a], nodes[b], out)

        print("4. alice introduces bob and erin", file=out)
        alice, bob, erin = nodes["alice"], nodes["bob"], nodes["erin"]
        alice.call(
            "introduce",
            {"a": bob.member.hex(), "b": erin.member.hex(), "note": "you both drive at night"},
        )
        _step(
            out,
            "bob sees the introduction",
            lambda: erin.member.hex() in _ids(bob.call("friends"), "introductions"),
        )
        bob.call("accept", {"member": erin.member.hex()})
        erin.call("accept", {"member": bob.member.hex()})
        _step(
            out,
            "bob and erin are friends",
            lambda: erin.member.hex() in _ids(bob.call("friends"), "friends"),
        )

        print("5. everyone posts; friends see the posts", file=out)
        for node in nodes.values():
            node.call("post", {"text": f"hello from {node.name}"})
        friends_of = {
            n: {a for a, b in RING if b == n} | {b for a, b in RING if a == n} for n in NAMES
        }
        friends_of["bob"].add("erin")
        friends_of["erin"].add("bob")
        for name, node in nodes.items():
            wanted = {f"hello from {f}" for f in friends_of[name]}
            _step(out, f"{name} sees posts of {sorted(friends_of[name])}", _sees(node, wanted))

        print(
            "6. carol follows alice (not a friend): alice's posts reach her through bob", file=out
        )
        carol = nodes["carol"]
        carol.call("follow", {"member": alice.member.hex()})
        alice.call("post", {"text": "alice: the co-op meeting is on friday"})
        _step(
            out,
            "carol sees alice's post",
            lambda: "alice: the co-op meeting is on friday" in _feed_texts(carol),
        )

        print(
            "7. dave's phone dies (SIGKILL of all its processes), misses posts, comes back",
            file=out,
        )
        dave = nodes["dave"]
        dave.kill()
        print(f"  dave killed; processes left in its group: {len(dave.group_pids())}", file=out)
        nodes["carol"].call("post", {"text": "carol: posted while dave was away"})
        dave.start()
        _step(
            out,
            "dave caught up with carol's post",
            lambda: "carol: posted while dave was away" in _feed_texts(dave),
        )

        print("8. feeds", file=out)
        for name, node in nodes.items():
            texts = _feed_texts(node)
            print(f"  {name:<6} {len(texts)} posts: {texts[-3:]}", file=out)

        step = 9
        for part in parts:
            step = part(nodes, identities, workdir, out, step)
    finally:
        print("stopping every node", file=out, flush=True)
        leftovers = 0
        for node in nodes.values():
            node.stop()
            leftovers += len(node.group_pids())
        print(f"all nodes stopped; processes left behind: {leftovers}", file=out, flush=True)
        if leftovers:
            raise DemoFailed(f"{leftovers} processes were left behind")


def _discovered(node: LocalNode, others: set[str]) -> Callable[[], bool]:
    def check() -> bool:
        peers = _list(node.call("peers"))
        return others <= {str(p.get("member")) for p in peers if p.get("source") == "mdns"}

    return check


def _sees(node: LocalNode, wanted: set[str]) -> Callable[[], bool]:
    return lambda: wanted <= set(_feed_texts(node))


def _list(value: Any) -> list[dict[str, Value]]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


def main(out: TextIO = sys.stdout, parts: Sequence[DemoPart] = ()) -> int:
    with tempfile.TemporaryDirectory(prefix="peoplenet-demo-") as tmp:
        try:
            run(Path(tmp), out, parts)
        except DemoFailed as exc:
            print(f"demo failed: {exc}", file=out)
            return 1
    print("demo finished", file=out)
    return 0
