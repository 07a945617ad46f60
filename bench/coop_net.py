"""Several members' cooperative consumers in one process, wired like the node wires them.

The ordered lace is simulated by one global order every consumer folds (what consensus
guarantees); app-lace messages travel between consumers through a queue, encoded and decoded
as on the wire.  Used by the currency app's tests and its benchmark.  With ``carry=True`` the
ordered transactions also travel in signed blocks every member checks and stores
(:mod:`peoplenet.bench.order_blocks`): what a benchmark of ordered transactions must pay for.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from peoplenet.actors.coop.charter_json import charter_from_json
from peoplenet.actors.coop.consumer import CoopConsumer
from peoplenet.actors.coop.coop_file import CoopFile, sign_founding
from peoplenet.actors.governance.charter import Founding
from peoplenet.actors.governance.records import Close, GovTx, Vote
from peoplenet.actors.governance.state import GovernanceState
from peoplenet.bench.order_blocks import OrderBlocks
from peoplenet.plugins.coop_apps import CoopApps
from peoplenet.runtime.consensus.beacon import anchor_beacon
from peoplenet.runtime.consensus.consumer import ConsumerOutput, IdentitySigner, Signer
from peoplenet.runtime.consensus.core import Delivery, tx_key
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import BlockId
from peoplenet.runtime.wire.codec import Value, encode

CHARTER = {
    "voting_period_ms": 1000,
    "rates": [{"name": "fee", "lo": 0, "hi": 10, "step": 1, "initial": 5}],
}


class BenchFailed(LocalError):
    """A job a work-app benchmark ran did not end as it must (a trip completed, paid and rated;
    an order fulfilled and paid), on every member's node: the run's figures would mean nothing."""


class CoopNet:
    """``n`` members' consumers, a shared order, and a lossless app-lace network.

    ``charter`` is the founding charter as JSON would give it (:data:`CHARTER` by default);
    a benchmark that elects an officer declares the office there."""

    def __init__(
        self,
        folder: Path,
        n: int = 4,
        seed: int = 1,
        *,
        carry: bool = False,
        charter: Mapping[str, Any] | None = None,
    ) -> None:
        self.people = sorted(
            (Identity.from_seed(bytes([seed, i + 1]) * 16) for i in range(n)),
            key=lambda i: i.member_id,
        )
        ids = tuple(sorted(bytes(p.member_id) for p in self.people))
        founding = charter_from_json(dict(CHARTER if charter is None else charter))
        coop = CoopFile(Founding("t", founding, ids, 1_000, ()), 500)
        for p in self.people:
            coop = sign_founding(coop, p)
        genesis = coop.genesis()
        self.genesis = genesis
        self.nodes: list[CoopConsumer] = []
        self.apps: list[CoopApps] = []
        """Each member's apps (the platform's, in a worker process), in member order."""
        self.homes: list[Path] = []
        for i, p in enumerate(self.people):
            home = folder / f"m{i}"
            home.mkdir(parents=True, exist_ok=True)
            (home / f"{genesis.lace().hex()}.founding").write_bytes(coop.founding_bytes())
            self.nodes.append(CoopConsumer(genesis, home, IdentitySigner(p), apps=self._apps))
            self.homes.append(home)
        self.index = {bytes(p.member_id): i for i, p in enumerate(self.people)}
        self.blocks = OrderBlocks(self.people, genesis.lace(), self.homes) if carry else None
        """The blocks carrying the order (``carry=True``), else none."""
        self.queue: deque[tuple[Identity, Value]] = deque()
        self.wire: deque[tuple[int, int, bytes]] = deque()
        self.position = 0
        self.now = 2_000
        self.messages = 0

    def _apps(
        self,
        state: GovernanceState,
        community: bytes,
        me: bytes,
        signer: Signer,
        *,
        folder: Path | None,
    ) -> CoopApps:
        """A member's apps, as a node runs them (kept here to read their states)."""
        apps = CoopApps(state, community, me, signer, folder=folder)
        self.apps.append(apps)
        return apps

    # -- plumbing ------------------------------------------------------------------------------

    def take(self, i: int, out: ConsumerOutput) -> None:
        """What node ``i`` asked for: its submissions join the order, its sends the wire."""
        for tx in out.submit:
            self.queue.append((self.people[i], tx))
        for peer, msg in out.sends:
            self.wire.append((i, self.index[peer], encode(msg)))

    def order(self) -> int:
        """Deliver everything submitted so far, in one order, to every node."""
        count = 0
        while self.queue:
            batch = list(self.queue)
            self.queue.clear()
            epoch = self.nodes[0].governance.state.genesis.epoch
            carriers = self._carry(batch)
            deliveries = []
            for who, tx in batch:
                block = carriers.get(bytes(who.member_id), BlockId(bytes(32)))
                deliveries.append(
                    Delivery(epoch, self.position, block, MemberId(who.member_id), tx)
                )
                self.position += 1
            self.now += 5
            # One batch stands for one step of the order: one beacon (a node's come from the
            # anchor's blocks: runtime/consensus/beacon.py), the same for every member.
            beacon = anchor_beacon([self.position.to_bytes(32, "big")])
            beacons = {bytes(d.block): beacon for d in deliveries}
            for i, node in enumerate(self.nodes):
                self.take(i, node.delivered(deliveries, [self.genesis], self.now, beacons))
            count += len(batch)
        return count

    def _carry(self, batch: list[tuple[Identity, Value]]) -> dict[bytes, BlockId]:
        """Each submitter's transactions of this step in one block of its (``carry=True``)."""
        if self.blocks is None:
            return {}
        by_member: dict[bytes, list[Value]] = {}
        for who, tx in batch:
            by_member.setdefault(bytes(who.member_id), []).append(tx)
        return {m: self.blocks.carry(self.index[m], txs) for m, txs in by_member.items()}

    def pump(self) -> int:
        """Carry app-lace messages until none is left; how many were carried."""
        carried = 0
        while self.wire:
            src, dst, data = self.wire.popleft()
            carried += 1
            out = self.nodes[dst].receive(bytes(self.people[src].member_id), data, self.now)
            self.take(dst, out)
        self.messages += carried
        return carried

    def settle(self) -> None:
        for _ in range(50):
            if not self.queue and not self.wire:
                return
            self.order()
            self.pump()
        raise AssertionError("the network did not settle")

    def connect(self) -> None:
        for i, node in enumerate(self.nodes):
            for q in self.people:
                if bytes(q.member_id) != node.me:
                    self.take(i, node.peer_up(bytes(q.member_id), self.now))
        self.settle()

    # -- cooperative actions -------------------------------------------------------------------

    def clocks(self) -> None:
        self.now += 10
        for p in self.people:
            self.queue.append((p, GovTx(self.now, Close(10_000))))
        self.order()

    def decide_app(
        self, name: str, settings: dict[str, Value], action: dict[str, Value] | None = None
    ) -> None:
        self.clocks()
        args: dict[str, Value] = {"kind": "app", "subject": name, "settings": json.dumps(settings)}
        if action is not None:
            args["action"] = json.dumps(action)
        _, out = self.nodes[0].command("coop_propose", args, self.now)
        open_tx = out.submit[0]
        self.queue.append((self.people[0], open_tx))
        self.order()
        number = len(self.nodes[0].governance.state.decisions)
        for p in self.people:
            self.queue.append((p, GovTx(self.now, Vote(number, True))))
        self.order()
        self.now += 2_000
        for p in self.people[:3]:
            self.queue.append((p, GovTx(self.now, Close(number))))
        self.settle()
        d = self.nodes[0].governance.state.decision(number)
        if d is None or not (d.adopted and d.applied):
            raise AssertionError(f"the app decision did not pass: {d}")

    def app(self, i: int, command: str, **args: Value) -> Any:
        result, out = self.nodes[i].command(
            "coop_app", {"app": "currency", "command": command, "args": args}, self.now
        )
        self.take(i, out)
        assert isinstance(result, dict)
        return result["result"]

    def status(self, i: int, tx: Value) -> Any:
        result, _ = self.nodes[i].command("coop_tx", {"key": tx_key(tx).hex()}, self.now)
        return result

    def hexid(self, i: int) -> str:
        return bytes(self.people[i].member_id).hex()

    def snapshots(self) -> Sequence[Value]:
        return [apps.host.snapshot("currency") for apps in self.apps]

    def cpu_s(self) -> float:
        """CPU seconds of this process and of every member's app worker (Linux ``/proc``):
        the apps' work happens in the workers, and a benchmark must count it."""
        total = time.process_time()
        tick = os.sysconf("SC_CLK_TCK")
        for apps in self.apps:
            pid = getattr(apps.host, "worker_pid", None)
            if pid is None:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total

    def close(self) -> None:
        """Stop every member's apps (worker processes included)."""
        for node in self.nodes:
            node.close()
        if self.blocks is not None:
            self.blocks.close()
