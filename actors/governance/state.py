"""The cooperative's state: what the fold has made of the ordered transactions so far.

Why a separate module: the fold (:mod:`peoplenet.actors.governance.fold`) decides *how* each
transaction changes things; this module is *what* there is -- members, sureties, decisions,
subject values, apps, the ledger, the community clock, the consensus bridge -- plus the views
everyone else reads: :meth:`GovernanceState.snapshot` (JSON-ready),
:meth:`GovernanceState.digest` (so any member can replay and compare),
:meth:`GovernanceState.consensus_target` and :meth:`GovernanceState.ready_amendment`.
Only the fold mutates it.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Final

from peoplenet.actors.governance.charter import (
    Charter,
    Founding,
    Subject,
    founding_digest,
    fraction_text,
)
from peoplenet.actors.governance.economics import Ledger
from peoplenet.actors.governance.records import Change, point_to_wire
from peoplenet.runtime.consensus.constitution import Amendment, Approval, Constitution, Genesis
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.wire.codec import Record, Value, encode, wire_type

LAST_REJECTIONS: Final = 50
"""How many recent rejections the state keeps in full (all are counted and hashed)."""
_STATE_PERSON: Final = b"peoplenet.gstat1"
_REJECT_PERSON: Final = b"peoplenet.grej1"


@wire_type(130)
@dataclass(frozen=True, slots=True)
class Rejection(Record):
    """A refused transaction: where it was ordered, who sent it and why (stable ``reason``)."""

    epoch: int
    position: int
    creator: bytes
    reason: str
    detail: str


@dataclass(slots=True)
class DecisionState:
    """One decision, from opening to its recorded (and never changing) outcome."""

    number: int
    kind: str
    subject: str
    opener: bytes
    opened_at: int
    """Community time at which the voting period started; while not :attr:`anchored`, the
    current community time (the period starts no earlier)."""
    deadline: int
    """``opened_at`` plus the voting period: the community time at which it closes."""
    eligible: set[bytes]
    """The members at the opening (renamed on key updates): the n of the rule."""
    params: dict[str, object]
    declaration: Subject | str | None
    """The subject as the charter declared it at the opening (None for yes/no kinds)."""
    change: Change | None
    status_quo_at_open: object
    ballots: dict[bytes, object] = field(default_factory=dict)
    proposals: list[object] = field(default_factory=list)
    status: str = "open"
    outcome: object = None
    adopted: bool = False
    applied: bool = False
    note: str = ""
    """Why an adopted outcome was not applied (or why the decision was void)."""
    support: Fraction = Fraction(0)
    score: Fraction = Fraction(0)
    closed_at: int = 0
    anchored: bool = True
    """Whether the voting period has started: once 2f+1 members were heard since the opening
    (the fold's ``_follow_pending``; docs/governance.md, "Community time and deadlines")."""
    heard: set[bytes] = field(default_factory=set)
    """While not anchored: the members whose clock claims were folded since the opening."""

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def period(self) -> int:
        """The voting period (ms) the charter gave at the opening."""
        return self.deadline - self.opened_at

    def canonical(self) -> Value:
        """Everything about the decision, in canonical codec form.

        ``heard`` is there only while the voting period has not started, so an anchored
        decision encodes exactly as decisions did before anchoring existed.
        """
        out: dict[str, Value] = {
            "number": self.number,
            "kind": self.kind,
            "subject": self.subject,
            "opener": self.opener,
            "opened_at": self.opened_at,
            "deadline": self.deadline,
            "eligible": tuple(sorted(self.eligible)),
            "params": {k: point_to_wire(v) for k, v in self.params.items()},
            "change": self.change,
            "ballots": tuple((m, point_to_wire(p)) for m, p in sorted(self.ballots.items())),
            "proposals": tuple(point_to_wire(p) for p in self.proposals),
            "status": self.status,
            "outcome": point_to_wire(self.outcome),
            "adopted": self.adopted,
            "applied": self.applied,
            "note": self.note,
            "support": fraction_text(self.support),
            "score": fraction_text(self.score),
            "closed_at": self.closed_at,
        }
        if not self.anchored:
            out["heard"] = tuple(sorted(self.heard))
        return out

    def summary(self) -> dict[str, object]:
        """The JSON-ready view members and the audit command read."""
        return {
            "number": self.number,
            "kind": self.kind,
            "subject": self.subject,
            "status": self.status,
            "opened_at": self.opened_at,
            "deadline": self.deadline,
            "eligible": len(self.eligible),
            "ballots": len(self.ballots),
            "proposals": len(self.proposals),
            "change": to_json(self.change),
            "outcome": to_json(self.outcome) if not self.is_open else None,
            "adopted": self.adopted,
            "applied": self.applied,
            "note": self.note,
            "support": fraction_text(self.support),
            "score": fraction_text(self.score),
            "anchored": self.anchored,
        }


def to_json(value: object) -> object:
    """A value in JSON-ready form: bytes as hex, fractions as ``"n/d"``, records as maps."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Fraction):
        return fraction_text(value)
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, Record):
        out: dict[str, object] = {"type": type(value).__name__}
        for f in fields(value):  # type: ignore[arg-type]
            out[f.name] = to_json(getattr(value, f.name))
        return out
    return value


class GovernanceState:
    """Members, sureties, decisions, subject values, apps, ledger, clock and consensus bridge."""

    def __init__(self, founding: Founding, genesis: Genesis) -> None:
        self.founding = founding
        self.community = founding_digest(founding)
        """What sureties and key updates sign over."""
        self.charter: Charter = founding.charter
        self.members: set[bytes] = set(founding.founders)
        self.sureties: set[tuple[bytes, bytes]] = set()
        self.values: dict[tuple[str, str], object] = founding.charter.initial_values()
        self.apps: dict[str, tuple[bool, Value]] = {}
        self.decisions: list[DecisionState] = []
        self.open_numbers: list[int] = []
        """Numbers of the open decisions, ascending (an index: the fold's hot path)."""
        self.ledger = Ledger()
        self.latest_at: dict[bytes, int] = {}
        self.time: int = founding.at
        self.genesis = genesis
        c = genesis.constitution
        self.consensus_params: tuple[int, int, int] = (
            c.threshold_num,
            c.threshold_den,
            c.timeout_ms,
        )
        self.approvals: list[Approval] = []
        self.approvals_for: Constitution | None = None
        self.rejection_count = 0
        self.rejection_chain = b""
        self.last_rejections: deque[Rejection] = deque(maxlen=LAST_REJECTIONS)

    # -- queries ------------------------------------------------------------------------------

    def is_member(self, member: bytes) -> bool:
        return member in self.members

    def surety_count(self, candidate: bytes) -> int:
        """How many current members hold a mutual surety with ``candidate``."""
        return sum(
            1
            for a, b in self.sureties
            if (a == candidate and b in self.members) or (b == candidate and a in self.members)
        )

    def has_surety(self, x: bytes, y: bytes) -> bool:
        a, b = sorted((x, y))
        return (a, b) in self.sureties

    def decision(self, number: int) -> DecisionState | None:
        if 1 <= number <= len(self.decisions):
            return self.decisions[number - 1]
        return None

    def open_decisions(self) -> list[DecisionState]:
        """The open decisions in number order."""
        return [self.decisions[n - 1] for n in self.open_numbers]

    def value(self, kind: str, subject: str) -> object:
        """A subject's current value (normal form)."""
        return self.values[kind, subject]

    def constitution_for(
        self, members: set[bytes], params: tuple[int, int, int] | None = None
    ) -> Constitution:
        """The consensus constitution ``members`` would run under (raises if unsafe)."""
        num, den, timeout = params if params is not None else self.consensus_params
        return Constitution.of(members, threshold=(num, den), timeout_ms=timeout)

    # -- the consensus bridge ----------------------------------------------------------------

    def consensus_target(self) -> Constitution | None:
        """The constitution the next epoch must have, or None if the current one is right."""
        target = self.constitution_for(self.members)
        return None if target == self.genesis.constitution else target

    def ready_amendment(self) -> Amendment | None:
        """The consensus amendment, once a quorum of participants approved the target."""
        target = self.consensus_target()
        if target is None or target != self.approvals_for:
            return None
        quorum = self.genesis.constitution.quorum
        if len(self.approvals) < quorum:
            return None
        chosen = sorted(self.approvals[:quorum], key=lambda a: a.member)
        return Amendment(self.genesis.lace(), target, tuple(chosen))

    # -- rejections ---------------------------------------------------------------------------

    def record_rejection(self, rejection: Rejection) -> None:
        self.rejection_count += 1
        self.rejection_chain = hashlib.blake2b(
            self.rejection_chain + encode(rejection), digest_size=32, person=_REJECT_PERSON
        ).digest()
        self.last_rejections.append(rejection)

    # -- views ----------------------------------------------------------------------------

    def _values_of(self, kind: str) -> dict[str, object]:
        return {name: to_json(v) for (k, name), v in sorted(self.values.items()) if k == kind}

    def snapshot(self, *, last: int = 10) -> dict[str, object]:
        """The state as JSON-ready data (members as hex, fractions as ``"n/d"``)."""
        num, den, timeout = self.consensus_params
        target = self.consensus_target()
        return {
            "community": self.founding.name,
            "community_id": self.community.hex(),
            "epoch": self.genesis.epoch,
            "community_time": self.time,
            "members": sorted(m.hex() for m in self.members),
            "charter": to_json(self.charter),
            "params": self._values_of("rate"),
            "budgets": self._values_of("budget"),
            "rankings": self._values_of("ranking"),
            "boards": self._values_of("board"),
            "officers": self._values_of("officer"),
            "bylaws": self._values_of("bylaws"),
            "apps": {
                name: {"enabled": enabled, "settings": to_json(settings)}
                for name, (enabled, settings) in sorted(self.apps.items())
            },
            "sureties": sorted([a.hex(), b.hex()] for a, b in self.sureties),
            "decisions": [d.summary() for d in self.decisions],
            "contributions": to_json(_hex_books(self.ledger.contributions)),
            "distributions": to_json(_hex_books(self.ledger.distributions)),
            "consensus": {
                "threshold": f"{num}/{den}",
                "timeout_ms": timeout,
                "target": to_json(target.participants) if target is not None else None,
                "approvals": len(self.approvals) if target == self.approvals_for else 0,
            },
            "rejections": {
                "count": self.rejection_count,
                "last": [to_json(r) for r in list(self.last_rejections)[-last:]] if last else [],
            },
            "digest": self.digest().hex(),
        }

    def canonical(self) -> Value:
        """The whole state as one canonical codec value."""
        return {
            "community": self.community,
            "charter": self.charter,
            "members": tuple(sorted(self.members)),
            "sureties": tuple(sorted(self.sureties)),
            "values": {f"{k}/{n}": point_to_wire(v) for (k, n), v in self.values.items()},
            "apps": {name: (enabled, s) for name, (enabled, s) in self.apps.items()},
            "decisions": tuple(d.canonical() for d in self.decisions),
            "ledger": self.ledger.canonical(),
            "latest_at": tuple(sorted(self.latest_at.items())),
            "time": self.time,
            "genesis": self.genesis,
            "consensus": self.consensus_params,
            "approvals": tuple(self.approvals),
            "approvals_for": self.approvals_for,
            "rejections": (self.rejection_count, self.rejection_chain),
        }

    def digest(self) -> bytes:
        """A 32-byte hash of :meth:`canonical`: equal states, equal digests, on every phone."""
        return hashlib.blake2b(
            encode(self.canonical()), digest_size=32, person=_STATE_PERSON
        ).digest()


def _hex_books(table: Mapping[str, Mapping[bytes, int]]) -> dict[str, dict[str, int]]:
    return {p: {m.hex(): v for m, v in sorted(b.items())} for p, b in sorted(table.items())}


__all__ = ["DecisionState", "GovernanceState", "MemberId", "Rejection", "to_json"]
