"""Who may hold what on this node: the network's policy decisions without I/O.

Why a pure core: every decision about hostile peers (admit a connection or evict one, hold a
stranger's message or drop it, forward a friend request, disconnect and back off a peer that
breaks the protocol, log a refusal or only count it) is a function of the events seen and
``now``.  The asyncio shells (:mod:`peoplenet.runtime.net.transport`,
:mod:`peoplenet.actors.member.network_service`) feed
events in and carry decisions out, and the invariants (held bytes never exceed their bound, a
friend's slot is never taken by a stranger) are tested here, with Hypothesis, away from sockets.

Keys are opaque hashables chosen by the shell (a connection object, a member id, an address).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Final

from peoplenet.runtime.errors import LocalError

# -- limits ----------------------------------------------------------------------------------

STRANGER_MAX_MESSAGE: Final = 16 * 1024
"""Largest message a stranger (an authenticated peer that is not a friend, a community
participant or someone this node asked) may send: a friend request is a few hundred bytes."""


@dataclass(frozen=True)
class PolicyConfig:
    """Every bound of the connection policy (documented in docs/security.md)."""

    max_connections: int = 256
    reserved_for_kept: int = 64
    """Slots only friends, community participants and our own dials may use."""
    handshakes_per_ip: int = 8
    """Unauthenticated connections (still handshaking) one source address may hold."""
    max_strangers: int = 32
    strangers_per_ip: int = 2
    held_messages_per_stranger: int = 16
    held_bytes_per_stranger: int = 256 * 1024
    held_bytes_total: int = 2 * 1024 * 1024
    """Estimated decoded bytes of held stranger messages, per stranger and in all."""
    new_requesters_per_ip_per_s: float = 1 / 30
    new_requesters_burst: int = 4
    request_repeat_s: float = 2.0
    """A requester's repeats are forwarded at most this often (honest ones resend every 5 s)."""
    customer_msgs_per_s: float = 0.5
    customer_burst: int = 8
    """The customer protocol (requests, receipt queries: docs/work-kit.md#customers): each
    authenticated customer id gets a token bucket; a customer asks a few members each time."""
    violation_threshold: float = 2.5
    """With weight 1 a violation and the half-life below: three violations within about
    three minutes back a peer off."""
    violation_half_life_s: float = 300.0
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0
    log_interval_s: float = 10.0
    log_lines_per_interval: int = 20

    def __post_init__(self) -> None:
        if self.reserved_for_kept >= self.max_connections:
            raise LocalError("reserved_for_kept must leave room for other connections")
        numbers = (
            self.max_connections,
            self.handshakes_per_ip,
            self.max_strangers,
            self.strangers_per_ip,
            self.held_messages_per_stranger,
            self.held_bytes_per_stranger,
            self.held_bytes_total,
            self.new_requesters_per_ip_per_s,
            self.new_requesters_burst,
            self.request_repeat_s,
            self.customer_msgs_per_s,
            self.customer_burst,
            self.violation_threshold,
            self.violation_half_life_s,
            self.backoff_base_s,
            self.backoff_max_s,
            self.log_interval_s,
            self.log_lines_per_interval,
        )
        if self.reserved_for_kept < 0 or any(v <= 0 for v in numbers):
            raise LocalError("connection policy limits must be positive")


# -- connection slots ------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    """Accept or refuse a new inbound connection; ``evict``: close this one first."""

    accept: bool
    reason: str = ""
    evict: Hashable | None = None


@dataclass
class _Slot:
    ip: str
    since: float
    authenticated: bool = False
    kept: bool = False


class SlotTable:
    """The transport's connections by state, and who gets a slot when they run short.

    Unauthenticated connections (handshaking) are the cheapest to make and the first evicted:
    a newcomer takes the oldest handshake of the address holding the most.  Kept connections
    (friends, community participants, our own dials) may use every slot; everything else at
    most ``max_connections - reserved_for_kept``, so a flood never takes a friend's slot.
    """

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self._slots: dict[Hashable, _Slot] = {}

    def __len__(self) -> int:
        return len(self._slots)

    def admit(self, ip: str, now: float) -> Admission:
        """A connection from ``ip`` was accepted by the OS: may it start a handshake?"""
        cfg = self.config
        handshakes = [(k, s) for k, s in self._slots.items() if not s.authenticated]
        if sum(1 for _, s in handshakes if s.ip == ip) >= cfg.handshakes_per_ip:
            return Admission(False, "too_many_handshakes_from_address")
        unkept = sum(1 for s in self._slots.values() if not s.kept)
        full = len(self._slots) >= cfg.max_connections
        if not full and unkept < cfg.max_connections - cfg.reserved_for_kept:
            return Admission(True)
        if not handshakes:
            return Admission(False, "too_many_connections")
        per_ip: dict[str, int] = {}
        for _, s in handshakes:
            per_ip[s.ip] = per_ip.get(s.ip, 0) + 1
        victim = min(handshakes, key=lambda ks: (-per_ip[ks[1].ip], ks[1].since))[0]
        return Admission(True, "evict_handshake", victim)

    def opened(
        self, key: Hashable, ip: str, now: float, *, authenticated: bool, kept: bool = False
    ) -> None:
        """A connection took its slot (``kept``: one of our own dials)."""
        self._slots[key] = _Slot(ip, now, authenticated=authenticated or kept, kept=kept)

    def set_kept(self, key: Hashable, kept: bool) -> None:
        slot = self._slots.get(key)
        if slot is not None:
            slot.kept = kept
            slot.authenticated = True

    def closed(self, key: Hashable) -> None:
        self._slots.pop(key, None)

    def is_kept(self, key: Hashable) -> bool:
        slot = self._slots.get(key)
        return slot is not None and slot.kept

    def counts(self) -> dict[str, int]:
        slots = self._slots.values()
        return {
            "total": len(self._slots),
            "handshaking": sum(1 for s in slots if not s.authenticated),
            "kept": sum(1 for s in slots if s.kept),
        }


