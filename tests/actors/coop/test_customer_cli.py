"""``peoplenet customer``: what a customer types, refused in words before anything is sent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from peoplenet import main as cli
from peoplenet.actors.coop.profile_file import write_profile
from peoplenet.actors.work.profile import CoopProfile, ProfileMember
from peoplenet.runtime.sim.localnet import PASSPHRASE, create_node

MEMBERS = (ProfileMember(bytes([1]) * 32, "127.0.0.1", 1), ProfileMember(bytes([2]) * 32, "", 0))
PROFILE = CoopProfile(b"f/" + bytes(32), "riders", MEMBERS, ("orders",), 7)


@pytest.fixture
def customer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    data, _ = create_node(tmp_path / "rider", network="customer-cli", mdns=False)
    monkeypatch.setenv("PEOPLENET_PASSPHRASE", PASSPHRASE)
    write_profile(tmp_path / "riders.profile", PROFILE)
    return str(data.root)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    os.environ["PEOPLENET_PASSPHRASE"] = PASSPHRASE  # each run takes it out (the fixture restores)
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_keeps_the_profile_and_lists_it(
    customer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = str(tmp_path / "riders.profile")
    code, out, _ = run(capsys, "customer", "import", "--data", customer, profile, "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["coop"], shown["apps"], len(shown["members"])) == ("riders", ["orders"], 2)
    assert Path(shown["file"]).parent == Path(customer) / "customer"
    code, out, _ = run(capsys, "customer", "coops", "--data", customer)
    assert code == 0
    assert "riders (2 members; orders); profile fingerprint" in out


def test_a_request_is_refused_in_words_before_anything_is_signed_or_sent(
    customer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "customer", "import", "--data", customer, str(tmp_path / "riders.profile"))
    bad = "bad_customer_command"
    d = ("--data", customer)
    cases = [
        (("request", *d, "nowhere", "orders", "--body", "{}"), "unknown_coop"),
        (("request", *d, "riders", "rides", "--body", "{}"), bad),  # an app it does not run
        (("request", *d, "riders", "orders", "--body", "{"), bad),
        (("request", *d, "riders", "orders", "--body", "1.5"), bad),  # no floats
        (("resend", *d, "riders", "*"), bad),
        (("resend", *d, "riders", "abcdef0123"), bad),  # no such request kept
        (("status", *d, "riders", "xyz"), bad),
    ]
    for args, reason in cases:
        code, _, err = run(capsys, "customer", *args, "--json")
        assert code == 2, args
        assert json.loads(err.strip().splitlines()[-1])["reason"] == reason, args
    assert not (Path(customer) / "customer" / "requests").exists()  # nothing was signed


def test_a_request_no_member_answers_says_so(
    customer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "customer", "import", "--data", customer, str(tmp_path / "riders.profile"))
    body = '{"a": 1}'
    args = ("request", "--data", customer, "riders", "orders", "--body", body, "--json")
    code, _, err = run(capsys, "customer", *args)
    assert code == 2
    refusal = json.loads(err.strip().splitlines()[-1])
    assert refusal["reason"] == "no_carrier"
    assert "01010101" in refusal["error"]  # the member it tried (port 1: nobody listens)
    kept = list((Path(customer) / "customer" / "requests").glob("*.request"))
    assert len(kept) == 1  # signed and kept: `customer resend` can send it once a node is up
