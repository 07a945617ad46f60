"""The public API a Peoplenet app is written against (what ``docs/plugins.md`` documents).

An app is a pluggy plugin: a module or object with ``@hookimpl`` functions (see
:mod:`peoplenet.plugins.hookspecs`).  What it gets and gives are the plain types here:

* :class:`AppSpec` -- the declaration: name, version, the parameters members set by vote (with
  kinds and bounds), the record types of its transactions, its commands, which blocks it may
  ask the member to sign automatically and which only with the person's consent;
* :class:`FoldContext` -- the read-only view an app's fold sees (deterministic: the same on
  every member's node for the same ordered transactions);
* :class:`NodeContext` -- what an app may *do* on this member's node: submit a transaction to
  the cooperative's ordered lace, publish a block to its own replicated lace (signed by the
  member's node, never by the app), open details sealed to the member, report progress;
* :class:`AppTxRejected` -- how an app refuses a transaction: a stable reason, recorded.

Apps never see a secret key, never import each other, and never touch thespian.  This module
is the only one of Peoplenet's an app imports (its conformance tests add
:mod:`peoplenet.plugins.testing`): the runtime's building blocks an app needs -- records and
values, blocks and ids, the error roots, the demo driver -- are re-exported here, so the layers
below can be reorganised without breaking an app.  ``make test`` checks it (import-linter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final, Literal, Protocol

import pluggy

from peoplenet.actors.coop.apps import AppRefusal, AppTxRejected
from peoplenet.actors.work.funds import Funds, Move
from peoplenet.actors.work.sealed import Sealed
from peoplenet.plugins.demo import DemoDriver, DemoEnabling, DemoStepFailed
from peoplenet.runtime.errors import LocalError, PeoplenetError, PluginError, RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, MemberId
from peoplenet.runtime.lace.app_lace import app_lace_id
from peoplenet.runtime.lace.block import Block, BlockId
from peoplenet.runtime.lace.blocklace import Equivocation
from peoplenet.runtime.wire.codec import Record, Value, encode, wire_type

PROJECT: Final = "peoplenet"
"""The pluggy project name of Peoplenet's hooks."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Mark a function of an app as the implementation of one of :mod:`peoplenet.plugins.hookspecs`."""

APP_NAME: Final = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
"""App names: short, lower-case, stable (they are part of lace ids and decisions)."""

ParamKind = Literal["int", "rate", "bool", "choice", "text"]
ArgKind = Literal["any", "text", "int", "amount", "decimal", "bool", "member", "members", "block"]
"""What a command argument is; the node converts the typed text to it before the app sees it
(:mod:`peoplenet.plugins.command_args`): ``any`` is passed as given (text from the command line)."""
Purpose = str
"""What a block an app wants signed is for (``"pay"``, ``"approve"``...), as its spec declares."""
FUNDS: Final = "funds"
"""A service an app may provide to the others (:attr:`AppSpec.provides`): the cooperative's
money, through the ``peoplenet_funds`` hook, as ``FoldContext.funds`` of the other apps."""
SERVICES: Final = frozenset({FUNDS})


class AppCommandError(AppRefusal):
    """A member's app command cannot be carried out (bad argument, not allowed now).

    An :class:`~peoplenet.actors.coop.apps.AppRefusal` (``reason``, ``detail``): what the
    cooperative catches of its apps, without importing this layer.
    """

    reason = "app_command_refused"


