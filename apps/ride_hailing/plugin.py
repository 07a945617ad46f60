"""Ride-hailing as a Peoplenet app: members drive, members ride, the cooperative sets the rules.

The fold (:mod:`.trips`, :mod:`.matching`, :mod:`.fare`) runs on every member's phone over
the cooperative's ordered transactions; the commands here act for one member: they read the
fold, compute what only the phone knows (its exact place -> a cell, the straight-line
estimate, the one-time start code) and submit a transaction.  Nothing a person must decide
is automatic: the only duty is to nudge community time when the rider's pending offer is past
its deadline (:class:`~.records.Expire`), so a quiet cooperative still passes the offer on.

Commands (also ``peoplenet ride COMMAND COOP --ARG VALUE ...``): online, offline, position,
request, offers, accept, decline, arrive, start, agree, complete, cancel, rate, dispute, show,
history, earnings.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Final, TypeAlias

from peoplenet.apps.ride_hailing import rider_client
from peoplenet.apps.ride_hailing.demo import (  # the app's part of make demo
    peoplenet_demo,
    peoplenet_demo_enable,
)
from peoplenet.apps.ride_hailing.fare import FARE_PARAMS, FareRules, quote
from peoplenet.apps.ride_hailing.payment import ESCROW, commission_rate
from peoplenet.apps.ride_hailing.places import (
    Places,
    details_context,
    opened,
    request_context,
    seal_details,
    seal_request,
)
from peoplenet.apps.ride_hailing.policy import POLICY_PARAMS, Env, Policy
from peoplenet.apps.ride_hailing.records import (
    RIDE_LEN,
    TX_TYPES,
    Accept,
    AgreeFare,
    Arrive,
    Cancel,
    Complete,
    CustomerRide,
    Decline,
    Details,
    Dispute,
    DriverOffline,
    DriverOnline,
    Expire,
    Hold,
    JuryDetails,
    Position,
    Rate,
    Release,
    RequestRide,
    RideTx,
    Rule,
    SettleDebt,
    Start,
)
from peoplenet.apps.ride_hailing.state import RideState, ride_state
from peoplenet.apps.ride_hailing.trips import (
    ARRIVED,
    ASSIGNED,
    COMPLETED,
    DISPUTED,
    ON_TRIP,
    Ride,
    code_hash,
)
from peoplenet.plugins.api import (
    AppChangeView,
    AppCommandError,
    AppSpec,
    AppTxRejected,
    Arg,
    CommandSpec,
    CustomerSide,
    FoldContext,
    NodeContext,
    PluginError,
    Value,
    hookimpl,
)
from peoplenet.plugins.kit import (
    COMMUNITY_COINS,
    CUSTOMER_COMMAND,
    InvalidCustomerRequest,
    amount_arg,
    by_prefix,
    check_carried,
    geo,
    point_arg,
)

NAME: Final = "ride_hailing"
VERSION: Final = "0.1"
CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LEN: Final = 10
"""A start code of 10 letters from 31 (49 bits): its hash is public, so it must not be
guessable offline during a trip."""

_RIDE = Arg("ride", "text", "the ride (its id, or a unique prefix of 6 or more hex digits)")
SPEC: Final = AppSpec(
    name=NAME,
    version=VERSION,
    summary="ride-hailing: members drive and ride; fares, matching and fees set by vote",
    cli_group="ride",
    params=(*FARE_PARAMS, *POLICY_PARAMS),
    tx_types=TX_TYPES,
    commands=(
        CommandSpec("online", "drive: take rides near LAT,LON", (Arg("at", "text", "LAT,LON"),)),
        CommandSpec("offline", "stop taking rides"),
        CommandSpec(
            "position", "tell the cooperative your cell (only if it changed)", (Arg("at"),)
        ),
        CommandSpec(
            "request",
            "ask for a ride: your quote and ride id",
            (Arg("from", "text", "pickup LAT,LON"), Arg("to", "text", "drop-off LAT,LON")),
        ),
        CommandSpec(
            "offers", "offers waiting for you, or one ride's offer log", (_RIDE,), (), True
        ),
        CommandSpec("accept", "take the ride offered to you", (_RIDE,)),
        CommandSpec("decline", "pass the ride offered to you to the next driver", (_RIDE,)),
        CommandSpec("arrive", "you are at the pickup", (_RIDE,)),
        CommandSpec("start", "start the trip with the rider's code", (_RIDE, Arg("code"))),
        CommandSpec(
            "agree",
            "as the rider, agree to pay up to FARE cents though it is outside the quote",
            (_RIDE, Arg("fare", "amount", "cents")),
        ),
        CommandSpec(
            "complete",
            "end the trip: the fare is computed from the voted rules",
            (_RIDE, Arg("metres", "amount"), Arg("seconds", "amount")),
        ),
        CommandSpec("cancel", "call the ride off (the voted fee rule applies)", (_RIDE,)),
        CommandSpec("rate", "rate the other party 1-5", (_RIDE, Arg("score", "int"))),
        CommandSpec("dispute", "contest a finished ride", (_RIDE, Arg("reason"))),
        CommandSpec(
            "rule",
            "as a juror drawn for a dispute: worker, customer or split:n/d (the rider's share)",
            (_RIDE, Arg("ruling")),
        ),
        CommandSpec("inbox", "rides offered to you, disputes awaiting your ruling", read_only=True),
        CommandSpec("show", "one ride: state, fare, offers, your start code", (_RIDE,), (), True),
        CommandSpec("history", "your rides, as rider and as driver", read_only=True),
        CommandSpec("earnings", "what you drove, earned and owe in commission", read_only=True),
        CommandSpec(
            "settle",
            "pay AMOUNT of the commission owed on cash fares, in cooperative coins (one a cent)",
            (Arg("amount", "amount", "coins"),),
        ),
        CommandSpec(
            CUSTOMER_COMMAND,
            "carry a rider's signed request (a customer, not a member) into the order",
            (Arg("request", "any", "the customer's signed request, encoded"),),
        ),
    ),
)
_TX_TYPES: Final = tuple(TX_TYPES)
_Handler: TypeAlias = Callable[[RideState, Mapping[str, Value], NodeContext], Value]


def _tx(tx: Value) -> RideTx:
    if not isinstance(tx, _TX_TYPES):
        raise PluginError(f"not a ride transaction: {type(tx).__name__}")
    return tx  # type: ignore[return-value]


def _env(state: RideState, ctx: FoldContext) -> Env:
    rate = commission_rate(ctx.rates.get("commission", "0"))
    policy = state.policy(ctx.settings)
    return Env(
        ctx.now_ms,
        policy,
        state.rules,
        rate,
        ctx.members,
        ctx.beacon,
        ctx.community,
        ctx.funds,
    )


# -- declaration and state -------------------------------------------------------------------


@hookimpl
def peoplenet_app() -> AppSpec:
    return SPEC


@hookimpl
def peoplenet_new_state(community: bytes, settings: Mapping[str, Value]) -> object:
    return RideState(community)


@hookimpl
def peoplenet_snapshot(state: object) -> Value:
    s = ride_state(state)
    return {"book": s.book.to_value(), "rules": s.rules.to_value()}


# -- the fold ----------------------------------------------------------------------------------


@hookimpl
def peoplenet_app_changed(state: object, change: AppChangeView, ctx: FoldContext) -> None:
    if change.enabled:
        s = ride_state(state)
        s.rules.adopt(change.settings, ctx.now_ms)
        s.book.configure(Policy.from_settings(change.settings))


@hookimpl
def peoplenet_check_tx(state: object, tx: Value, ctx: FoldContext) -> None:
    s = ride_state(state)
    s.book.check(_tx(tx), ctx.sender, _env(s, ctx))


@hookimpl
def peoplenet_apply_tx(state: object, tx: Value, ctx: FoldContext) -> Value:
    s = ride_state(state)
    return s.book.apply(_tx(tx), ctx.sender, _env(s, ctx))


@hookimpl
def peoplenet_clock(state: object, ctx: FoldContext) -> None:
    s = ride_state(state)
    s.book.advance(_env(s, ctx))


# -- the node ----------------------------------------------------------------------------------


@hookimpl
def peoplenet_duties(state: object, node: NodeContext) -> None:
    """For my open ride as its rider: hold the quoted fare in escrow once a driver is assigned
    (the request was the consent), seal the exact places to that driver, and nudge community
    time past a pending offer once it is due by this phone's clock.  Each at most once per
    offer, hold or round."""
    s = ride_state(state)
    me, now = node.me, node.fold.now_ms
    _forget_closed(s)
    _nudge_for_customers(s, node)
    _nudge_releases(s, node)
    _reseal_for_juries(s, node)
    ride_id = s.book.riding.get(me)
    ride = None if ride_id is None else s.book.rides.get(ride_id)
    if ride is None:
        return
    escrow = s.policy(node.fold.settings).payment == ESCROW
    if escrow and ride.state in (ASSIGNED, ARRIVED) and s.book.pay.book.job(ride.job) is None:
        _once(s, (ride.job, -1), node, Hold(ride.id))
    if ride.state in ON_TRIP and ride.details_job != ride.job:
        mine = _my_places(s, ride, node)
        if mine is not None:
            sealed = seal_details(node.fold.community, ride.job, ride.parties(), mine)
            _once(s, (ride.job, -2), node, Details(ride.id, sealed))
    offer = ride.matching.pending()
    if offer is not None and offer.deadline_ms <= now:
        _once(s, (ride.id, len(ride.matching.offers)), node, Expire(ride.id))


CUSTOMER_NUDGE_STEP_MS: Final = 2000
"""A customer has no phone in the order: members' nodes nudge their rides' due offers, one
after the other (the member of rank k, by id, waits k steps past the deadline)."""


def _nudge_for_customers(s: RideState, node: NodeContext) -> None:
    members = sorted(node.fold.members)
    if node.me not in members:
        return
    delay = members.index(node.me) * CUSTOMER_NUDGE_STEP_MS
    for ride in s.book.offering():
        offer = ride.matching.pending()
        due = offer is not None and offer.deadline_ms + delay <= node.fold.now_ms
        if ride.customer_request and due:
            _once(s, (ride.id, len(ride.matching.offers)), node, Expire(ride.id))


def _nudge_releases(s: RideState, node: NodeContext) -> None:
    """As a driver: once a held fare of mine is due by this phone's clock (the dispute window
    closed), bring the ordered moment that pays it (:class:`Release`), once per ride."""
    if not s.book.held:
        return
    fold, me = node.fold, node.me
    window, now = s.policy(fold.settings).dispute_window_ms, fold.now_ms
    for ride_id in sorted(s.book.held):
        ride = s.book.rides[ride_id]
        due = ride.finished_ms + window <= now
        if ride.driver == me and ride.state == COMPLETED and due:
            _once(s, (ride.id, -3), node, Release(ride.id))


def _reseal_for_juries(s: RideState, node: NodeContext) -> None:
    """As the driver of a disputed ride: reseal its places to the parties and the jury drawn
    (again after a late juror is replaced), so the jurors see where the ride went."""
    if not s.book.judging:
        return
    me, community = node.me, node.fold.community
    for ride_id in sorted(s.book.judging):
        ride = s.book.rides[ride_id]
        jury = s.book.disputes.jury(ride_id)
        if ride.driver != me or not jury or tuple(jury) == ride.jury_details_for:
            continue
        key = (ride_id, -10 - len(s.book.disputes.draws(ride_id)))
        if key in s.nudged or ride.details is None:
            continue
        places = opened(node, ride.details, details_context(community, ride.details_job))
        if places is None:
            continue
        readers = tuple(sorted(set(ride.parties()) | set(jury)))
        _once(
            s, key, node, JuryDetails(ride_id, seal_details(community, ride.job, readers, places))
        )


FORGET_ABOVE: Final = 256
"""How many nudges this phone remembers before it forgets those of closed rides."""


def _forget_closed(s: RideState) -> None:
    """Forget the nudges of rides no longer open (one key per ride and step would otherwise
    pile up on a phone for good); only when there are many, so it costs nothing per duty."""
    if len(s.nudged) <= FORGET_ABOVE:
        return
    b = s.book
    live = {*b.riding.values(), *b.driving.values(), *b.holding.values(), *b.held, *b.judging}
    s.nudged = {k for k in s.nudged if k[0][:RIDE_LEN] in live}


def _once(s: RideState, key: tuple[bytes, int], node: NodeContext, tx: RideTx) -> None:
    if key not in s.nudged:
        s.nudged.add(key)
        node.submit(tx)


@hookimpl
def peoplenet_customer_command(
    command: str, args: Mapping[str, Value], customer: CustomerSide
) -> Value:
    """A rider who is not a member, on their own data directory (:mod:`.rider_client`)."""
    return rider_client.run(command, args, customer)


@hookimpl
def peoplenet_command(
    state: object, command: str, args: Mapping[str, Value], node: NodeContext
) -> Value:
    s = ride_state(state)
    handler = _COMMANDS.get(command)
    if handler is None:
        raise AppCommandError("unknown_command", command)
    try:
        return handler(s, args, node)
    except geo.BadPoint as exc:
        raise AppCommandError("bad_point", str(exc)) from None


def _carry(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    """A member's node carries a customer's signed step, checked first as the fold will."""
    try:
        req = check_carried(args.get("request"), s.book.customers, node.fold, NAME)
        s.book.check(CustomerRide(req), node.me, _env(s, node.fold))
    except (AppTxRejected, InvalidCustomerRequest) as exc:
        if exc.reason != "no_beacon":  # a dispute's jury is drawn only in the order
            raise AppCommandError(exc.reason, getattr(exc, "detail", "")) from None
    node.submit(CustomerRide(req))
    return {"carried": req.seq, "customer": req.customer.hex()}


def _online(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    cell = geo.cell_of(_point(args, "at"))
    if node.me in s.book.online:
        raise AppCommandError("already_online", "use position to move")
    node.submit(DriverOnline((cell.row, cell.col)))
    return {"online": (cell.row, cell.col)}


def _offline(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    if node.me not in s.book.online:
        raise AppCommandError("not_online", "you are not taking rides")
    node.submit(DriverOffline())
    return {"online": None}


def _position(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    cell = geo.cell_of(_point(args, "at"))
    now = s.book.online.get(node.me)
    if now is None:
        raise AppCommandError("not_online", "go online first")
    if now == (cell.row, cell.col):
        return {"cell": (cell.row, cell.col), "sent": False}
    node.submit(Position((cell.row, cell.col)))
    return {"cell": (cell.row, cell.col), "sent": True}


def _request(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    pickup, dropoff = _point(args, "from"), _point(args, "to")
    if node.me in s.book.riding:
        raise AppCommandError("rider_busy", f"ride {s.book.riding[node.me].hex()} is open")
    version = s.rules.current
    if version == 0:
        raise AppCommandError("app_disabled", "the app has no rules yet")
    estimate = geo.distance_m(pickup, dropoff)
    low, high = quote(FareRules.from_settings(s.rules.get(version)), estimate)
    ride = secrets.token_bytes(RIDE_LEN)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LEN))
    a, b = geo.cell_of(pickup), geo.cell_of(dropoff)
    mine = Places(pickup, dropoff, code)
    sealed = seal_request(node.fold.community, ride, node.me, mine)
    node.submit(
        RequestRide(
            ride, (a.row, a.col), (b.row, b.col), sealed, estimate, low, high, version,
            code_hash(ride, code),
        )
    )  # fmt: skip
    s.places[ride] = mine
    currency = _currency(s.policy(node.fold.settings))
    return {"ride": ride.hex(), "quote_low": low, "quote_high": high, "currency": currency}


def _offers(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    if args.get("ride"):
        ride = _ride(s, args)
        return {"ride": ride.id.hex(), "offers": ride.matching.to_value()}
    waiting: list[Value] = []
    for ride in s.book.offering():
        offer = ride.matching.pending()
        if offer is not None and offer.driver == node.me:
            waiting.append(
                {
                    "ride": ride.id.hex(),
                    "pickup": ride.request.pickup,
                    "dropoff": ride.request.dropoff,
                    "quote_low": ride.request.quote_low,
                    "quote_high": ride.request.quote_high,
                    "deadline_ms": offer.deadline_ms,
                }
            )
    return {"offers": tuple(waiting)}


def _submit_for(record: type[Accept | Decline | Arrive | Cancel]) -> _Handler:
    def run(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
        ride = _ride(s, args)
        node.submit(record(ride.id))
        return {"ride": ride.id.hex(), "submitted": record.__name__.lower()}

    return run


def _start(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    ride = _ride(s, args)
    code = args.get("code")
    if not isinstance(code, str) or not code.strip():
        raise AppCommandError("bad_argument", "--code is required: ask the rider for it")
    node.submit(Start(ride.id, code.strip().upper()))
    return {"ride": ride.id.hex(), "submitted": "start"}


def _agree(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    ride = _ride(s, args)
    node.submit(AgreeFare(ride.id, _amount(args, "fare")))
    return {"ride": ride.id.hex(), "submitted": "agree"}


def _complete(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    ride = _ride(s, args)
    metres, seconds = _amount(args, "metres"), _amount(args, "seconds")
    if ride.driver != node.me:
        raise AppCommandError("not_the_driver", "only the ride's driver completes it")
    env = _env(s, node.fold)
    breakdown = s.book.fare_of(ride, metres, seconds, env)
    node.submit(Complete(ride.id, metres, seconds, breakdown.total))
    return {"ride": ride.id.hex(), "fare": breakdown.as_dict(), "currency": _currency(env.policy)}


def _rate(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    ride = _ride(s, args)
    score = args.get("score")
    if type(score) is not int:
        raise AppCommandError("bad_argument", "--score is 1 to 5")
    node.submit(Rate(ride.id, score))
    return {"ride": ride.id.hex(), "submitted": "rate"}


def _dispute(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    ride = _ride(s, args)
    reason = args.get("reason")
    node.submit(Dispute(ride.id, reason if isinstance(reason, str) else ""))
    return {"ride": ride.id.hex(), "submitted": "dispute"}


def _show(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    ride = _ride(s, args)
    now = node.fold.now_ms
    policy = s.policy(node.fold.settings)
    shown = _row(ride, _currency(policy))
    shown["held"] = s.book.pay.held(ride.job) is not None
    shown["returned"] = ride.returned
    shown["pickup"] = ride.request.pickup
    shown["dropoff"] = ride.request.dropoff
    shown["quote_low"], shown["quote_high"] = ride.request.quote_low, ride.request.quote_high
    shown["breakdown"] = None if ride.breakdown is None else ride.breakdown.as_dict()
    shown["cancelled_by"] = ride.cancelled_by or None
    shown["offers"] = ride.matching.to_value()
    shown["ratings"] = _ratings(s, ride, now)
    shown["dispute"] = _dispute_shown(s, ride)
    mine = _my_places(s, ride, node)
    if mine is not None:  # the rider: the places and the code to tell the driver
        shown["code"] = mine.code
        shown["pickup_at"], shown["dropoff_at"] = mine.pickup.text(), mine.dropoff.text()
    elif node.me == ride.driver and ride.details_job == ride.job:
        given = opened(node, ride.details, details_context(node.fold.community, ride.job))
        if given is not None:
            shown["pickup_at"], shown["dropoff_at"] = given.pickup.text(), given.dropoff.text()
    elif node.me in ride.jury_details_for:  # a juror: the places the driver resealed
        given = opened(node, ride.jury_details, details_context(node.fold.community, ride.job))
        if given is not None:
            shown["pickup_at"], shown["dropoff_at"] = given.pickup.text(), given.dropoff.text()
    return shown


def _ratings(s: RideState, ride: Ride, now_ms: int) -> Value:
    """Double-blind: the scores once both parties rated or the window closed, else hidden."""
    if ride.state not in (COMPLETED, DISPUTED):
        return None
    shown = s.book.ratings.visible(ride.id, now_ms)
    if shown is None:
        return "hidden"
    return {m.hex(): score for m, score in sorted(shown.items())}


def _dispute_shown(s: RideState, ride: Ride) -> Value:
    if ride.dispute is None:
        return None
    by, reason, at_ms = ride.dispute
    jury = s.book.disputes
    return {
        "by": by.hex(),
        "reason": reason,
        "at_ms": at_ms,
        "jury": tuple(j.hex() for j in jury.jury(ride.id)),
        "rulings": {j.hex(): r for j, r in sorted(jury.rulings(ride.id).items())},
        "draws": tuple(d.drawn for d in jury.draws(ride.id)),
        "ruling": ride.ruling or None,
        "refund": ride.refund,
    }


def _my_places(s: RideState, ride: Ride, node: NodeContext) -> Places | None:
    """My ride's places and code: as this phone kept them, or reopened from the request."""
    if node.me != ride.rider:
        return None
    found = s.places.get(ride.id)
    if found is None:
        context = request_context(node.fold.community, ride.id)
        found = opened(node, ride.request.sealed, context)
        if found is not None:
            s.places[ride.id] = found
    return found