# -- strangers ---------------------------------------------------------------------------------


@dataclass
class _Stranger:
    ip: str
    since: float
    requested: bool = False
    held: int = 0
    held_bytes: int = 0


class StrangerLedger:
    """The network service's strangers: who has a slot, what each may hold.

    Stranger slots go to addresses fairly: when they are full, a newcomer evicts a stranger of
    the address holding the most, preferring one that has delivered its friend request, then
    the oldest.  So a flood from many addresses churns among itself, and a newcomer (the
    youngest) keeps its slot long enough to hand over its request.
    """

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self._strangers: dict[Hashable, _Stranger] = {}
        self.held_bytes = 0

    def __contains__(self, key: object) -> bool:
        return key in self._strangers

    def __len__(self) -> int:
        return len(self._strangers)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._strangers))

    def admit(self, key: Hashable, ip: str, now: float) -> Admission:
        """A stranger authenticated: may it stay, and whom must it push out?"""
        cfg = self.config
        mine = [(k, s) for k, s in self._strangers.items() if s.ip == ip]
        if len(mine) >= cfg.strangers_per_ip:
            victim = min(mine, key=lambda ks: (not ks[1].requested, ks[1].since))[0]
            return Admission(True, "evict_same_address", victim)
        if len(self._strangers) < cfg.max_strangers:
            return Admission(True)
        per_ip: dict[str, int] = {}
        for s in self._strangers.values():
            per_ip[s.ip] = per_ip.get(s.ip, 0) + 1
        victim = min(
            self._strangers.items(),
            key=lambda ks: (-per_ip[ks[1].ip], not ks[1].requested, ks[1].since),
        )[0]
        return Admission(True, "evict_stranger", victim)

    def add(self, key: Hashable, ip: str, now: float) -> None:
        self._strangers[key] = _Stranger(ip, now)

    def touch(self, key: Hashable, now: float, *, requested: bool = False) -> None:
        s = self._strangers.get(key)
        if s is not None:
            s.since = now
            s.requested = s.requested or requested

    def idle(self, now: float, idle_s: float) -> list[Hashable]:
        return [k for k, s in self._strangers.items() if now - s.since > idle_s]

    def hold(self, key: Hashable, cost: int) -> bool:
        """May ``key`` hold one more message of estimated decoded size ``cost``?  (Counts it.)"""
        s = self._strangers.get(key)
        cfg = self.config
        if (
            s is None
            or s.held >= cfg.held_messages_per_stranger
            or s.held_bytes + cost > cfg.held_bytes_per_stranger
            or self.held_bytes + cost > cfg.held_bytes_total
        ):
            return False
        s.held += 1
        s.held_bytes += cost
        self.held_bytes += cost
        return True

    def release(self, key: Hashable) -> None:
        """Forget ``key`` and what it held (it left, or became a friend and was delivered)."""
        s = self._strangers.pop(key, None)
        if s is not None:
            self.held_bytes -= s.held_bytes


# -- friend requests per address ---------------------------------------------------------------


class RequestQuota:
    """How many new requester keys each source address may introduce (a token bucket each).

    A key already seen from an address costs no token when it repeats, so a genuine newcomer
    retrying its request is not throttled by its own retries; repeats are forwarded at most
    once per ``request_repeat_s``, so one key cannot keep the store busy either.
    """

    def __init__(self, config: PolicyConfig, max_addresses: int = 4096) -> None:
        self.config = config
        self.max_addresses = max_addresses
        self._buckets: dict[str, tuple[float, float]] = {}
        self._seen: dict[str, dict[Hashable, float]] = {}

    def allow(self, ip: str, requester: Hashable, now: float) -> bool:
        seen = self._seen.get(ip)
        if seen is not None and requester in seen:
            if now - seen[requester] < self.config.request_repeat_s:
                return False
            seen[requester] = now
            return True
        cfg = self.config
        tokens, last = self._buckets.get(ip, (float(cfg.new_requesters_burst), now))
        tokens = min(
            float(cfg.new_requesters_burst),
            tokens + max(0.0, now - last) * cfg.new_requesters_per_ip_per_s,
        )
        if tokens < 1.0:
            self._buckets[ip] = (tokens, now)
            return False
        if ip not in self._buckets and len(self._buckets) >= self.max_addresses:
            oldest = min(self._buckets, key=lambda a: self._buckets[a][1])
            del self._buckets[oldest]
            self._seen.pop(oldest, None)
        self._buckets[ip] = (tokens - 1.0, now)
        seen = self._seen.setdefault(ip, {})
        if len(seen) >= 64:
            seen.clear()
        seen[requester] = now
        return True


