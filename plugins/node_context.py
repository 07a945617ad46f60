"""The node an app's hook sees: the :class:`~peoplenet.plugins.api.NodeContext` of one call.

A duties or command hook gets a :class:`HookNode` to submit transactions, publish blocks and
open sealed details addressed to the member through.  It runs on the app's worker thread, so
it only records (but for ``unseal``, which waits for the node); the host (plugins/host.py)
signs, stores and pushes what it recorded once the call returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from peoplenet.plugins.api import (
    ConsentRefused,
    Draft,
    FoldContext,
    PluginError,
)
from peoplenet.plugins.host_api import HostOutput
from peoplenet.plugins.signing import SignRequest, unsigned_block
from peoplenet.plugins.unsealing import (
    MAX_UNSEALS_PER_CALL,
    UnsealRefused,
    check_request,
    unseal_with,
)
from peoplenet.runtime.keys.identity import MemberId
from peoplenet.runtime.wire.codec import Record

if TYPE_CHECKING:
    from peoplenet.actors.work.sealed import Sealed
    from peoplenet.plugins.host import AppHost, _Instance


class HookNode:
    """The :class:`~peoplenet.plugins.api.NodeContext` handed to one duties/command call.

    Its methods run on the app's worker thread, so they only record: blocks are signed at
    once (signing is pure) but stored and pushed by the host after the call returns.
    """

    def __init__(
        self, host: AppHost, inst: _Instance, now_ms: int, grants: Iterable[str] = ()
    ) -> None:
        self._host, self._inst, self._now_ms = host, inst, now_ms
        self._grants = list(grants)
        self.live = True
        self.out = HostOutput()
        self.requests: list[SignRequest] = []
        """What the call published, in order: signed once it returns."""
        self._tip: bytes | None = None
        self._unsealed = 0
        if inst.replica is not None and inst.blocklace is not None:
            tip = inst.blocklace.latest(inst.replica.lace, MemberId(host.me))
            self._tip = None if tip is None else bytes(tip)

    @property
    def me(self) -> bytes:
        return self._host.me

    @property
    def fold(self) -> FoldContext:
        ctx = self._host.context(self._inst.spec.name)
        return FoldContext(
            ctx.community,
            self._now_ms,
            ctx.members,
            ctx.settings,
            ctx.rates,
            self._host.me,
            officers=ctx.officers,
        )

    def _check_live(self) -> None:
        if not self.live:
            raise PluginError("this NodeContext belongs to a call that has ended")

    def submit(self, tx: Record) -> None:
        self._check_live()
        if type(tx) not in self._inst.spec.tx_types:
            raise PluginError(f"{type(tx).__name__} is not one of the app's declared tx types")
        self.out.submit.append(self._host.app_tx(self._inst.spec.name, tx))

    def publish(self, draft: Draft) -> bytes:
        self._check_live()
        inst = self._inst
        if inst.replica is None:
            raise PluginError(f"{inst.spec.name} has no lace (AppSpec.uses_lace is false)")
        purpose = inst.purposes.get(type(draft.payload))
        if purpose is None:
            raise ConsentRefused(
                f"{type(draft.payload).__name__} is not a record {inst.spec.name} declared"
            )
        if purpose not in inst.spec.auto_purposes:
            if purpose not in self._grants:
                raise ConsentRefused(f"the person did not consent to {purpose!r} now")
            self._grants.remove(purpose)
        refusal = inst.replica.signing_refusal()
        if refusal is not None:  # my chain here is not learnt yet, or forked: no block now
            raise ConsentRefused(str(refusal))
        lace = bytes(inst.replica.lace)
        pointers = tuple(draft.pointers)
        unsigned = unsigned_block(self._host.me, lace, draft.payload, pointers)
        bid = bytes(unsigned.id)
        self.requests.append(SignRequest(lace, draft.payload, pointers, bid, unsigned))
        self._tip = bid
        return bid

    def lace_tip(self) -> bytes | None:
        return self._tip

    def unseal(self, sealed: Sealed, context: bytes) -> bytes:
        """Sealed details addressed to the member, opened by the node (the app holds no key);
        refused for another cooperative's or app's context and past a budget per call
        (plugins/unsealing.py).  Unlike signing, this waits for the node."""
        self._check_live()
        check_request(context, self._host.community, {self._inst.spec.name})
        self._unsealed += 1
        if self._unsealed > MAX_UNSEALS_PER_CALL:
            raise UnsealRefused(f"more than {MAX_UNSEALS_PER_CALL} sealed records in one call")
        return unseal_with(self._host.signer, self._host.me, sealed, context)
