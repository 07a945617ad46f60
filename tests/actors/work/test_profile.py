"""The cooperative's public profile: built from a member's node's answers, written, imported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from peoplenet.actors.coop.profile_file import (
    ProfileFileError,
    build_profile,
    read_profile,
    write_profile,
)
from peoplenet.actors.work.profile import (
    CoopProfile,
    InvalidProfile,
    ProfileMember,
    profile_fingerprint,
)
from peoplenet.runtime.wire.codec import decode_as, encode

A, B, C = bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32
COMMUNITY = b"f/" + bytes(range(32))


def shown(**changes: Any) -> dict[str, Any]:
    """What ``coop_show`` answers (the keys the profile reads)."""
    base: dict[str, Any] = {
        "community": "riders",
        "community_id": COMMUNITY[2:].hex(),  # the founding digest, as coop show gives it
        "members": [C.hex(), A.hex(), B.hex()],
        "apps": {
            "rides": {"enabled": True, "settings": {}},
            "currency": {"enabled": True, "settings": {}},
            "old": {"enabled": False, "settings": {}},
        },
    }
    return {**base, **changes}


PEERS = [
    {"member": B.hex(), "host": "10.0.0.2", "port": 7702, "source": "mdns"},
    {"member": B.hex(), "host": "192.0.2.2", "port": 7712, "source": "address_block"},
    {"member": "zz", "host": "x", "port": 1, "source": "mdns"},  # garbage: skipped
    {"member": bytes(32).hex(), "host": "10.0.0.9", "port": 9, "source": "mdns"},  # no member
]


def test_the_profile_lists_members_in_order_with_their_best_known_address() -> None:
    made = build_profile(shown(), PEERS, A, ("127.0.0.1", 7701), 5)
    assert made.name == "riders"
    assert made.community == COMMUNITY
    assert made.member_ids == (A, B, C)
    assert made.members[0] == ProfileMember(A, "127.0.0.1", 7701)
    assert made.members[1] == ProfileMember(B, "192.0.2.2", 7712)  # its own published address
    assert made.members[2] == ProfileMember(C, "", 0)  # never seen: listed, no address
    assert made.reachable() == made.members[:2]
    assert made.apps == ("currency", "rides")  # enabled only, in name order
    assert made.issued_ms == 5


def test_the_fingerprint_names_whom_a_customer_trusts_not_where_they_are() -> None:
    one = build_profile(shown(), PEERS, A, ("127.0.0.1", 7701), 5)
    moved = build_profile(shown(), [], A, ("127.0.0.1", 9999), 6)
    other = build_profile(shown(members=[A.hex(), B.hex()]), PEERS, A, None, 5)
    assert profile_fingerprint(one) == profile_fingerprint(moved)
    assert profile_fingerprint(one) != profile_fingerprint(other)
    assert len(profile_fingerprint(one)) == 19


def test_a_profile_file_round_trips_and_a_bad_one_is_refused_typed(tmp_path: Path) -> None:
    made = build_profile(shown(), PEERS, A, ("127.0.0.1", 7701), 5)
    path = tmp_path / "riders.profile"
    write_profile(path, made)
    assert read_profile(path) == made
    (tmp_path / "bad.profile").write_bytes(b"not a profile")
    with pytest.raises(ProfileFileError) as caught:
        read_profile(tmp_path / "bad.profile")
    assert caught.value.reason == "profile_file_invalid"
    with pytest.raises(ProfileFileError):
        read_profile(tmp_path / "missing.profile")
    (tmp_path / "other.profile").write_bytes(encode(ProfileMember(A, "h", 1)))
    with pytest.raises(ProfileFileError):
        read_profile(tmp_path / "other.profile")


def test_an_incomplete_answer_is_refused_typed() -> None:
    with pytest.raises(ProfileFileError):
        build_profile({"community": "riders"}, [], A, None, 0)
    with pytest.raises(ProfileFileError):
        build_profile(shown(members=[]), [], A, None, 0)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"community": b""}, "bad_community"),
        ({"name": ""}, "bad_name"),
        ({"members": ()}, "bad_members"),
        ({"members": (ProfileMember(B, "", 0), ProfileMember(A, "", 0))}, "bad_members"),
        ({"apps": ("b", "a")}, "bad_apps"),
        ({"issued_ms": -1}, "bad_time"),
    ],
)
def test_a_malformed_profile_never_exists(fields: dict[str, Any], reason: str) -> None:
    good: dict[str, Any] = {
        "community": COMMUNITY,
        "name": "riders",
        "members": (ProfileMember(A, "", 0),),
        "apps": (),
        "issued_ms": 0,
    }
    with pytest.raises(InvalidProfile) as caught:
        CoopProfile(**{**good, **fields})
    assert caught.value.reason == reason


def test_a_member_entry_checks_its_shape() -> None:
    for args, reason in (((b"x", "", 0), "bad_member"), ((A, "", 70000), "bad_port")):
        with pytest.raises(InvalidProfile) as caught:
            ProfileMember(*args)
        assert caught.value.reason == reason
    member = ProfileMember(A, "h", 1)
    assert decode_as(ProfileMember, encode(member)) == member


def test_the_profile_names_the_community_as_the_apps_folds_see_it() -> None:
    """``coop show`` gives the founding digest; customers sign the community id (``f/...``)."""
    from peoplenet.actors.coop.charter_json import charter_from_json  # noqa: PLC0415
    from peoplenet.actors.governance.charter import (  # noqa: PLC0415
        Founding,
        community_id,
        founding_digest,
    )

    founding = Founding("riders", charter_from_json({}), (A, B, C), 1, ())
    answer = shown(community_id=founding_digest(founding).hex())
    assert build_profile(answer, [], A, None, 0).community == community_id(founding)