class ConsentRefused(LocalError):
    """The member's node refused to sign: the person did not consent to this purpose now."""

    reason = "consent_refused"


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter members set by an ``app`` decision, with its kind and bounds."""

    name: str
    kind: ParamKind
    default: Value
    summary: str = ""
    minimum: int | str | None = None
    """Lower bound (ints; rates as ``"n/d"`` text), inclusive."""
    maximum: int | str | None = None
    choices: tuple[str, ...] = ()

    def check(self, value: Value) -> Value:
        """The value in normal form, or :class:`AppTxRejected` (``bad_setting``)."""
        if self.kind == "bool":
            if type(value) is not bool:
                raise AppTxRejected("bad_setting", f"{self.name} is true or false")
            return value
        if self.kind == "text":
            if type(value) is not str or len(value) > 1024:
                raise AppTxRejected("bad_setting", f"{self.name} is text (<= 1024 chars)")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise AppTxRejected("bad_setting", f"{self.name} is one of {self.choices}")
            return value
        number: Fraction
        if self.kind == "int":
            if type(value) is not int:
                raise AppTxRejected("bad_setting", f"{self.name} is an integer")
            number = Fraction(value)
        else:
            number = _rate(self.name, value)
        low = None if self.minimum is None else _rate(self.name, self.minimum)
        high = None if self.maximum is None else _rate(self.name, self.maximum)
        if (low is not None and number < low) or (high is not None and number > high):
            raise AppTxRejected(
                "setting_out_of_bounds", f"{self.name}={value!r} outside {self.bounds_text()}"
            )
        return value if self.kind == "int" else _rate_text(number)

    def bounds_text(self) -> str:
        low = "-inf" if self.minimum is None else str(self.minimum)
        high = "inf" if self.maximum is None else str(self.maximum)
        return f"[{low}, {high}]"


def checked_settings(
    params: Sequence[ParamSpec], given: Mapping[str, Value] | Value
) -> dict[str, Value]:
    """The defaults of ``params`` overlaid with ``given``, each value checked against its spec.

    Raises :class:`AppTxRejected`: ``bad_setting`` (not a map, or a value of the wrong kind),
    ``unknown_setting`` (names the app did not declare; the known ones are listed) or
    ``setting_out_of_bounds``.  Pure: the node runs it on every ``app`` decision, in order.
    """
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise AppTxRejected("bad_setting", "settings are a map of parameter names to values")
    known = {p.name: p for p in params}
    unknown = sorted(str(k) for k in given if k not in known)
    if unknown:
        names = ", ".join(known) or "none"
        raise AppTxRejected("unknown_setting", f"{', '.join(unknown)} (known: {names})")
    out = {p.name: p.default for p in params}
    for key, value in given.items():
        out[str(key)] = known[str(key)].check(value)
    return out


def _rate(name: str, value: Value | int | str) -> Fraction:
    if type(value) is int:
        return Fraction(value)
    if type(value) is str:
        try:
            return Fraction(value)
        except (ValueError, ZeroDivisionError):
            pass
    raise AppTxRejected("bad_setting", f"{name} is a rate: an integer or 'n/d' text")


def _rate_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(value)


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a command, with the kind the app receives it as.

    ``text``: a string; ``int``: a whole number; ``amount``: a whole number, 0 or more;
    ``decimal``: an exact number as ``"n/d"`` text (``"2.5"`` arrives as ``"5/2"``); ``bool``:
    true/false (yes/no, on/off, 1/0); ``member``: a member of the cooperative (64 hex digits, or
    a unique prefix of at least 8) as 32 bytes; ``members``: comma-separated members, as a
    tuple of 32-byte ids; ``block``: a block id (hex) as bytes; ``any``: as given.
    """

    name: str
    kind: ArgKind = "text"
    summary: str = ""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A member-facing command: ``peoplenet app COOP NAME COMMAND --arg KEY=VALUE ...``.

    ``args`` names its arguments: an :class:`Arg` (with its kind) or a plain name (kind
    ``any``: the value as given, text from the command line; declarations from before kinds).
    The node refuses names not declared and values not of their kind before the app runs.
    """

    name: str
    summary: str
    args: tuple[str | Arg, ...] = ()
    consents: tuple[Purpose, ...] = ()
    """Purposes the person consents to by running it (each good for one signature)."""
    read_only: bool = False
    """Submits and signs nothing: runs while the app is disabled too."""
    top_level: bool = False
    """Also ``peoplenet COMMAND COOP --KEY VALUE ...`` (bundled apps only: ``peoplenet pay COOP
    --to ... --amount 5``); third-party apps' commands run through ``peoplenet app`` only."""

    @property
    def arguments(self) -> tuple[Arg, ...]:
        """Every argument as an :class:`Arg` (plain names are kind ``any``)."""
        return tuple(a if isinstance(a, Arg) else Arg(a, "any") for a in self.args)

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arguments)


