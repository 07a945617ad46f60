"""The command line's side of naming: petnames from the data directory, the rest from the node.

Every command that takes a member, a block, an offer or a decision turns what was typed into a
full id here, before anything is sent to the node, so the rules of runtime/cli/names.py hold
everywhere.  A petname or a full 64-hex id needs no node; a prefix or a fingerprint is looked
up in what the running node knows (its ``names`` query and each cooperative's members).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from peoplenet.runtime.cli import names, petnames
from peoplenet.runtime.cli.names import KnownMember
from peoplenet.runtime.local import control
from peoplenet.runtime.local.datadir import DataDir


class NodeNeededForName(names.UnknownName):
    """A prefix or fingerprint was given, but no node is running to look it up."""

    reason = "node_needed_for_name"


class Namer:
    """Resolves names for one data directory (asks the node at most once per command)."""

    def __init__(self, data_root: Path | str) -> None:
        self.data = DataDir(data_root)
        self._petnames: dict[str, bytes] | None = None
        self._known: list[KnownMember] | None = None

    @property
    def petnames(self) -> dict[str, bytes]:
        if self._petnames is None:
            self._petnames = petnames.load(self.data.root) if self.data.root.is_dir() else {}
        return self._petnames

    def known(self) -> list[KnownMember]:
        """What the running node knows (plus petnames); raises NodeNotRunning without a node."""
        if self._known is None:
            sock = self.data.control_socket
            entries = [_entry(e) for e in control.call(sock, "names")]
            for coop in control.call(sock, "community_list"):
                entries += self._coop_members(sock, str(coop.get("community")))
            self._known = names.merge(entries, self.petnames)
        return self._known

    @staticmethod
    def _coop_members(sock: Path, coop: str) -> list[KnownMember]:
        try:
            shown = control.call(sock, "coop_show", {"community": coop})
        except control.ControlError:
            return []  # a plain community (no members list) or one restarting
        members = shown.get("members", []) if isinstance(shown, dict) else []
        return [KnownMember(bytes.fromhex(m), (f"member of {coop}",)) for m in members]

    def member(self, text: str) -> bytes:
        """The member ``text`` names (an id, fingerprint, unique prefix or petname)."""
        found = names.petname_lookup(self.petnames, text)
        if found is not None:
            return found
        key = text.strip().lower()
        if len(key) == names.FULL_HEX:
            return names.resolve_member(key, [], {})
        try:
            known = self.known()
        except control.NodeNotRunning:
            if not names.looks_like_id(text) or names.is_too_short(text):
                names.resolve_member(text, [], self.petnames)  # says what is wrong with it
            raise NodeNeededForName(
                f"{text!r} is looked up among the members the node knows, and no node is "
                f"running from {self.data.root}: start it, or give the full 64-hex member id "
                "or a petname"
            ) from None
        return names.resolve_member(text, known, self.petnames)

    def member_hex(self, text: str) -> str:
        return self.member(text).hex()

    def candidate(self, text: str) -> str:
        """An officer or board candidate: a member's full id if the text names one, else as is.

        Only unmistakable member names count (a petname, a full id or fingerprint, a prefix
        of at least 8 characters of a known member); any other text is a name standing.
        """
        try:
            return self.member_hex(text)
        except (names.UnknownName, names.NameTooShort, names.UnverifiedName):
            return text
        except names.InvalidName:
            return text

    def label(self, member: bytes) -> str:
        """How to show a member: its petname when it has one, else its fingerprint."""
        for name, m in self.petnames.items():
            if m == member:
                return name
        from peoplenet.runtime.keys.identity import fingerprint  # noqa: PLC0415

        return fingerprint(member)


def _entry(raw: Any) -> KnownMember:
    sources = tuple(str(s) for s in raw.get("sources", ()))
    return KnownMember(bytes.fromhex(raw["member"]), sources, bool(raw.get("verified")))


def resolve_ids(text: str, ids: Iterable[str], what: str) -> str:
    """A full hex id from a unique prefix of one of ``ids`` (hex strings)."""
    return names.resolve_id(text, (bytes.fromhex(i) for i in ids), what).hex()


# -- petname commands ---------------------------------------------------------------------------


def name_member(namer: Namer, member_text: str, petname: str) -> dict[str, str]:
    """``friends name MEMBER NAME``: save the petname; returns what was named."""
    from peoplenet.runtime.keys.identity import fingerprint  # noqa: PLC0415

    member = namer.member(member_text)
    updated = names.set_petname(namer.petnames, petname, member)
    namer.data.require()
    petnames.save(namer.data.root, updated)
    namer._petnames = updated
    return {"petname": petname, "member": member.hex(), "fingerprint": fingerprint(member)}


def unname(namer: Namer, petname: str) -> dict[str, str]:
    """``friends unname NAME``: forget the petname."""
    namer.data.require()
    member = names.petname_lookup(namer.petnames, petname)
    updated = names.remove_petname(namer.petnames, petname)
    petnames.save(namer.data.root, updated)
    namer._petnames = updated
    return {"unnamed": petname, "member": member.hex() if member else ""}


def with_petnames(namer: Namer, report: Any) -> Any:
    """The ``friends`` report with each entry's petname and a ``petnames`` section added."""
    from peoplenet.runtime.keys.identity import fingerprint  # noqa: PLC0415

    by_member = {m.hex(): n for n, m in namer.petnames.items()}
    if not isinstance(report, dict):
        return report
    for entries in report.values():
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict) and entry.get("member") in by_member:
                entry["petname"] = by_member[entry["member"]]
    report["petnames"] = [
        {"petname": n, "member": m.hex(), "fingerprint": fingerprint(m)}
        for n, m in sorted(namer.petnames.items(), key=lambda item: item[0].casefold())
    ]
    return report


# -- command arguments --------------------------------------------------------------------------


def resolve_coop_args(args: Any, namer: Namer) -> None:
    """Turn the names in a parsed ``coop`` command into full ids, in place.

    ``vouch --with``, the subject of an admission or removal, officer and board candidates who
    are members, the ``to`` of an app decision's action (``{"mint": 100, "to": "ana"}``), and
    decision numbers (``3`` or ``#3``).
    """
    if getattr(args, "with_member", None):
        args.with_member = namer.member_hex(args.with_member)
    if getattr(args, "kind", None) in ("admission", "removal"):
        args.subject = namer.member_hex(args.subject)
    if getattr(args, "candidates", None):
        args.candidates = [namer.candidate(c) for c in args.candidates]
    if getattr(args, "kind", None) == "app" and getattr(args, "app_action", None):
        args.app_action = _action_member(args.app_action, namer)
    if isinstance(getattr(args, "decision", None), str):
        args.decision = names.decision_number(args.decision)


def _action_member(text: str, namer: Namer) -> str:
    """An app action's JSON with its ``to`` member named in full (other text is left alone)."""
    try:
        action = json.loads(text)
    except ValueError:
        return text  # the node says what is wrong with it
    if not isinstance(action, dict) or not isinstance(action.get("to"), str):
        return text
    full = namer.member_hex(action["to"])
    if full == action["to"]:
        return text
    return json.dumps({**action, "to": full})
