"""An app's commands for a customer: ``peoplenet GROUP COMMAND COOP`` on a customer's data
directory (an imported profile, no node running).

A customer is no member: there is no fold to read and no node to submit to.  The app's
``peoplenet_customer_command`` gets a :class:`CustomerSession` (the public
:class:`~peoplenet.plugins.api.CustomerSide`): it signs the app's request bodies with the
customer's own key and the next sequence number (shared with ``peoplenet customer request``),
hands each to a member's node of the profile, counts members' receipts with the kit's threshold,
opens what is sealed to the customer, and keeps a few values in
``DATA/customer/apps/<community hex>/<app>/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Final

from peoplenet.actors.coop.customer_client import Target, hand_over
from peoplenet.actors.coop.profile_file import ProfileFileError, read_profile
from peoplenet.actors.work.customers import CustomerRequest, sign_request
from peoplenet.actors.work.profile import CoopProfile
from peoplenet.actors.work.receipts import ConflictingReceipts, ReceiptQuery, tally
from peoplenet.actors.work.sealed import Sealed, open_sealed
from peoplenet.plugins.api import AppCommandError, CustomerOutcome
from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import Identity
from peoplenet.runtime.local.datadir import DataDir
from peoplenet.runtime.wire.codec import Record, Value, decode, encode

FOLDER: Final = "customer"
POLL_S: Final = 2.0
"""Between two rounds of receipt queries: the members' per-customer quota refills one message
every two seconds (docs/work-kit.md), so a longer wait never runs into it."""
MAX_KEPT: Final = 1 << 20


def find_profile(data: DataDir, coop: str) -> CoopProfile | None:
    """The imported profile named ``coop`` (or whose community id starts with it), if one."""
    found = []
    for path in sorted((data.root / FOLDER).glob("*.profile")):
        try:
            found.append(read_profile(path))
        except ProfileFileError:
            continue
    matches = [p for p in found if p.name == coop] or [
        p for p in found if p.community.hex().startswith(coop.lower())
    ]
    return matches[0] if len(matches) == 1 else None


class CustomerSession:
    """One customer, one cooperative, one app: what ``CustomerSide`` promises."""

    def __init__(self, data: DataDir, profile: CoopProfile, identity: Identity, app: str):
        self.data, self.profile, self.identity, self.app = data, profile, identity, app
        self.folder = data.root / FOLDER
        self.store = self.folder / "apps" / profile.community.hex() / app

    @property
    def me(self) -> bytes:
        return bytes(self.identity.member_id)

    @property
    def community(self) -> bytes:
        return self.profile.community

    def send(self, body: Record) -> bytes:
        req = sign_request(self.identity, self.community, self.app, self._next_seq(), body)
        sent = self.folder / "requests"
        sent.mkdir(parents=True, exist_ok=True)
        (sent / f"{req.digest.hex()}.request").write_bytes(encode(req))
        self._carry(req)
        return req.digest

    def _next_seq(self) -> int:
        """One more than the last this data directory signed for the app (the counter the
        ``customer`` commands use too), and counted at once: a refused request spends it."""
        counters = self.folder / f"{self.community.hex()}.seq.json"
        try:
            counts = json.loads(counters.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            counts = {}
        seq = int(counts.get(self.app, 0)) + 1
        counts[self.app] = seq
        self.folder.mkdir(parents=True, exist_ok=True)
        counters.write_text(json.dumps(counts, sort_keys=True), encoding="utf-8")
        return seq

    def _carry(self, req: CustomerRequest) -> None:
        tried = []
        network = self.data.settings().network_id
        for m in self.profile.reachable():
            answer = hand_over(self.identity, network, [Target(m.member, m.host, m.port)], req)[0]
            receipt = answer.receipt
            if receipt is None:
                tried.append(f"{m.member.hex()[:16]}: {answer.error}")
                continue
            if receipt.status != "submitted":
                reason, _, detail = receipt.detail.partition(": ")
                raise AppCommandError(reason or "refused", detail)
            return
        raise AppCommandError("no_carrier", "no member's node answered: " + "; ".join(tried))

    def outcome(
        self, request: bytes, event: str = "", wait_s: float = 0.0
    ) -> CustomerOutcome | None:
        targets = [Target(m.member, m.host, m.port) for m in self.profile.reachable()]
        network = self.data.settings().network_id
        deadline = time.monotonic() + wait_s
        while True:
            query = ReceiptQuery(self.community, request, event)
            answers = hand_over(self.identity, network, targets, query)
            receipts = [a.receipt for a in answers if a.receipt is not None]
            try:
                counted = tally(receipts, self.profile.member_ids, request, event=event)
            except ConflictingReceipts as exc:
                raise AppCommandError("conflicting_receipts", str(exc)) from None
            got = counted.accepted
            if got is not None:
                return CustomerOutcome(
                    got.status, got.detail, got.epoch, got.position, counted.signers
                )
            if time.monotonic() + POLL_S > deadline:
                return None
            time.sleep(POLL_S)

    def unseal(self, sealed: Sealed, context: bytes) -> bytes:
        return open_sealed(sealed, context, self.me, self.identity.open_sealed_box)

    def _path(self, name: str) -> Path:
        if not name.replace("_", "").isalnum():
            raise AppCommandError("bad_name", f"{name!r} is not a name to keep a value under")
        return self.store / f"{name}.value"

    def kept(self, name: str) -> Value:
        try:
            return decode(self._path(name).read_bytes(), max_size=MAX_KEPT)
        except FileNotFoundError:
            return None
        except RemoteProtocolError as exc:
            raise AppCommandError("bad_kept_value", f"{name}: {exc}") from None

    def keep(self, name: str, value: Value) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        spare = path.with_suffix(".new")
        spare.write_bytes(encode(value))
        spare.replace(path)


__all__ = ["CustomerSession", "find_profile"]