@dataclass(frozen=True, slots=True)
class AppSpec:
    """What an app declares about itself (the ``peoplenet_app`` hook returns one)."""

    name: str
    version: str
    summary: str
    params: tuple[ParamSpec, ...] = ()
    tx_types: tuple[type[Record], ...] = ()
    """Records of its transactions on the cooperative's ordered lace (app tags: >= 200)."""
    commands: tuple[CommandSpec, ...] = ()
    uses_lace: bool = False
    """Whether it gets its own replicated, unordered lace (as the currency does)."""
    lace_records: tuple[tuple[type[Record], Purpose], ...] = ()
    """The records it puts in its lace, each with the purpose the member's node signs it for:
    the node derives the purpose from the record's type, never from what the app claims."""
    auto_purposes: tuple[Purpose, ...] = ()
    """Purposes the member's node signs without asking (the app's duties: approve, accept)."""
    consent_purposes: tuple[Purpose, ...] = ()
    """Purposes signed only while a command the person ran grants them."""
    provides: tuple[str, ...] = ()
    """Services it provides to the cooperative's other apps (:data:`SERVICES`): ``"funds"``
    (the ``peoplenet_funds`` hook serves their ``FoldContext.funds``)."""
    cli_group: str = ""
    """A top-level command group of its own (bundled apps only): every command is then also
    ``peoplenet GROUP COMMAND COOP --ARG VALUE ...`` (ride-hailing: ``peoplenet ride request``)."""

    def __post_init__(self) -> None:
        if not APP_NAME.match(self.name):
            raise PluginError(f"app name {self.name!r} must match {APP_NAME.pattern}")
        unknown_services = sorted(set(self.provides) - SERVICES)
        if unknown_services:
            raise PluginError(f"{self.name}: provides unknown services {unknown_services}")
        if self.cli_group and not APP_NAME.match(self.cli_group):
            raise PluginError(
                f"{self.name}: cli_group {self.cli_group!r} must match {APP_NAME.pattern}"
            )
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise PluginError(f"{self.name}: duplicate parameter names")
        for p in self.params:
            p.check(p.default)  # a default outside its own bounds is a broken declaration
        both = set(self.auto_purposes) & set(self.consent_purposes)
        if both:
            raise PluginError(f"{self.name}: purposes both automatic and consented: {both}")
        purposes = set(self.auto_purposes) | set(self.consent_purposes)
        for record, purpose in self.lace_records:
            if purpose not in purposes:
                raise PluginError(f"{self.name}: {record.__name__} has undeclared {purpose!r}")
        if self.lace_records and not self.uses_lace:
            raise PluginError(f"{self.name}: lace_records without uses_lace")
        for c in self.commands:
            if len(set(c.arg_names)) != len(c.arg_names):
                raise PluginError(f"{self.name}: command {c.name} repeats an argument name")
            unknown = set(c.consents) - set(self.consent_purposes)
            if unknown:
                raise PluginError(f"{self.name}: command {c.name} grants undeclared {unknown}")
        for t in (*self.tx_types, *(r for r, _ in self.lace_records)):
            tag = getattr(t, "wire_tag", None)
            if not isinstance(tag, int) or tag < 200:
                raise PluginError(f"{self.name}: {t.__name__} needs an app wire tag (>= 200)")

    def defaults(self) -> dict[str, Value]:
        return {p.name: p.default for p in self.params}

    def settings(self, given: Mapping[str, Value] | Value) -> dict[str, Value]:
        """Defaults overlaid with ``given``, every value checked (:class:`AppTxRejected`)."""
        return checked_settings(self.params, given)

    def command(self, name: str) -> CommandSpec | None:
        return next((c for c in self.commands if c.name == name), None)


