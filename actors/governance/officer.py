"""Electing an officer: candidates against the incumbent, then Condorcet or Schulze.

Why not the metric rule: under the discrete metric every candidate is "one step" from the
status quo, so scores only count heads; what matters is who beats the incumbent (support) and,
among those, who beats whom.  Reality (the incumbent, or "vacant") breaks cycles: only the
candidates with supermajority support over it take part in the second stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class OfficerResult:
    winner: str | None
    """The elected candidate, or None when the status quo stays."""
    best: str | None
    """The winner, else the candidate with the highest score (ties by name), else None."""
    support: int
    score: int


class Pairwise:
    """``above[a][b]``: ballots ranking a before b; an unranked name sits below every ranked one."""

    def __init__(self, names: Sequence[str], ballots: Sequence[Sequence[str]]) -> None:
        self.above: dict[str, dict[str, int]] = {a: dict.fromkeys(names, 0) for a in names}
        for ballot in ballots:
            ranked = [name for name in ballot if name in self.above]
            listed = set(ranked)
            unranked = [name for name in names if name not in listed]
            for place, a in enumerate(ranked):
                row = self.above[a]
                for b in ranked[place + 1 :]:
                    row[b] += 1
                for b in unranked:
                    row[b] += 1

    def margin(self, a: str, b: str) -> int:
        return self.above[a][b] - self.above[b][a]


def condorcet_winner(pairs: Pairwise, among: Sequence[str]) -> str | None:
    """The name that beats each other name of ``among`` by a strict pairwise majority."""
    for a in among:
        if all(pairs.margin(a, b) > 0 for b in among if b != a):
            return a
    return None


def schulze_winner(pairs: Pairwise, among: Sequence[str]) -> str:
    """The Schulze (beat path, margins) winner of ``among``; several: the first by name."""
    strength = {a: {b: max(pairs.margin(a, b), 0) if a != b else 0 for b in among} for a in among}
    for via in among:
        for a in among:
            if a == via:
                continue
            for b in among:
                if b in (a, via):
                    continue
                through = min(strength[a][via], strength[via][b])
                strength[a][b] = max(strength[a][b], through)
    winners = [a for a in among if all(strength[a][b] >= strength[b][a] for b in among)]
    return min(winners)


def elect(
    candidates: Sequence[str],
    status_quo: str,
    ballots: Sequence[Sequence[str]],
    members: int,
    threshold: Fraction,
) -> OfficerResult:
    """The officer rule; ``threshold`` is the effective threshold θ'."""
    standing = sorted(set(candidates) - {status_quo})
    pairs = Pairwise([*standing, status_quo], ballots)

    def support(p: str) -> int:
        return pairs.above[p][status_quo]

    def score(p: str) -> int:
        return pairs.margin(p, status_quo)

    supported = [p for p in standing if Fraction(support(p), members) > threshold]
    if supported:
        winner = condorcet_winner(pairs, supported) or schulze_winner(pairs, supported)
        return OfficerResult(winner, winner, support(winner), score(winner))
    if not standing:
        return OfficerResult(None, None, 0, 0)
    best = min(standing, key=lambda p: (-score(p), p))
    return OfficerResult(None, best, support(best), score(best))
