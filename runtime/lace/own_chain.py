"""May this node sign the next block of its own chain in a lace?  (sans-IO)

Why: a node's store can be older than its own chain.  A phone restored from a backup, a data
directory copied before its last posts, a store whose last commits were lost with its WAL:
each holds an earlier tip of the member's own chain than the one its friends and fellow
members already hold.  Signing from that tip reuses sequence numbers, which forks the
member's own lace for good (the blocklace records it as an equivocation, and a community
counts it as evidence against the member).  So after every start a node first learns its
own latest blocks from the peers that replicate its chain, and signs only then.

:class:`OwnChainGuard` is the bookkeeping every lace kind shares (personal lace, community
epoch lace, app lace); each core decides what counts as a peer's report and whether it is
held.  It also keeps the two signs that someone else signs with this key:

* an own block this run did not make, arriving after this run made one at or below its
  position: another device runs this identity (a copied data directory);
* two own blocks at one position (an equivocation of mine): my own chain forked.

Either stops signing until the member acts (see docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Final, Literal

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import MemberId, fingerprint
from peoplenet.runtime.lace.block import BlockId
from peoplenet.runtime.wire.codec import Value

ProblemKind = Literal["own_fork", "another_device"]

ANOTHER_DEVICE_ADVICE: Final = (
    "stop every other node that uses this identity (one identity = one device), then "
    "restart this one; if the problem stays, your chain forked: see own_fork"
)
OWN_FORK_ADVICE: Final = (
    "this identity signed two different blocks at one position (a restored backup or a "
    "second device signed); it can no longer extend this chain: stop any other device with "
    "this identity and start a new identity (peoplenet init in a new data directory), then "
    "ask your friends to befriend it"
)


class SigningRefused(LocalError):
    """The node will not sign a block of its own chain now; the message says why and what to do."""

    reason = "signing_refused"


class CatchingUp(SigningRefused):
    """Own latest blocks not yet learnt from enough peers since the start: try again shortly."""

    reason = "catching_up"


class OwnChainProblem(SigningRefused):
    """Someone else signs with this key (own fork, or another device): signing stopped."""

    reason = "own_chain_problem"


@dataclass(frozen=True, slots=True)
class OwnProblem:
    """Why signing stopped for good (until the member acts)."""

    kind: ProblemKind
    detail: str

    def advice(self) -> str:
        return OWN_FORK_ADVICE if self.kind == "own_fork" else ANOTHER_DEVICE_ADVICE

    def message(self) -> str:
        if self.kind == "another_device":
            return f"another device is using this identity: {self.detail}; {self.advice()}"
        return f"my own chain forked: {self.detail}; {self.advice()}"

    def to_value(self, where: str) -> dict[str, Value]:
        return {"kind": self.kind, "where": where, "detail": self.detail, "advice": self.advice()}


@dataclass(slots=True)
class OwnChainGuard:
    """Own-chain self-sync and fork watch for one lace of one member.

    ``need``: how many distinct peers must have reported (and had every report held) before
    signing; 0 signs at once (nobody else holds this chain).
    """

    need: int
    reports: dict[MemberId, object] = field(default_factory=dict)
    """Each peer's latest report of my chain (a core-specific value), until it is held."""
    confirmed: set[MemberId] = field(default_factory=set)
    """Peers whose report of my chain I hold all of."""
    synced: bool = False
    overridden: bool = False
    made: set[BlockId] = field(default_factory=set)
    """Own blocks this run signed."""
    first_made_seq: int | None = None
    problem: OwnProblem | None = None

    def __post_init__(self) -> None:
        if self.need < 0:
            raise LocalError("need is a number of peers (>= 0)")
        self.synced = self.need == 0

    # -- reports from peers ------------------------------------------------------------------

    def report(self, peer: MemberId, report: object, held: Callable[[object], bool]) -> bool:
        """``peer`` told me how far it holds my chain; True if this made me synced."""
        self.reports[peer] = report
        return self.recheck(held)

    def recheck(self, held: Callable[[object], bool]) -> bool:
        """After my chain grew: reports now held count; True if this made me synced."""
        for peer, report in list(self.reports.items()):
            if held(report):
                del self.reports[peer]
                self.confirmed.add(peer)
        if not self.synced and len(self.confirmed) >= self.need:
            self.synced = True
            return True
        return False

    def override(self) -> None:
        """The member chose to sign without having heard from enough peers."""
        self.overridden = True

    # -- own blocks --------------------------------------------------------------------------

    def made_block(self, block_id: BlockId, seq: int) -> None:
        self.made.add(block_id)
        if self.first_made_seq is None or seq < self.first_made_seq:
            self.first_made_seq = seq

    def saw_own(self, block_id: BlockId, seq: int, sender: MemberId | None) -> OwnProblem | None:
        """An own block came from outside; a new problem if it is another device's."""
        if block_id in self.made or self.first_made_seq is None or seq < self.first_made_seq:
            return None  # my older blocks, learnt back: what self-sync is for
        by = f" (from {fingerprint(sender)})" if sender is not None else ""
        return self._set(
            OwnProblem(
                "another_device",
                f"a block signed with this key at position {seq} that this node did not "
                f"make arrived{by}",
            )
        )

    def forked(self, seq: int) -> OwnProblem | None:
        """Two own blocks at position ``seq`` are known; a new problem unless already set."""
        return self._set(
            OwnProblem("own_fork", f"two blocks signed with this key at position {seq}")
        )

    def _set(self, problem: OwnProblem) -> OwnProblem | None:
        if self.problem is not None and (
            self.problem.kind == "own_fork" or problem.kind == "another_device"
        ):
            return None  # an own fork is the worse news: it stays the one shown
        self.problem = problem
        return problem

    # -- the gate ----------------------------------------------------------------------------

    def may_sign(self) -> bool:
        return self.problem is None and (self.synced or self.overridden)

    def refusal(self, peers: Collection[MemberId], noun: str) -> SigningRefused | None:
        """Why I may not sign now (None: I may); ``peers``: whom I learn my chain from."""
        if self.problem is not None:
            return OwnChainProblem(f"refusing to sign: {self.problem.message()}")
        if self.synced or self.overridden:
            return None
        reached = len(self.confirmed & set(peers))
        return CatchingUp(
            f"not yet: catching up with your own blocks from {noun} ({reached} of "
            f"{len(peers)} {noun} reached, {self.need} needed); try again shortly"
        )

    def status(self, where: str) -> dict[str, Value]:
        return {
            "where": where,
            "synced": self.synced,
            "overridden": self.overridden,
            "confirmed": len(self.confirmed),
            "needed": self.need,
        }


def quorum_of_others(n: int) -> int:
    """Peers to hear from in a group of ``n`` (me included): f + 1 of the others, f = (n-1)//3.

    Any block of mine that a supermajority (2f + 1) holds is held by at least one of any f + 1
    others, so learning from f + 1 finds every own block that can matter to the group.
    """
    if n <= 1:
        return 0
    return min(n - 1, (n - 1) // 3 + 1)


__all__ = [
    "CatchingUp",
    "OwnChainGuard",
    "OwnChainProblem",
    "OwnProblem",
    "SigningRefused",
    "quorum_of_others",
]
