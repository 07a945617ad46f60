"""Payments benchmark: Flash payments through the currency app, CPU vs signature checks.

Three members' cooperative consumers run in this one process (bench/coop_net.py), each with
its apps in their own keyless worker process and its own SQLite app lace (CPU time counts this
process and the three workers), wired as the node wires them: every block is encoded, sent to every
other member, decoded, signature-checked, stored and folded by the currency ledger.  The payer
holds the third member's coins (from a credit line), so every payment is the full Flash
exchange: **issue** (payer), **approve** (the coins' sovereign), **accept** (payee), each
signed by its own node.

The ceiling is the raw cost of the signature checks those blocks imply, timed on the run's
own blocks in the same run: each block verified once per receiving member.
``ratio = cpu_ms_per_payment / verify_ms_per_payment_all_nodes``.
``payments_per_s`` is finalized (accepted) payments per CPU second of the run, all three
members sharing one process: a lower bound for what the payer's and payee's phones sustain.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from peoplenet.bench.coop_net import CoopNet
from peoplenet.runtime.keys.identity import verify
from peoplenet.runtime.lace.app_lace import app_lace_id
from peoplenet.runtime.lace.block import Block, LaceId
from peoplenet.runtime.lace.blocklace import Blocklace
from peoplenet.runtime.lace.store import SqliteStore


def run(payments: int = 200, *, folder: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        net = CoopNet(folder or Path(tmp), n=3)
        try:
            return _run(net, payments)
        finally:
            net.close()


def _lace_blocks(net: CoopNet, member: int, lace: bytes) -> list[Block]:
    """The member's copy of the app lace, read from the file its app worker writes."""
    store = SqliteStore(net.homes[member] / f"{lace.hex()}.app.sqlite")
    try:
        blocklace = Blocklace(store)
        return [blocklace.get(b) for b in blocklace.iter_lace(LaceId(lace))]
    finally:
        store.close()


def _run(net: CoopNet, payments: int) -> dict[str, Any]:
    net.connect()
    net.decide_app("currency", {})
    net.connect()
    payer, payee, sovereign = 0, 1, 2
    offer = net.app(
        sovereign, "credit", amount=10 * payments, limit=10 * payments, **{"with": net.hexid(payer)}
    )
    net.settle()
    net.app(payer, "credit", offer=offer["offer"], limit=10 * payments)
    net.settle()
    nodes = net.nodes
    lace = app_lace_id(net.genesis.community, "currency")
    before = {b.id for b in _lace_blocks(net, payee, lace)}
    messages = net.messages
    started = net.cpu_s()
    for _ in range(payments):
        net.app(payer, "pay", to=net.hexid(payee), amount=1, currency=net.hexid(sovereign))
        net.settle()
    cpu = net.cpu_s() - started
    new = [b for b in _lace_blocks(net, payee, lace) if b.id not in before]
    received = net.app(payee, "balance")["coins"].get(net.hexid(sovereign), 0)
    if received != payments:
        raise AssertionError(f"{received} of {payments} payments accepted")
    receivers = len(nodes) - 1
    t0 = time.process_time()
    for block in new:
        for _ in range(receivers):
            verify(block.creator, block.id, block.signature)
    verify_cpu = time.process_time() - t0
    cpu_ms = cpu * 1000 / payments
    verify_ms = verify_cpu * 1000 / payments
    return {
        "payments": payments,
        "payments_per_s": round(payments / cpu, 1),
        "blocks_per_payment": round(len(new) / payments, 2),
        "messages_per_payment": round((net.messages - messages) / payments, 2),
        "cpu_ms_per_payment": round(cpu_ms, 3),
        "verify_ms_per_payment_all_nodes": round(verify_ms, 3),
        "ratio": round(cpu_ms / verify_ms, 2),
    }


__all__ = ["run"]
