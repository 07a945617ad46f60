"""The naming rules of the command line (runtime/cli/names.py), petname storage and option
placement."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from peoplenet import main as cli
from peoplenet.runtime.cli import names, petnames
from peoplenet.runtime.cli import options as cli_options
from peoplenet.runtime.cli.names import (
    AmbiguousName,
    InvalidName,
    InvalidPetname,
    KnownMember,
    NameTooShort,
    NamingError,
    PetnameTaken,
    UnknownName,
    UnverifiedName,
    resolve_member,
)
from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import Identity, fingerprint


def _ids(n: int) -> list[bytes]:
    return [bytes(Identity.generate().member_id) for _ in range(n)]


def _with_prefix(prefix: str, n: int) -> list[bytes]:
    """``n`` made-up member ids that share a hex prefix (no key needed to name one)."""
    return [bytes.fromhex(prefix + f"{i:02x}" * ((64 - len(prefix)) // 2)) for i in range(n)]


def test_every_error_is_a_typed_local_error() -> None:
    for cls in (
        AmbiguousName,
        InvalidName,
        InvalidPetname,
        NameTooShort,
        PetnameTaken,
        UnknownName,
        UnverifiedName,
    ):
        assert issubclass(cls, NamingError)
        assert issubclass(cls, LocalError)


def test_full_id_fingerprint_and_prefix_name_the_member() -> None:
    a, b = _ids(2)
    known = [KnownMember(a, ("friend",)), KnownMember(b, ("friend",))]
    assert resolve_member(a.hex(), known) == a
    assert resolve_member(a.hex().upper(), known) == a
    assert resolve_member(f"  {fingerprint(a)} ", known) == a
    assert resolve_member(fingerprint(a).replace("-", ""), known) == a
    assert resolve_member(fingerprint(a).upper(), known) == a
    assert resolve_member(a.hex()[:8], known) == a
    assert resolve_member(fingerprint(a)[:9], known) == a  # "k3tq-7xwa": dashes not counted
    stranger = _ids(1)[0]
    assert resolve_member(stranger.hex(), known) == stranger  # a full id names any key


def test_petname_wins_and_works_without_a_directory() -> None:
    (a,) = _ids(1)
    assert resolve_member("Ana", [], {"ana": a}) == a
    assert resolve_member(" ana ", [], {"ana": a}) == a


def test_ambiguous_prefix_lists_every_candidate_with_fingerprint_and_petname() -> None:
    a, b = _with_prefix("deadbeef", 2)
    known = names.merge([KnownMember(a, ("friend",)), KnownMember(b, ("blocks",))], {"bo": b})
    with pytest.raises(AmbiguousName) as caught:
        resolve_member("deadbeef", known)
    assert set(caught.value.candidates) == {k.label() for k in known}
    text = str(caught.value)
    assert fingerprint(a) in text
    assert fingerprint(b) in text
    assert "(bo)" in text


def test_too_short_prefix_is_refused_even_when_unique_with_candidates() -> None:
    (a,) = _ids(1)
    known = names.merge([KnownMember(a, ("friend",))], {"ana": a})
    with pytest.raises(NameTooShort, match="at least 8") as caught:
        resolve_member(a.hex()[:7], known)
    assert caught.value.candidates == (known[0].label(),)
    assert fingerprint(a) in str(caught.value) and "(ana)" in str(caught.value)
    with pytest.raises(NameTooShort):
        resolve_member(fingerprint(a)[:8], known)  # 7 characters and a dash
    pending = [KnownMember(a, ("pending request",), verified=False)]
    with pytest.raises(NameTooShort) as unverified:
        resolve_member(a.hex()[:7], pending)
    assert unverified.value.candidates == ()  # never offered as a candidate


def test_unknown_prefix_says_no_member_matches_and_lists_the_known() -> None:
    a, b = _ids(2)
    known = names.merge([KnownMember(a, ("friend",))], {"ana": a})
    prefix = "0123456789abcdef" if not b.hex().startswith("0123") else "fedcba9876543210"
    with pytest.raises(UnknownName, match="no known member matches the prefix") as caught:
        resolve_member(prefix, known)
    assert fingerprint(a) in str(caught.value)
    assert "ana" in str(caught.value)
    with pytest.raises(UnknownName, match="no member this node knows has fingerprint"):
        resolve_member(fingerprint(b), known)
    with pytest.raises(UnknownName, match="neither a petname"):
        resolve_member("nobody", known)
    with pytest.raises(InvalidName):
        resolve_member("  ", known)


def test_pending_request_squatting_a_prefix_is_never_resolved() -> None:
    (friend,) = _with_prefix("a1b2c3d4e5", 1)
    # A stranger's request whose key was ground to share the friend's first characters.
    (squatter,) = _with_prefix("a1b2c3d4", 1)
    squatter = squatter[:4] + b"\xff" + squatter[5:]
    pending = KnownMember(squatter, ("pending request",), verified=False)
    # Before the friend is known, the prefix would reach only the squatter: refused.
    with pytest.raises(UnverifiedName, match="full fingerprint"):
        resolve_member("a1b2c3d4", [pending])
    with pytest.raises(UnverifiedName):
        resolve_member(fingerprint(squatter)[:14], [pending])
    # Once the friend is known, the prefix names the friend, never the squatter.
    known = [KnownMember(friend, ("friend",)), pending]
    assert resolve_member("a1b2c3d4", known) == friend
    # The request itself is named by its full fingerprint or full id only.
    assert resolve_member(fingerprint(squatter), known) == squatter
    assert resolve_member(squatter.hex(), known) == squatter


def test_merge_joins_sources_and_verification() -> None:
    (a,) = _ids(1)
    (b,) = _ids(1)
    merged = names.merge(
        [
            KnownMember(a, ("pending request",), verified=False),
            KnownMember(a, ("member of riders",)),
        ],
        {"bea": b},
    )
    by = {k.member: k for k in merged}
    assert by[a].verified
    assert by[a].sources == ("pending request", "member of riders")
    assert by[b].petname == "bea"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        " ana",
        "ana ",
        "a" * 41,
        "an\x00a",
        "an\u200ba",
        "tab\tname",
        "-ana",
        "cafe",
        "DEADBEEF",
        "k3tq-7xwa",
        "k3tq-",
        "abcdefghijk2mnop",
        "#3",
        "42",
    ],
)
def test_petnames_that_could_be_confused_are_refused(bad: str) -> None:
    with pytest.raises(InvalidPetname):
        names.check_petname(bad)


def test_petnames_are_unique_one_per_member_and_removable() -> None:
    a, b = _ids(2)
    table = names.set_petname({}, "ana", a)
    assert names.check_petname("Ana María") == "Ana María"
    with pytest.raises(PetnameTaken):
        names.set_petname(table, "ANA", b)
    table = names.set_petname(table, "ana2", a)  # renaming a member drops the old name
    assert table == {"ana2": a}
    assert names.remove_petname(table, "ANA2") == {}
    with pytest.raises(UnknownName, match="no petname"):
        names.remove_petname(table, "zoe")


def test_block_ids_resolve_by_unique_prefix() -> None:
    x, y = _with_prefix("0badc0de", 2)
    (z,) = _with_prefix("facefeed", 1)
    ids = [x, y, z]
    assert names.resolve_id(z.hex(), ids) == z
    assert names.resolve_id("facefeed", ids) == z
    with pytest.raises(AmbiguousName, match="matches 2 blocks"):
        names.resolve_id("0badc0de", ids)
    with pytest.raises(NameTooShort) as short:
        names.resolve_id("face", ids)
    assert short.value.candidates == (z.hex(),)
    with pytest.raises(UnknownName, match="no credit offer"):
        names.resolve_id("12345678", ids, "credit offer")
    with pytest.raises(InvalidName):
        names.resolve_id("not hex!", ids)


def test_decision_numbers() -> None:
    assert names.decision_number("3") == 3
    assert names.decision_number("#12") == 12
    for bad in ("three", "-1", "#", "٣"):
        with pytest.raises(InvalidName):
            names.decision_number(bad)


# -- the petname file ----------------------------------------------------------------------------


def test_petname_file_round_trip_is_private(tmp_path: Path) -> None:
    a, b = _ids(2)
    assert petnames.load(tmp_path) == {}
    petnames.save(tmp_path, {"ana": a, "bo": b})
    path = petnames.petnames_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert petnames.load(tmp_path) == {"ana": a, "bo": b}
    assert [p.name for p in tmp_path.iterdir()] == [petnames.FILE_NAME]  # no temp file left


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"version": 2, "names": {}}),
        json.dumps({"version": 1, "names": {"ana": "00"}}),
        json.dumps({"version": 1, "names": {"cafe": "00" * 32}}),
    ],
)
def test_damaged_petname_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    petnames.petnames_path(tmp_path).write_text(content)
    with pytest.raises(petnames.PetnameFileError, match="fix or remove it"):
        petnames.load(tmp_path)


# -- --data and --json anywhere ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--data", "D", "friends", "add", "X"],
        ["friends", "--data", "D", "add", "X"],
        ["friends", "add", "X", "--data", "D"],
        ["friends", "add", "--data", "D", "X"],
    ],
)
def test_data_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = cli_options.fill_defaults(cli.build_parser().parse_args(argv))
    assert args.data == "D"
    assert args.member == "X"
    assert args.json is False


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "coop", "show", "c"],
        ["coop", "--json", "show", "c"],
        ["coop", "show", "c", "--json"],
        ["--json", "friends"],
        ["friends", "list", "--json"],
        ["--json", "pay", "c", "--to", "x"],
        ["--json", "bench", "ingest"],
        ["--json", "community", "create", "n", "--member", "m", "--out", "f"],
    ],
)
def test_json_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = cli_options.fill_defaults(cli.build_parser().parse_args(argv))
    assert args.json is True


def test_defaults_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEOPLENET_DATA", "/from/env")
    args = cli_options.fill_defaults(
        cli.build_parser().parse_args(["coop", "vote", "c", "#2", "1"])
    )
    assert (args.data, args.json, args.decision) == ("/from/env", False, "#2")