# -- customers ---------------------------------------------------------------------------------


class CustomerQuota:
    """How often each customer (an authenticated id that is no friend or participant) may use
    the customer protocol: a token bucket per id, refilled at ``customer_msgs_per_s``.

    Keyed by the id the transport authenticated, so a customer cannot spend another's tokens;
    a throwaway id buys a fresh bucket, but it also needs a stranger slot and a handshake, which
    the per-address limits above bound.  At most ``max_customers`` buckets are kept (the one
    idle longest goes first).
    """

    def __init__(self, config: PolicyConfig, max_customers: int = 4096) -> None:
        self.config = config
        self.max_customers = max_customers
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def allow(self, customer: Hashable, now: float) -> bool:
        cfg = self.config
        burst = float(cfg.customer_burst)
        tokens, last = self._buckets.pop(customer, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - last) * cfg.customer_msgs_per_s)
        if len(self._buckets) >= self.max_customers:
            del self._buckets[next(iter(self._buckets))]  # insertion order: the idlest
        allowed = tokens >= 1.0
        self._buckets[customer] = (tokens - 1.0 if allowed else tokens, now)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)


# -- protocol violations -----------------------------------------------------------------------


@dataclass
class _Record:
    score: float = 0.0
    at: float = 0.0
    strikes: int = 0
    banned_until: float = -math.inf


@dataclass(frozen=True)
class Verdict:
    """What a violation means: ``disconnect`` now, and refuse the peer until ``until``."""

    disconnect: bool
    until: float = -math.inf


class ViolationScores:
    """A decaying score per peer; crossing the threshold disconnects and backs the peer off.

    Each backoff doubles the previous one (up to ``backoff_max_s``); a peer that behaves for a
    few half-lives sees its score fade back to zero.
    """

    def __init__(self, config: PolicyConfig, max_peers: int = 4096) -> None:
        self.config = config
        self.max_peers = max_peers
        self._peers: dict[Hashable, _Record] = {}

    def score(self, peer: Hashable, now: float) -> float:
        rec = self._peers.get(peer)
        return 0.0 if rec is None else self._decayed(rec, now)

    def _decayed(self, rec: _Record, now: float) -> float:
        elapsed = max(0.0, now - rec.at)
        return float(rec.score * 0.5 ** (elapsed / self.config.violation_half_life_s))

    def violation(self, peer: Hashable, weight: float, now: float) -> Verdict:
        cfg = self.config
        rec = self._peers.get(peer)
        if rec is None:
            if len(self._peers) >= self.max_peers:
                self._forget_oldest()
            rec = self._peers[peer] = _Record(at=now)
        rec.score = self._decayed(rec, now) + weight
        rec.at = now
        if rec.score < cfg.violation_threshold:
            return Verdict(False)
        backoff = min(cfg.backoff_max_s, cfg.backoff_base_s * 2**rec.strikes)
        rec.strikes += 1
        rec.score = 0.0
        rec.banned_until = now + backoff
        return Verdict(True, rec.banned_until)

    def banned(self, peer: Hashable, now: float) -> bool:
        rec = self._peers.get(peer)
        return rec is not None and now < rec.banned_until

    def _forget_oldest(self) -> None:
        unbanned = [k for k, r in self._peers.items() if r.banned_until == -math.inf]
        pool = unbanned or list(self._peers)
        del self._peers[min(pool, key=lambda k: self._peers[k].at)]


# -- refusal logs ----------------------------------------------------------------------------


@dataclass
class RefusalTally:
    """Which refusals get their own log line, and the counts for one summary per interval."""

    config: PolicyConfig
    _start: float | None = None
    _lines: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0

    def record(self, reason: str, now: float) -> bool:
        """Count a refusal; True if it may have a line of its own."""
        if self._start is None:
            self._start = now
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if self._lines < self.config.log_lines_per_interval:
            self._lines += 1
            return True
        self.suppressed += 1
        return False

    def due(self, now: float) -> dict[str, int] | None:
        """At the end of an interval with suppressed lines: counts by reason (and reset)."""
        if self._start is None or now - self._start < self.config.log_interval_s:
            return None
        counts, suppressed = self.counts, self.suppressed
        self._start, self._lines, self.counts, self.suppressed = None, 0, {}, 0
        if not suppressed:
            return None
        return {**counts, "suppressed": suppressed}
