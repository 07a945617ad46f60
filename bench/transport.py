"""Transport benchmark: signed blocks streamed between two real node processes.

Two nodes (``peoplenet node start`` processes with their actor systems) are made friends in
their data directories; the sender's personal lace holds a backlog of signed posts.  Once the
receiver starts, the sender's dissemination streams the backlog over the Noise transport, and
the receiver verifies every signature and stores every block in SQLite.  ``blocks_per_s`` is
counted from the receiver's store while the stream flows.

The ceiling is thespian's own ``multiprocTCPBase``: raw actor-to-actor one-way messages (no
signature, no storage) measured in the same run.  Target: ``ratio >= 3``.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from peoplenet.bench.actor_bases import thespian_tcp_one_way_rate
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.block import Block
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.sim.localnet import LocalNode, create_node
from peoplenet.runtime.social.graph import Befriend, Post, personal_lace

RATE_GUESS = 12_000  # blocks/s: sizes the backlog so the stream lasts about ``seconds``
MIN_BLOCKS = 5_000


def _prepare(root: Path, seconds: float) -> tuple[LocalNode, LocalNode, int]:
    network = f"bench-{time.time_ns()}"
    alice_id, bob_id = Identity.generate(), Identity.generate()
    alice_data, _ = create_node(root / "alice", network=network, identity=alice_id, mdns=False)
    bob_data, _ = create_node(root / "bob", network=network, identity=bob_id, mdns=False)
    alice_lace, bob_lace = personal_lace(alice_id.member_id), personal_lace(bob_id.member_id)
    a0 = Block.create(alice_id, alice_lace, Befriend(bob_id.member_id), ())
    b0 = Block.create(bob_id, bob_lace, Befriend(alice_id.member_id), ())
    count = max(MIN_BLOCKS, int(seconds * RATE_GUESS))
    blocks = [a0]
    text = "a post of about a hundred and fifty characters, " * 3
    for i in range(count):
        blocks.append(Block.create(alice_id, alice_lace, Post(f"{i} {text}"), (blocks[-1].id,)))
    store = SqliteStore(str(alice_data.blocks_db), durability="normal")
    lace = Blocklace(store)
    for start in range(0, len(blocks), 4096):
        lace.add_many(blocks[start : start + 4096], verified=True)
    lace.add(b0, verified=True)
    store.close()
    store = SqliteStore(str(bob_data.blocks_db))
    lace = Blocklace(store)
    lace.add_many([a0, b0], verified=True)
    store.close()
    alice = LocalNode("alice", alice_data, alice_id.member_id)
    bob = LocalNode("bob", bob_data, bob_id.member_id)
    return alice, bob, len(blocks) + 1


def _stored(node: LocalNode) -> int:
    status = node.call("status")
    assert isinstance(status, dict)
    blocks = status.get("blocks")
    assert isinstance(blocks, int)
    return blocks


def measure_blocks_per_s(seconds: float) -> float:
    with tempfile.TemporaryDirectory(prefix="peoplenet-bench-") as tmp:
        alice, bob, total = _prepare(Path(tmp), seconds)
        try:
            alice.start()
            bob.start(peers=(alice.address,))
            start_count = _stored(bob)
            deadline = time.monotonic() + seconds * 4 + 30
            first_at: float | None = None
            first_count = start_count
            last_at, last_count = time.monotonic(), start_count
            while time.monotonic() < deadline:
                count = _stored(bob)
                now = time.monotonic()
                if first_at is None and count > start_count:
                    first_at, first_count = now, count
                if count != last_count:
                    last_at, last_count = now, count
                if count >= total or (first_at is not None and now - first_at >= seconds):
                    break
                time.sleep(0.02)
            if first_at is None or last_at <= first_at:
                raise RuntimeError(f"no blocks flowed (bob has {last_count} of {total})")
            return (last_count - first_count) / (last_at - first_at)
        finally:
            bob.stop()
            alice.stop()


def run(seconds: float) -> dict[str, float]:
    blocks_per_s = measure_blocks_per_s(seconds)
    thespian = thespian_tcp_one_way_rate(min(seconds, 5.0))
    return {
        "blocks_per_s": round(blocks_per_s, 1),
        "thespian_tcp_per_s": round(thespian, 1),
        "ratio": round(blocks_per_s / thespian, 3),
    }


def main() -> None:
    print(json.dumps(run(5.0)))


if __name__ == "__main__":
    main()