@dataclass(frozen=True, slots=True)
class DecisionView:
    """A cooperative decision that just closed, as apps see it."""

    number: int
    kind: str
    subject: str
    adopted: bool
    outcome: Value
    """The outcome in codec form (rates as ``"n/d"`` text)."""


@dataclass(frozen=True, slots=True)
class AppChangeView:
    """The app's own lifecycle event: enabled (with settings), settings changed, disabled."""

    enabled: bool
    was_enabled: bool
    settings: Mapping[str, Value]
    previous: Mapping[str, Value]
    action: Value = None
    """A one-off action the adopting decision carried (e.g. the currency's community mint)."""


@dataclass(frozen=True, slots=True)
class FoldContext:
    """The deterministic view of the cooperative an app's fold reads."""

    community: bytes
    """The cooperative's id (``f/...``)."""
    now_ms: int
    """Community time of the transaction (docs/governance.md): the same on every node."""
    members: frozenset[bytes]
    settings: Mapping[str, Value]
    rates: Mapping[str, str]
    """The cooperative's rate subjects (e.g. ``commission``) as ``"n/d"`` text."""
    sender: bytes = b""
    """Who submitted the transaction (empty outside ``peoplenet_apply_tx``)."""
    position: tuple[int, int] = (0, 0)
    """(epoch, position) of the transaction in the cooperative's order."""
    beacon: bytes = b""
    """32 bytes no member chose, the same on every node (empty outside ``peoplenet_apply_tx``
    and ``peoplenet_check_tx``): BLAKE2b-256 over the ids of the blocks of the step of the
    order that delivered the transaction (docs/work-kit.md: what it is good for, its limits).
    The work kit seeds jury draws with it."""
    officers: Mapping[str, bytes] = field(default_factory=dict)
    """Who holds each of the cooperative's offices: role (an ``officer`` subject of the charter,
    e.g. ``dispatcher``) -> the member elected to it (docs/governance.md).  Only roles held by a
    current member: a vacant role, one won by a name that is no member, or one whose holder has
    left is absent.  The same on every node, like ``members``."""
    funds: Funds | None = field(default=None, compare=False, repr=False)
    """The cooperative's money, in ``peoplenet_check_tx`` and ``peoplenet_apply_tx`` only (None
    elsewhere, and for the app that provides it): moves in ``check_tx`` are a dry run, moves in
    ``apply_tx`` take effect when it returns (docs/plugins.md, "Money: FoldContext.funds")."""


@dataclass(frozen=True, slots=True)
class LaceBlockView:
    """A verified block of the app's replicated lace (pointees always came first)."""

    id: bytes
    creator: bytes
    payload: Value
    pointers: tuple[bytes, ...]
    block: object
    """The :class:`peoplenet.runtime.lace.block.Block` itself, for apps that keep a blocklace
    view."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A block an app wants the member's node to sign and publish on the app's lace.

    ``pointers`` must include the member's own latest block there (:meth:`NodeContext.lace_tip`),
    or the new block forks the member's chain -- an equivocation everyone sees.
    """

    payload: Record
    pointers: tuple[bytes, ...]


