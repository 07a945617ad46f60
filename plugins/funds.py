"""``FoldContext.funds`` inside the host: one app's transaction reaching the money app's state.

A cooperative's apps share one :class:`~peoplenet.plugins.host.AppHost` (in its worker), so
while app X's ``check_tx``/``apply_tx`` runs, its :class:`FundsHandle` calls the provider's
``peoplenet_funds`` hook (through the provider's own guard, on its own state) synchronously.

The handle keeps the transaction's moves in a journal: each new move is checked by the provider
together with the ones before it, answers read through it, and the provider takes the whole
journal in one ``"move"`` once ``apply_tx`` returned (:meth:`FundsHandle.commit`).  So a refused
move changes nothing, a transaction that raises moves nothing, and ``check_tx`` (whose journal
is never committed) changes nothing either.

Who may move what is the platform's rule, checked here before the provider sees a move: money
leaves only the transaction's sender (who consented by submitting it) or the calling app's own
escrow; it goes only to a member, the treasury or that escrow.  The treasury is spent by the
members' decisions, never by an app.

The host runs every ``check_tx`` and ``apply_tx`` through :func:`funded_call` (kept here, out
of plugins/host.py): :func:`funds_provider` picks the provider, :func:`provider_call` reaches
its hook with a quarter of its deadline, so a hung provider is cut off while the calling app
can still answer in time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from peoplenet.actors.work.escrow import MAX_AMOUNT, escrow_account, treasury_account
from peoplenet.actors.work.funds import NO_FUNDS_PROVIDER, Move
from peoplenet.plugins.api import FUNDS, AppTxRejected, FoldContext, PluginError
from peoplenet.plugins.guard import AppFaulted, PluginFailed
from peoplenet.runtime.log import get_logger
from peoplenet.runtime.wire.codec import Value

if TYPE_CHECKING:
    from peoplenet.plugins.host import AppHost, _Instance

ACCOUNT_LEN: Final = 32
_log = get_logger("peoplenet.plugins.funds")
DEADLINE_SHARE: Final = 4
"""A funds provider answers within this share of its hook deadline: the calling app's hook,
which waits for it, must still answer within its own."""

ProviderCall = Callable[[str, Mapping[str, object]], Value]
"""Calls the provider's ``peoplenet_funds(state, op, args, ctx)``; raises ``AppTxRejected``."""


class FundsHandle:
    """The :class:`~peoplenet.plugins.api.Funds` of one ``check_tx`` or ``apply_tx`` call."""

    __slots__ = ("_app", "_call", "_community", "_members", "_own", "_sender", "journal", "live")

    def __init__(
        self,
        call: ProviderCall | None,
        *,
        app: str,
        community: bytes,
        sender: bytes,
        members: frozenset[bytes],
    ) -> None:
        self._call = call
        self._app, self._community = app, community
        self._own: tuple[bytes, bytes] | None = None
        """(the app's escrow, the treasury): hashed at the first move checked."""
        self._sender = sender
        self._members = members
        self.journal: list[Move] = []
        """The moves taken so far in this transaction (checked together, committed at once)."""
        self.live = True

    # -- Funds ----------------------------------------------------------------------------------

    def balance(self, account: bytes, currency: str) -> int:
        held = self._answer("balance", {"account": account, "currency": currency})
        if type(held) is not int:
            raise AppTxRejected("funds_failed", f"the provider answered {held!r} for a balance")
        for m in self.journal:
            if m.currency == currency:
                held += (m.to == account) * m.amount - (m.frm == account) * m.amount
        return held

    def can_move(self, frm: bytes, to: bytes, currency: str, amount: int) -> str:
        return self._refusal([Move(frm, to, currency, amount)])[0]

    def move(self, frm: bytes, to: bytes, currency: str, amount: int, memo: str = "") -> None:
        self.move_all([Move(frm, to, currency, amount, memo)])

    def move_all(self, moves: Sequence[Move]) -> None:
        batch = [Move(*m) for m in moves]
        reason, detail = self._refusal(batch)
        if reason:
            raise AppTxRejected(reason, detail)
        self.journal.extend(batch)

    # -- the host's side --------------------------------------------------------------------------

    def commit(self) -> None:
        """The transaction applied: the provider takes every move of it (all or none)."""
        self.live = False
        if self.journal and self._call is not None:
            self._call("move", {"moves": tuple(self.journal)})

    # -- inside ---------------------------------------------------------------------------------

    def _answer(self, op: str, args: Mapping[str, object]) -> Value:
        if not self.live:
            raise PluginError("this FoldContext.funds belongs to a call that has ended")
        if self._call is None:
            raise AppTxRejected(NO_FUNDS_PROVIDER, "no enabled app provides funds")
        return self._call(op, args)

    def _refusal(self, moves: Sequence[Move]) -> tuple[str, str]:
        if not self.live:
            raise PluginError("this FoldContext.funds belongs to a call that has ended")
        if self._call is None:
            return NO_FUNDS_PROVIDER, "no enabled app provides funds"
        for m in moves:
            why = self._not_allowed(m)
            if why[0]:
                return why
        try:
            answer = self._call("check", {"moves": (*self.journal, *moves)})
        except AppTxRejected as exc:
            return exc.reason, exc.detail
        if not isinstance(answer, str):
            return "funds_failed", f"the provider answered {answer!r} for a check"
        return answer, ""

    def _not_allowed(self, m: Move) -> tuple[str, str]:
        """The platform's rule for one move: well formed, from the sender or the app's escrow,
        to a member, the treasury or the app's escrow."""
        for account in (m.frm, m.to):
            if type(account) is not bytes or len(account) != ACCOUNT_LEN:
                return "bad_account", f"an account is a {ACCOUNT_LEN}-byte id"
        if type(m.amount) is not int or not 0 < m.amount <= MAX_AMOUNT:
            return "bad_amount", f"amount is 1..{MAX_AMOUNT}, not {m.amount!r}"
        if type(m.currency) is not str or type(m.memo) is not str:
            return "bad_move", "currency and memo are text"
        if m.frm == m.to:
            return "self_payment", "from and to are the same account"
        if self._own is None:
            community = self._community
            self._own = escrow_account(community, self._app), treasury_account(community)
        escrow, treasury = self._own
        if m.frm not in (self._sender, escrow):
            return "not_your_funds", "money leaves only the sender or the app's own escrow"
        if m.to not in self._members and m.to not in (treasury, escrow):
            return "unknown_account", "money goes to a member, the treasury or the app's escrow"
        return "", ""