def _settle(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    amount = _amount(args, "amount")
    owed = s.book.pay.debt(node.me)
    if not 0 < amount <= owed:
        raise AppCommandError("bad_amount", f"you owe {owed} coins; pay 1..{owed}")
    node.submit(SettleDebt(amount))
    return {"settling": amount, "owed": owed, "currency": COMMUNITY_COINS}


def _rule(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    ride = _ride(s, args)
    ruling = args.get("ruling")
    if not isinstance(ruling, str) or not ruling.strip():
        raise AppCommandError("bad_argument", "--ruling is worker, customer or split:n/d")
    node.submit(Rule(ride.id, ruling.strip()))
    return {"ride": ride.id.hex(), "submitted": "rule"}


def _inbox(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    """What waits for me (``peoplenet inbox``): rides offered to me, disputes where I sit on
    the jury and have not ruled.  Empty when nothing waits."""
    offers = _offers(s, {}, node)
    rows = offers.get("offers") if isinstance(offers, dict) else ()
    waiting: list[Value] = [
        {"kind": "offer", **o}
        for o in (rows if isinstance(rows, tuple) else ())
        if isinstance(o, dict)
    ]
    waiting.extend({"kind": "jury", "ride": d.hex()} for d in s.book.disputes.awaiting(node.me))
    return tuple(waiting)


def _currency(policy: Policy) -> str:
    """What fares are counted in: the cooperative's coins under escrow, else the voted text."""
    return COMMUNITY_COINS if policy.payment == ESCROW else policy.currency


def _row(ride: Ride, currency: str) -> dict[str, Value]:
    return {
        "ride": ride.id.hex(),
        "rider": ride.rider.hex(),
        "driver": ride.driver.hex() if ride.driver else None,
        "state": ride.state,
        "fare": ride.fare,
        "paid": ride.paid,
        "commission": ride.commission,
        "currency": currency,
    }


def _history(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    currency = _currency(s.policy(node.fold.settings))
    mine = [r for r in s.book.rides.values() if node.me in (r.rider, r.driver)]
    mine.sort(key=lambda r: (r.requested_ms, r.id))
    return tuple(_row(r, currency) for r in mine)


def _earnings(s: RideState, args: Mapping[str, Value], node: NodeContext) -> Value:
    """What I drove and earned, the commission I owe, refunds juries gave, my rating."""
    me, now = node.me, node.fold.now_ms
    done = [
        r
        for r in s.book.rides.values()
        if r.driver == me and r.paid and r.state in (COMPLETED, DISPUTED)
    ]
    fares = sum(r.fare or 0 for r in done)
    pending = sum(r.pending for r in s.book.rides.values() if r.driver == me)
    commission = sum(r.commission for r in done)
    average = s.book.ratings.average(me, now)
    policy = s.policy(node.fold.settings)
    return {
        "rides": len(done),
        "fares": fares,
        "commission": commission,
        "net": fares - commission,
        "owed_to_cooperative": s.book.pay.debt(me),
        "pending": pending,
        "refunds_ruled": sum(r.refund for r in done),
        "rating": None if average is None else f"{average.numerator}/{average.denominator}",
        "ratings": s.book.ratings.count(me, now),
        "currency": _currency(policy),
    }


# -- arguments -----------------------------------------------------------------------------------


def _point(args: Mapping[str, Value], name: str) -> geo.Point:
    return point_arg(args, name)


def _amount(args: Mapping[str, Value], name: str) -> int:
    return amount_arg(args, name)


def _ride(s: RideState, args: Mapping[str, Value]) -> Ride:
    return by_prefix(args.get("ride"), s.book.rides, RIDE_LEN, "ride")


_COMMANDS: Final[dict[str, _Handler]] = {
    "online": _online,
    "offline": _offline,
    "position": _position,
    "request": _request,
    "offers": _offers,
    "accept": _submit_for(Accept),
    "decline": _submit_for(Decline),
    "arrive": _submit_for(Arrive),
    "cancel": _submit_for(Cancel),
    "start": _start,
    "agree": _agree,
    "complete": _complete,
    "rate": _rate,
    "dispute": _dispute,
    "show": _show,
    "history": _history,
    "rule": _rule,
    "inbox": _inbox,
    "earnings": _earnings,
    "settle": _settle,
    CUSTOMER_COMMAND: _carry,
}

__all__ = ["NAME", "SPEC", "RideState", "peoplenet_demo", "peoplenet_demo_enable"]
