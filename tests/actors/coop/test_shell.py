"""The cooperative's node shell without processes: founding file, charter JSON, the consumer's
commands and duties, sureties through the restricted signer, and the audit catching a change."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from peoplenet.actors.coop.audit import audit
from peoplenet.actors.coop.charter_json import CharterFileError, charter_from_json
from peoplenet.actors.coop.consumer import CoopCommandRefused, CoopConsumer, fold_history
from peoplenet.actors.coop.coop_file import CoopFile, CoopFileError, read_coop_file, sign_founding
from peoplenet.actors.coop.coop_file import write_coop_file as write_file
from peoplenet.actors.governance.charter import Founding
from peoplenet.actors.governance.records import Close, EpochApproval, GovTx, Vote
from peoplenet.plugins.coop_apps import CoopApps
from peoplenet.runtime.consensus.constitution import Amendment
from peoplenet.runtime.consensus.consumer import ConsumerError, IdentitySigner
from peoplenet.runtime.consensus.core import Delivery, tx_key
from peoplenet.runtime.consensus.order_store import CommunityStore
from peoplenet.runtime.keys.identity import Identity, MemberId
from peoplenet.runtime.lace.block import BlockId
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.wire.codec import Value, encode

CHARTER = {
    "voting_period_ms": 1000,
    "rates": [{"name": "fee", "lo": 0, "hi": 10, "step": 0.5, "initial": 5}],
}


def _people(n: int) -> list[Identity]:
    return sorted(
        (Identity.from_seed(bytes([i + 1]) * 32) for i in range(n)), key=lambda i: i.member_id
    )


def _coop(people: list[Identity], at: int = 1_000) -> CoopFile:
    ids = tuple(sorted(bytes(p.member_id) for p in people))
    coop = CoopFile(Founding("t", charter_from_json(CHARTER), ids, at, ()), 500)
    for p in people:
        coop = sign_founding(coop, p)
    return coop


def _consumer(tmp_path: Path, coop: CoopFile, who: Identity) -> CoopConsumer:
    genesis = coop.genesis()
    (tmp_path / f"{genesis.lace().hex()}.founding").write_bytes(coop.founding_bytes())
    return CoopConsumer(genesis, tmp_path, IdentitySigner(who), apps=CoopApps)


def _deliver(
    consumer: CoopConsumer, txs: Sequence[tuple[Identity, Value]], now: int
) -> list[Value]:
    state = consumer.governance.state
    start = consumer.delivered_count
    batch = [
        Delivery(state.genesis.epoch, start + i, BlockId(bytes(32)), MemberId(p.member_id), tx)
        for i, (p, tx) in enumerate(txs)
    ]
    return list(consumer.delivered(batch, [state.genesis], now).submit)


def test_founding_file_collects_signatures_and_refuses_outsiders(tmp_path: Path) -> None:
    people = _people(3)
    ids = tuple(sorted(bytes(p.member_id) for p in people))
    draft = CoopFile(Founding("t", charter_from_json({}), ids, 5, ()), 500)
    with pytest.raises(CoopFileError, match="still to sign"):
        draft.complete()
    one = sign_founding(draft, people[0])
    assert one.signers() == [people[0].member_id]
    with pytest.raises(CoopFileError, match="not one of"):
        sign_founding(one, Identity.generate())
    path = tmp_path / "f.coop"
    write_file(path, one)
    again = read_coop_file(path)
    assert again.signers() == [people[0].member_id]
    # a forged signature in the file is simply not counted
    forged = CoopFile(again.founding, 500, ((bytes(people[1].member_id), bytes(64)),))
    assert forged.signers() == []
    full = sign_founding(sign_founding(one, people[1]), people[2])
    assert full.complete().signatures and full.genesis().community.startswith(b"f/")
    (tmp_path / "junk.coop").write_bytes(b"\x93\x01\x02")
    with pytest.raises(CoopFileError, match="not a founding file"):
        read_coop_file(tmp_path / "junk.coop")


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ([], "a JSON object"),
        ({"colour": 1}, "unknown charter keys"),
        ({"threshold": True}, "expected a number"),
        ({"threshold": "2"}, "invalid charter"),
        ({"rates": [{"name": "x", "lo": 0, "hi": 1, "step": 3, "initial": 0, "z": 1}]}, "unknown"),
        ({"rates": [{"name": "x", "lo": 0, "hi": 1, "step": 0.5, "initial": 0.3}]}, "invalid"),
        ({"budgets": [{"name": "b", "items": ["a"], "total": 3, "initial": [2]}]}, "invalid"),
        ({"voting_period_ms": "soon"}, "an integer"),
    ],
)
def test_charter_json_errors_name_the_problem(doc: object, match: str) -> None:
    with pytest.raises(CharterFileError, match=match):
        charter_from_json(doc)


def test_charter_json_reads_numbers_exactly() -> None:
    charter = charter_from_json(json.loads('{"threshold": 0.6, "rates": []}'))
    assert charter.threshold == "3/5"


def test_consumer_commands_and_typed_refusals(tmp_path: Path) -> None:
    people = _people(4)
    consumer = _consumer(tmp_path, _coop(people), people[0])
    result, out = consumer.command(
        "coop_propose", {"kind": "rate", "subject": "fee", "proposal": "4.5"}, 2_000
    )
    assert isinstance(result, dict) and out.submit and isinstance(out.submit[0], GovTx)
    _deliver(consumer, [(people[0], out.submit[0])], 2_000)
    state = consumer.governance.state
    assert len(state.decisions) == 1
    status, _ = consumer.command("coop_tx", {"key": tx_key(out.submit[0]).hex()}, 2_001)
    assert isinstance(status, dict) and status["status"] == "applied" and status["opened"] == 1
    _, vote = consumer.command("coop_vote", {"decision": 1, "ballot": "4.5"}, 2_002)
    tx = vote.submit[0]
    assert isinstance(tx, GovTx) and tx.action == Vote(1, "9/2")
    cases: list[tuple[str, Mapping[str, Value], str]] = [
        ("coop_vote", {"decision": 7, "ballot": "1"}, "no decision #7"),
        ("coop_vote", {"decision": 1, "ballot": "{"}, "not JSON"),
        ("coop_vote", {"decision": 1, "ballot": "[1.5]"}, "expected a number"),
        ("coop_propose", {"kind": "rate"}, "subject is required"),
        ("coop_propose", {"kind": "nonsense", "subject": "x"}, "unknown decision kind"),
        ("coop_propose", {"kind": "admission", "subject": "zz"}, "64-hex"),
        ("coop_propose", {"kind": "app", "subject": "cur", "settings": "[1]"}, "JSON object"),
        ("coop_countersign", {"half": "00"}, "not a surety half"),
        ("coop_vouch", {"member": people[0].member_id.hex()}, "two different people"),
        ("coop_fly", {}, "unknown cooperative operation"),
    ]
    for op, args, match in cases:
        with pytest.raises(CoopCommandRefused, match=match):
            consumer.command(op, args, 2_003)


def test_surety_halves_complete_only_for_the_named_person(tmp_path: Path) -> None:
    people = _people(3)
    coop = _coop(people)
    candidate = Identity.from_seed(b"\x77" * 32)
    (tmp_path / "c").mkdir()
    asker = _consumer(tmp_path / "c", coop, candidate)
    half, _ = asker.command("coop_vouch", {"member": people[0].member_id.hex()}, 1)
    assert isinstance(half, dict)
    (tmp_path / "m").mkdir()
    member = _consumer(tmp_path / "m", coop, people[0])
    _, out = member.command("coop_countersign", {"half": half["half"]}, 2)
    _deliver(member, [(people[0], out.submit[0])], 3)
    assert member.governance.state.surety_count(bytes(candidate.member_id)) == 1
    (tmp_path / "o").mkdir()
    other = _consumer(tmp_path / "o", coop, people[1])
    with pytest.raises(CoopCommandRefused, match="names someone else"):
        other.command("coop_countersign", {"half": half["half"]}, 4)


def test_signer_refuses_other_domains_and_bare_digests() -> None:
    signer = IdentitySigner(Identity.generate())
    with pytest.raises(ConsumerError, match="may not sign"):
        signer.sign(b"peoplenet/block", bytes(32))
    with pytest.raises(ConsumerError, match="32-byte"):
        signer.sign(b"peoplenet/surety", b"short")


def test_duties_close_due_decisions_and_bridge_to_the_next_epoch(tmp_path: Path) -> None:
    people = _people(4)
    coop = _coop(people, at=0)
    consumer = _consumer(tmp_path, coop, people[0])
    _, out = consumer.command("coop_propose", {"kind": "rate", "subject": "fee"}, 10)
    submitted = _deliver(consumer, [(people[0], out.submit[0])], 10)
    assert submitted == []  # nothing due yet
    due = consumer.tick(5_000)
    assert [type(t.action) for t in due.submit if isinstance(t, GovTx)] == [Close]
    assert consumer.tick(5_001).submit == ()  # asked already; retried later
    assert consumer.tick(5_000 + 5_001).submit  # still open: ask again

    # a removal changes the participants: every participant approves the target
    (tmp_path / "x").mkdir()
    bridge = _consumer(tmp_path / "x", coop, people[0])
    _, opened = bridge.command(
        "coop_propose", {"kind": "removal", "subject": people[3].member_id.hex()}, 10
    )
    _deliver(bridge, [(people[0], opened.submit[0])], 10)
    votes = []
    for p in people[:3]:
        votes.append((p, GovTx(20, Vote(1, True))))
    _deliver(bridge, votes, 20)
    closes = [(p, GovTx(3_000, Close(1))) for p in people]
    duties = _deliver(bridge, closes, 3_000)
    assert bridge.governance.state.consensus_target() is not None
    approvals = [t for t in duties if isinstance(t, GovTx) and isinstance(t.action, EpochApproval)]
    assert len(approvals) == 1
    lace = bytes(bridge.governance.state.genesis.lace())
    target = bridge.governance.state.consensus_target()
    assert target is not None
    theirs = [
        (p, GovTx(3_001, EpochApproval(IdentitySigner(p).approve(lace, target))))
        for p in people[:3]
    ]
    after = _deliver(bridge, theirs, 3_001)
    amendments = [t for t in after if isinstance(t, Amendment)]
    assert len(amendments) == 1 and amendments[0].constitution == target


def test_audit_recomputes_and_catches_a_changed_order(tmp_path: Path) -> None:
    """The audit's fold from scratch equals the consumer's; a doctored stored order is caught."""
    people = _people(4)
    coop = _coop(people)
    consumer = _consumer(tmp_path, coop, people[0])
    _, out = consumer.command("coop_propose", {"kind": "rate", "subject": "fee"}, 2_000)
    batch = [(people[0], out.submit[0])]
    _deliver(consumer, batch, 2_000)
    history = [Delivery(0, 0, BlockId(bytes(32)), MemberId(people[0].member_id), out.submit[0])]
    replayed = fold_history(coop.complete(), coop.genesis(), history)
    assert replayed.state.digest() == consumer.governance.state.digest()

    # a data dir with the founding but a stored order no block supports
    data = DataDir(tmp_path / "node")
    lace_hex = coop.genesis().lace().hex()
    data.save_community_file(lace_hex, "founding", coop.founding_bytes())
    data.save_community_file(lace_hex, "name", b"t")
    data.save_genesis(lace_hex, coop.genesis_bytes())
    store = CommunityStore(data.communities / f"{lace_hex}.order.sqlite")
    store.record(history)
    store.close()
    report = audit(data, "t")
    assert report.transactions == 0 and report.stored_transactions == 1
    assert report.mismatches and "order only 0" in report.mismatches[0]
    assert report.as_json()["ok"] is False
    assert encode(out.submit[0])  # the doctored transaction itself was well formed
