"""What a cooperative needs of its apps: the port the app platform plugs into.

The cooperative's consumer (:mod:`peoplenet.actors.coop.consumer`) folds governance; its
apps are the app platform's (:mod:`peoplenet.plugins`), a layer above.  So the consumer
depends only on the protocols here -- the apps hear what each delivery did, run members'
commands, take and publish lace blocks, say what they refused -- and the platform implements
them (``peoplenet.plugins.coop_apps.CoopApps``); the composer gives that implementation to the
consumer (its ``apps`` factory).

Kept light on purpose: the public app API derives its command error from :class:`AppRefusal`
and re-exports :class:`AppTxRejected` (defined here so the work kit's pure cores in
:mod:`peoplenet.actors.work`, a layer below the app API, refuse with the very class an app's
fold raises), and the keyless app worker imports that API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from peoplenet.runtime.errors import LocalError, PeoplenetError

if TYPE_CHECKING:
    from peoplenet.actors.governance.fold import Applied
    from peoplenet.actors.governance.state import GovernanceState
    from peoplenet.runtime.consensus.consumer import Signer
    from peoplenet.runtime.consensus.core import Delivery
    from peoplenet.runtime.wire.codec import Value


class AppRefusal(LocalError):
    """An app refused a member's command or an ``app`` proposal (``reason``: snake_case)."""

    reason = "app_refused"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class AppTxRejected(PeoplenetError):
    """An app refuses a transaction; ``reason`` is stable snake_case, recorded for everyone.

    Public as ``peoplenet.plugins.api.AppTxRejected``; defined here, below the app platform,
    so the pure cores of the work kit (:mod:`peoplenet.actors.work`), which run inside apps'
    folds, refuse with the very class the host catches.
    """

    reason = "tx_rejected"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AppOutcome:
    """What became of the latest adopted ``app`` decision about one app on this node."""

    decision: int
    reason: str = ""
    """Empty: applied; else why the app refused it (``unknown_setting``, ``bad_setting``...)."""
    detail: str = ""

    def wire(self) -> dict[str, Value]:
        status = "refused" if self.reason else "applied"
        out: dict[str, Value] = {"number": self.decision, "status": status}
        if self.reason:
            out["reason"], out["detail"] = self.reason, self.detail
        return out


class AppsOutput(Protocol):
    """What the consumer must do after a call to the apps."""

    @property
    def submit(self) -> Sequence[Value]:
        """App transactions to submit to the cooperative's order."""
        ...

    @property
    def sends(self) -> Sequence[tuple[bytes, Value]]:
        """Messages of the apps' laces to peers."""
        ...

    @property
    def wake_at_ms(self) -> int | None: ...


class AppsHost(Protocol):
    """The apps of one cooperative on this node (they run in a keyless worker on a node)."""

    def laces(self) -> tuple[bytes, ...]: ...
    def receive_then_duties(self, peer: bytes, data: bytes, now_ms: int) -> AppsOutput:
        """A peer's app-lace message as its bytes, decoded by the host (the replicas' owner);
        :class:`~peoplenet.runtime.errors.RemoteProtocolError` if it is malformed."""
        ...

    def peer_up(self, peer: bytes, now_ms: int) -> AppsOutput: ...
    def duties(self, now_ms: int) -> AppsOutput: ...
    def tick(self, now_ms: int) -> AppsOutput: ...
    def command(
        self, name: str, op: str, args: Mapping[str, Value], now_ms: int
    ) -> tuple[Value, AppsOutput]:
        """Run an app's command; :class:`AppRefusal` if the app refuses it."""
        ...

    def status(self, name: str) -> dict[str, Value]: ...
    def settings(self, name: str) -> dict[str, Value]: ...
    def recent(self, name: str) -> list[dict[str, Value]]: ...


class CooperativeApps(Protocol):
    """The apps of one cooperative, fed from its governance fold."""

    @property
    def host(self) -> AppsHost: ...

    @property
    def outcomes(self) -> Mapping[str, AppOutcome]:
        """App -> its latest adopted ``app`` decision, applied or refused."""
        ...

    def after(self, d: Delivery, applied: Applied, beacon: bytes = b"") -> bool:
        """Tell the apps what this delivery did (an ``AppTx``'s fold sees ``beacon``: the
        beacon of the step of the order that delivered it); whether it was an ``AppTx`` the
        apps took, whose result :meth:`settle` gives."""
        ...

    def settle(self, now_ms: int | None) -> tuple[list[dict[str, Value]], AppsOutput]:
        """Complete what :meth:`after` told since the last call (one call to a node's worker):
        the results of the ``AppTx`` it took, in order, then the apps' duties at ``now_ms``
        (if given) and what they ask of the node."""
        ...

    def check_proposal(self, name: str, settings: Value) -> None:
        """Refuse (:class:`AppRefusal`) an ``app`` proposal this node's app would refuse."""
        ...

    def enabled(self, name: str) -> bool: ...

    def refused(self) -> dict[int, AppOutcome]:
        """Adopted ``app`` decisions the app refused, by number."""
        ...

    def output(self, out: AppsOutput, now_ms: int) -> tuple[tuple[Value, ...], AppsOutput]:
        """The apps' transactions as governance transactions to submit."""
        ...

    def command(self, args: Mapping[str, Value], now_ms: int) -> tuple[Value, AppsOutput]:
        """A member's ``coop_app`` command (``app``, ``command``, ``args``)."""
        ...

    def listing(self) -> list[dict[str, Value]]: ...

    def changed(self) -> None:
        """The fold's state changed: what the apps were shown of it is stale."""
        ...

    def close(self) -> None:
        """Stop the apps (their worker process, threads and files)."""
        ...


class AppsFactory(Protocol):
    """Builds a cooperative's apps (given to the consumer from above)."""

    def __call__(
        self,
        state: GovernanceState,
        community: bytes,
        me: bytes,
        signer: Signer,
        *,
        folder: Path | None,
    ) -> CooperativeApps: ...


__all__ = [
    "AppOutcome",
    "AppRefusal",
    "AppTxRejected",
    "AppsFactory",
    "AppsHost",
    "AppsOutput",
    "CooperativeApps",
]