class NodeContext(Protocol):
    """What an app may do on this member's node (duties, commands)."""

    @property
    def me(self) -> bytes: ...

    @property
    def fold(self) -> FoldContext:
        """The view at the latest delivered transaction (``now_ms``: this node's clock)."""
        ...

    def submit(self, tx: Record) -> None:
        """Submit one of the app's transactions to the cooperative's ordered lace."""
        ...

    def publish(self, draft: Draft) -> bytes:
        """Have the member's node sign ``draft`` and push it to every member; its block id.

        Raises :class:`ConsentRefused` when the purpose is not automatic and no command the
        person is running grants it.
        """
        ...

    def lace_tip(self) -> bytes | None:
        """The member's own latest block in the app's lace (new blocks must point to it)."""
        ...

    def unseal(self, sealed: Sealed, context: bytes) -> bytes:
        """Details sealed to this member (``peoplenet.plugins.kit.seal``), opened by the node
        with the member's key, which the app never sees; ``context`` as they were sealed under.

        Raises ``NotARecipient`` (not sealed to this member), ``SealedTampered`` (does not
        open: altered, or sealed under another context) and :class:`ConsentRefused`
        (``unseal_refused``: another cooperative's or app's context, too many in one call).
        In a command they become :class:`AppCommandError` with those reasons; a duty should
        catch them (docs/work-kit.md, "Sealed details")."""
        ...


@dataclass(frozen=True, slots=True)
class CustomerOutcome:
    """What more than a third of a profile's members signed about a customer's request (or
    one of its events): the kit's receipts threshold (docs/work-kit.md, "Customers")."""

    status: str
    """``applied`` or ``rejected`` for the request's own outcome; the event's name else."""
    detail: str
    epoch: int
    position: int
    signers: int


class CustomerSide(Protocol):
    """What an app may do for a customer (not a member) on the customer's own data directory
    (``peoplenet_customer_command``): sign and hand over requests, count receipts, open what
    is sealed to the customer, keep a few values.  There is no fold here: a customer sees the
    cooperative only through receipts."""

    @property
    def me(self) -> bytes:
        """The customer's id (their Ed25519 key)."""
        ...

    @property
    def community(self) -> bytes: ...

    def send(self, body: Record) -> bytes:
        """Sign ``body`` as the customer's next request to the app, hand it to a member's node;
        its digest.  Raises :class:`AppCommandError` when no node would carry it (its reason)."""
        ...

    def outcome(
        self, request: bytes, event: str = "", wait_s: float = 0.0
    ) -> CustomerOutcome | None:
        """The outcome of ``request`` (``event`` ``""``) or of a later event the app declared,
        once past the receipts threshold; ``None`` if not (yet), after waiting ``wait_s``."""
        ...

    def unseal(self, sealed: Sealed, context: bytes) -> bytes:
        """Details sealed to the customer, opened with their key (the app never sees it)."""
        ...

    def kept(self, name: str) -> Value:
        """What :meth:`keep` kept under ``name`` for this app and cooperative (None: nothing)."""
        ...

    def keep(self, name: str, value: Value) -> None: ...


@dataclass(slots=True)
class AppStatus:
    """How an app stands in one community on this node (``peoplenet apps list``)."""

    name: str
    enabled: bool = False
    settings: dict[str, Value] = field(default_factory=dict)
    installed: bool = True
    faulted: str = ""
    """Why this node stopped running the app here (empty: it runs)."""
    applied: int = 0
    rejected: int = 0


__all__ = [
    "APP_NAME",
    "FUNDS",
    "ID_LEN",
    "PROJECT",
    "SERVICES",
    "AppChangeView",
    "AppCommandError",
    "AppSpec",
    "AppStatus",
    "AppTxRejected",
    "Arg",
    "ArgKind",
    "Block",
    "BlockId",
    "CommandSpec",
    "ConsentRefused",
    "CustomerOutcome",
    "CustomerSide",
    "DecisionView",
    "DemoDriver",
    "DemoEnabling",
    "DemoStepFailed",
    "Draft",
    "Equivocation",
    "FoldContext",
    "Funds",
    "LaceBlockView",
    "LocalError",
    "MemberId",
    "Move",
    "NodeContext",
    "ParamKind",
    "ParamSpec",
    "PeoplenetError",
    "PluginError",
    "Purpose",
    "Record",
    "RemoteProtocolError",
    "Value",
    "app_lace_id",
    "checked_settings",
    "encode",
    "hookimpl",
    "wire_type",
]