# -- the routing (the host's side of each app transaction) ------------------------------------


def funded_call(
    host: AppHost, inst: _Instance, hook: str, tx: Value, ctx: FoldContext, *, commit: bool
) -> Any:
    """``check_tx`` or ``apply_tx`` of ``inst`` with ``ctx.funds`` routed to the funds
    provider; the moves of ``apply_tx`` are taken when it returns (``commit``), those of
    ``check_tx`` never.  Raises what the hook raises (``AppTxRejected``, guard failures)."""
    provider = funds_provider(host)
    if provider is inst:  # the provider holds the money itself
        return host._strict(inst, hook, inst.state, tx, ctx)
    call = None if provider is None else provider_call(host, provider, ctx)
    handle = FundsHandle(
        call,
        app=inst.spec.name,
        community=ctx.community,
        sender=ctx.sender,
        members=ctx.members,
    )
    try:
        result = host._strict(inst, hook, inst.state, tx, with_funds(ctx, handle))
    finally:
        handle.live = False
    if commit:
        try:
            handle.commit()
        except AppTxRejected as exc:  # the provider refused what it had checked: its bug
            _log.error("funds_commit_refused", app=inst.spec.name, reason=exc.reason)
            raise
    return result


def funded_step(
    host: AppHost, inst: _Instance, hook: str, tx: Value, ctx: FoldContext
) -> tuple[Callable[[], Any], Callable[..., None]]:
    """:func:`funded_call` in two parts, for a visit that runs several hooks: the hook itself
    (``ctx.funds`` routed as there; no guard: the caller's ``call_many`` is it), and its end,
    ``end(commit=False)``, which closes the handle and, with ``commit``, has the provider take
    its moves (raising as :func:`funded_call` raises)."""
    fn = host.registry.hook(inst.spec.name, hook)
    provider = funds_provider(host)
    if provider is inst:  # the provider holds the money itself

        def own() -> Any:
            return fn(state=inst.state, tx=tx, ctx=ctx)

        def own_end(commit: bool = False) -> None:
            return None

        return own, own_end
    call = None if provider is None else provider_call(host, provider, ctx)
    handle = FundsHandle(
        call, app=inst.spec.name, community=ctx.community, sender=ctx.sender, members=ctx.members
    )
    funded = with_funds(ctx, handle)

    def run() -> Any:
        return fn(state=inst.state, tx=tx, ctx=funded)

    def end(commit: bool = False) -> None:
        handle.live = False
        if commit:
            try:
                handle.commit()
            except AppTxRejected as exc:  # the provider refused what it had checked: its bug
                _log.error("funds_commit_refused", app=inst.spec.name, reason=exc.reason)
                raise

    return run, end


_CONTEXT_FIELDS: Final = tuple(FoldContext.__slots__)


def with_funds(ctx: FoldContext, funds: FundsHandle) -> FoldContext:
    """``ctx`` with ``funds``: ``dataclasses.replace`` without its cost.

    Why: ``replace`` re-runs the generated ``__init__`` through field introspection, about 7 µs
    a call, twice per app transaction (check and apply); copying the slots is about 2 µs, and
    still copies every field the context has (FoldContext defines no ``__post_init__``).
    """
    copy = object.__new__(FoldContext)
    for name in _CONTEXT_FIELDS:
        object.__setattr__(copy, name, getattr(ctx, name))
    object.__setattr__(copy, "funds", funds)
    return copy


def funds_provider(host: AppHost) -> _Instance | None:
    """The usable app, first by name, that declares ``provides=("funds",)``."""
    registry = host.registry
    for name in registry.names():
        if FUNDS in registry.specs[name].provides:
            inst = host.instances.get(name)
            if inst is not None and host.usable(inst):
                return inst
    return None


def provider_call(host: AppHost, provider: _Instance, ctx: FoldContext) -> ProviderCall:
    """``peoplenet_funds`` of ``provider`` through its guard, in the view of the calling
    transaction (its time, sender, position); a failure of the provider's is the
    transaction's refusal (``funds_failed``)."""
    name = provider.spec.name
    fn = host.registry.hook(name, "peoplenet_funds")
    deadline_s = provider.guard.deadline_s / DEADLINE_SHARE
    views: list[FoldContext] = []

    def call(op: str, args: Mapping[str, object]) -> Value:
        if not views:
            view = host.context(name)
            views.append(replace(view, now_ms=ctx.now_ms, sender=ctx.sender, position=ctx.position))
        view = views[0]
        try:
            return provider.guard.call(  # type: ignore[no-any-return]
                "peoplenet_funds",
                lambda: fn(state=provider.state, op=op, args=args, ctx=view),
                expected=(AppTxRejected,),
                deadline_s=deadline_s,
            )
        except (PluginFailed, AppFaulted) as exc:
            raise AppTxRejected("funds_failed", str(exc)) from None

    return call


__all__ = [
    "FundsHandle",
    "ProviderCall",
    "funded_call",
    "funded_step",
    "funds_provider",
    "provider_call",
]
