"""Names in app command arguments (plugins/arg_names.py): resolved before the node sees them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from peoplenet.plugins.arg_names import resolve_app_args
from peoplenet.runtime.cli import names, petnames
from peoplenet.runtime.cli.names import AmbiguousName, KnownMember
from peoplenet.runtime.cli.resolve import Namer, NodeNeededForName, resolve_coop_args
from peoplenet.runtime.keys.identity import Identity, fingerprint


def _namer(tmp_path: Path, known: list[bytes], pets: dict[str, bytes]) -> Namer:
    petnames.save(tmp_path, pets)
    namer = Namer(tmp_path)
    namer._known = names.merge([KnownMember(m, ("member of c",)) for m in known], pets)
    return namer


def _no_history() -> Any:
    raise AssertionError("history asked for without an offer prefix")


def test_member_arguments_resolve_by_petname_prefix_and_fingerprint(tmp_path: Path) -> None:
    ana, ben, cai = (bytes(Identity.generate().member_id) for _ in range(3))
    namer = _namer(tmp_path, [ana, ben, cai], {"ana": ana})
    given = {
        "to": "ana",
        "with": ben.hex()[:10],
        "sovereign": fingerprint(cai),
        "prefer": f"ana, {fingerprint(ben)}",
        "amount": "5",
        "memo": "deadbeef",
    }
    out = resolve_app_args(given, namer, _no_history)
    assert out == {
        "to": ana.hex(),
        "with": ben.hex(),
        "sovereign": cai.hex(),
        "prefer": f"{ana.hex()},{ben.hex()}",
        "amount": "5",
        "memo": "deadbeef",
    }
    listed = resolve_app_args({"prefer": '["ana"]'}, namer, _no_history)
    assert listed == {"prefer": ana.hex()}


def test_currency_keywords_stay_and_members_resolve(tmp_path: Path) -> None:
    ana = bytes(Identity.generate().member_id)
    namer = _namer(tmp_path, [ana], {"ana": ana})
    for word in ("mine", "community", ""):
        assert resolve_app_args({"currency": word}, namer, _no_history) == {"currency": word}
    assert resolve_app_args({"currency": "ana"}, namer, _no_history) == {"currency": ana.hex()}


def test_offer_prefix_resolves_among_incoming_blocks(tmp_path: Path) -> None:
    namer = _namer(tmp_path, [], {})
    offer, other, mine = "ab12cd34" + "0" * 56, "ab12cd35" + "0" * 56, "ab12cd36" + "0" * 56
    rows = [
        {"block": offer, "kind": "incoming"},
        {"block": other, "kind": "incoming"},
        {"block": mine, "kind": "credit"},
    ]

    def history() -> Any:
        return {"coins": rows, "cooperative": []}

    assert resolve_app_args({"offer": "ab12cd34"}, namer, history) == {"offer": offer}
    assert resolve_app_args({"offer": offer}, namer, _no_history) == {"offer": offer}
    with pytest.raises(AmbiguousName, match="2 credit offers"):
        resolve_app_args({"offer": "ab12cd3"[:7] + "0"}, namer, lambda: {"coins": [
            {"block": "ab12cd30" + "1" * 56, "kind": "incoming"},
            {"block": "ab12cd30" + "2" * 56, "kind": "incoming"},
        ]})  # fmt: skip


def test_a_prefix_without_a_node_says_the_node_is_needed(tmp_path: Path) -> None:
    namer = Namer(tmp_path)  # no node runs here: no control socket
    with pytest.raises(NodeNeededForName, match="no node is running"):
        namer.member("0123456789abcdef")
    with pytest.raises(names.NameTooShort):
        namer.member("0123")
    with pytest.raises(names.UnknownName, match="neither a petname"):
        namer.member("zoe")


def test_coop_arguments_resolve_in_place(tmp_path: Path) -> None:
    ana, ben = (bytes(Identity.generate().member_id) for _ in range(2))
    namer = _namer(tmp_path, [ana, ben], {"ana": ana})
    vote = argparse.Namespace(action="vote", decision="#4")
    resolve_coop_args(vote, namer)
    assert vote.decision == 4
    admit = argparse.Namespace(kind="admission", subject=fingerprint(ben), candidates=[])
    resolve_coop_args(admit, namer)
    assert admit.subject == ben.hex()
    officer = argparse.Namespace(kind="officer", subject="chair", candidates=["ana", "vacant"])
    resolve_coop_args(officer, namer)
    assert officer.candidates == [ana.hex(), "vacant"]
    mint = argparse.Namespace(
        kind="app", subject="currency", candidates=[], app_action='{"mint": 100, "to": "ana"}'
    )
    resolve_coop_args(mint, namer)
    assert json.loads(mint.app_action) == {"mint": 100, "to": ana.hex()}
    vouch = argparse.Namespace(with_member=ben.hex()[:9])
    resolve_coop_args(vouch, namer)
    assert vouch.with_member == ben.hex()
