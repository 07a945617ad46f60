"""``peoplenet audit``: recompute a cooperative from its signed blocks and compare.

Any member can check that nothing was quietly changed: the audit copies the node's epoch
blocklace (a consistent SQLite backup, safe while the node runs), lets a fresh consensus core
replay it -- every signature re-verified, the order recomputed from the blocks alone -- and
compares that order with the order the node delivered.  Then it folds the recomputed order
from the founding, which recomputes every decision, and compares the resulting state with the
running node's (when it runs).  Any difference is listed; the exit status says whether there
was one.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peoplenet.actors.coop.consumer import fold_history
from peoplenet.actors.governance.charter import Founding
from peoplenet.runtime.consensus.constitution import Genesis
from peoplenet.runtime.consensus.core import ConsensusCore, Delivery
from peoplenet.runtime.consensus.order_store import CommunityStore
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import SqliteStore
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.wire.codec import decode_as, encode


class AuditError(LocalError):
    """The audit cannot run: no such cooperative on this node, or its files are unreadable."""

    reason = "audit_failed"


@dataclass
class AuditReport:
    community: str
    lace: str
    epochs: int = 0
    transactions: int = 0
    stored_transactions: int = 0
    decisions: int = 0
    rejected: int = 0
    state_digest: str = ""
    live_digest: str | None = None
    mismatches: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "community": self.community,
            "lace": self.lace,
            "epochs": self.epochs,
            "transactions": self.transactions,
            "stored_transactions": self.stored_transactions,
            "decisions": self.decisions,
            "rejected": self.rejected,
            "state_digest": self.state_digest,
            "live_digest": self.live_digest,
            "mismatches": list(self.mismatches),
            "ok": not self.mismatches,
        }


def find_coop(data: DataDir, text: str) -> tuple[str, Genesis, Founding]:
    """The lace hex, first genesis and founding of the joined cooperative named ``text``."""
    matches: list[str] = []
    for path in sorted(data.communities.glob("*.founding")) if data.communities.is_dir() else []:
        lace_hex = path.stem
        name = data.community_file(lace_hex, "name")
        if (name is not None and name.decode("utf-8", "replace") == text) or lace_hex.startswith(
            text
        ):
            matches.append(lace_hex)
    if len(matches) != 1:
        raise AuditError(
            f"no joined cooperative {text!r}" if not matches else f"{text!r} is ambiguous"
        )
    lace_hex = matches[0]
    genesis_raw = data.community_file(lace_hex, "genesis")
    founding_raw = data.community_file(lace_hex, "founding")
    if genesis_raw is None or founding_raw is None:
        raise AuditError(f"cooperative {text!r} is missing its genesis or founding file")
    return lace_hex, decode_as(Genesis, genesis_raw), decode_as(Founding, founding_raw)


def recompute_order(blocks_file: Path, genesis: Genesis) -> tuple[list[Delivery], int]:
    """Replay a copy of the epoch blocklace: the order and the number of epochs it yields."""
    if not blocks_file.is_file():  # joined, but not one block received yet
        return [], 1
    with tempfile.TemporaryDirectory(prefix="peoplenet-audit-") as tmp:
        copy = Path(tmp) / "lace.sqlite"
        try:
            source = sqlite3.connect(f"file:{blocks_file}?mode=ro", uri=True)
            try:
                target = sqlite3.connect(copy)
                try:
                    source.backup(target)
                finally:
                    target.close()
            finally:
                source.close()
        except sqlite3.Error as exc:
            raise AuditError(f"cannot copy {blocks_file}: {exc}") from exc
        store = SqliteStore(copy)
        try:
            core = ConsensusCore(Identity.generate(), genesis, Blocklace(store), produce=False)
            out = core.start(time.monotonic())
            return list(out.deliveries), len(core.epoch_geneses())
        finally:
            store.close()


def audit(data: DataDir, text: str, live: dict[str, Any] | None = None) -> AuditReport:
    lace_hex, genesis, founding = find_coop(data, text)
    report = AuditReport(founding.name, lace_hex)
    # The stored order first: every block it needs is in the blocklace before it is recorded,
    # so a node that keeps running while we copy can only make the copy longer, not shorter.
    store = CommunityStore(data.communities / f"{lace_hex}.order.sqlite")
    try:
        stored = store.order(0, 1 << 62)
    finally:
        store.close()
    order, report.epochs = recompute_order(data.communities / f"{lace_hex}.sqlite", genesis)
    report.transactions = len(order)
    report.stored_transactions = len(stored)
    for d, row in zip(order, stored, strict=False):
        same = (d.epoch, d.position, bytes(d.block), bytes(d.creator), encode(d.tx)) == (
            row.epoch,
            row.position,
            row.block,
            row.creator,
            row.tx,
        )
        if not same:
            report.mismatches.append(
                f"order differs at epoch {row.epoch} position {row.position}: the node "
                "delivered a transaction the blocks do not order there"
            )
            break
    if len(stored) > len(order):
        report.mismatches.append(
            f"the node delivered {len(stored)} transactions; its blocks order only {len(order)}"
        )
    governance = fold_history(founding, genesis, order)
    state = governance.state
    report.decisions = len(state.decisions)
    report.rejected = state.rejection_count
    report.state_digest = state.digest().hex()
    if live is not None:
        report.live_digest = str(live.get("digest"))
        live_count = live.get("delivered")
        if live_count == len(order) and report.live_digest != report.state_digest:
            report.mismatches.append("the running node's state differs from the recomputed one")
    return report


__all__ = ["AuditError", "AuditReport", "audit", "find_coop", "recompute_order"]
