"""Real nodes on loopback: a phone restored from an older copy of its data directory learns its
own posts back from its friend before it posts (no reused sequence number, the friend takes
the new post), and a copied data directory running next to the original is caught."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.sim.localnet import LocalNode, create_node, wait_for

pytestmark = pytest.mark.processes

STEP = 30.0


def _feed(node: LocalNode) -> list[tuple[str, int]]:
    return [(i["text"], i["seq"]) for i in node.call("feed", {"limit": 50})]


def _friends(a: LocalNode, b: LocalNode) -> None:
    b.call("befriend", {"member": a.member.hex()})
    assert wait_for(lambda: a.call("friends")["pending"], STEP)
    a.call("accept", {"member": b.member.hex()})
    assert wait_for(lambda: a.call("status")["friends"] == 1, STEP)
    assert wait_for(lambda: b.call("status")["friends"] == 1, STEP)


def _texts(node: LocalNode, author: LocalNode) -> list[str]:
    return [
        i["text"] for i in node.call("feed", {"limit": 50}) if i["member"] == author.member.hex()
    ]


def _copy_blocks(src: Path, dst: Path) -> None:
    """Put ``src``'s lace files (a stopped node's) in place of ``dst``'s: a restored backup."""
    for suffix in ("", "-wal", "-shm"):
        target = dst / f"blocks.sqlite{suffix}"
        target.unlink(missing_ok=True)
        source = src / f"blocks.sqlite{suffix}"
        if source.exists():
            shutil.copy(source, target)


def _friends_after_one_post(
    tmp_path: Path, nodes: list[LocalNode], ids: list[Identity], network: str
) -> tuple[LocalNode, LocalNode]:
    """ana and ben (these identities) befriended; ana posted "one", ben has it; ana stopped."""
    made = []
    for name, identity in zip(("ana", "ben"), ids, strict=True):
        data, _ = create_node(tmp_path / name, network=network, mdns=False, identity=identity)
        made.append(LocalNode(name, data, identity.member_id))
    ana, ben = made
    nodes += made
    ana.start()
    ben.start(peers=(ana.address,))
    _friends(ana, ben)
    ana.call("post", {"text": "one"})
    assert wait_for(lambda: _texts(ben, ana) == ["one"], STEP)
    ana.stop()
    return ana, ben


def test_a_restored_phone_catches_up_before_posting_and_its_friend_takes_the_post(
    tmp_path: Path, nodes: list[LocalNode], capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [Identity.generate() for _ in range(2)]
    ana, ben = _friends_after_one_post(tmp_path, nodes, ids, f"restore-{time.time_ns()}")
    backup = tmp_path / "backup"
    backup.mkdir()
    _copy_blocks(ana.data.root, backup)  # the phone's backup, after its first post
    ana.start(peers=(ben.address,))
    for text in ("two", "three"):
        ana.call("post", {"text": text})
    assert wait_for(lambda: _texts(ben, ana) == ["one", "two", "three"], STEP)
    ana.stop()

    _copy_blocks(backup, ana.data.root)  # restored: "two" and "three" are gone from it
    started = time.monotonic()
    ana.start(peers=(ben.address,))
    ready = time.monotonic()
    posted = ana.call("post", {"text": "after the restore"})  # waits for ben's answer
    took = time.monotonic() - ready
    seqs = dict(_feed(ana))
    # after "three" (and the new address block): its positions were learnt back, not reused
    assert seqs["after the restore"] > seqs["three"]
    assert posted["block"]
    assert wait_for(lambda: _texts(ben, ana)[-1:] == ["after the restore"], STEP)
    status: dict[str, Any] = ana.call("status")
    assert status["own_chain"]["synced"] is True and status["problems"] == []
    assert ben.call("status")["problems"] == []
    with capsys.disabled():
        print(
            f"\nself-sync on loopback: post answered {took:.2f} s after the node was ready "
            f"({ready - started:.2f} s to start)"
        )


def test_a_copied_data_directory_next_to_the_original_is_caught(
    tmp_path: Path, nodes: list[LocalNode]
) -> None:
    network = f"twin-{time.time_ns()}"
    # Ben keeps one connection per member: with ana's id the smaller, a new connection from
    # "ana" replaces the old, so the copy gets in (and signs) in turns with the original.
    # (With ben's the smaller, the copy is never let in: it never syncs, so it signs nothing.)
    ids = sorted((Identity.generate() for _ in range(2)), key=lambda i: bytes(i.member_id))
    ana, ben = _friends_after_one_post(tmp_path, nodes, ids, network)
    shutil.copytree(ana.data.root, tmp_path / "copy")
    twin = LocalNode("ana-copy", type(ana.data)(tmp_path / "copy"), ana.member)
    nodes.append(twin)
    ana.start(peers=(ben.address,))
    assert wait_for(lambda: ana.call("status")["own_chain"]["synced"], STEP)
    twin.start(peers=(ben.address,))  # same identity, same friend: both sign (address, posts)

    def caught() -> bool:
        return bool(ana.call("status")["problems"])

    assert wait_for(caught, STEP)
    problem = ana.call("status")["problems"][0]
    assert problem["kind"] in ("another_device", "own_fork")
    assert "identity" in problem["advice"]
    with pytest.raises(Exception, match="refusing to sign") as refused:
        ana.call("post", {"text": "more"})
    assert "another device is using this identity" in str(refused.value) or "forked" in str(
        refused.value
    )
    assert any("own_chain_problem" in line for line in ana.lines)
