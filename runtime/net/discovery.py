"""Finding peers: zeroconf (mDNS/DNS-SD) on the LAN, plus ``--peer host:port`` static hints.

Why hints only: anyone on a LAN can announce anything, and a crashed peer stays announced for
up to ~19 minutes (receivers clamp PTR TTLs up to 1125 s).  So discovery just tells the
transport where someone *might* be; the transport's handshake proves who answers, and its
heartbeats say who is alive.  Announcements of other networks, of ourselves and malformed ones
are dropped here, quietly (debug log), and nothing a peer sends can raise out of a handler.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from peoplenet.runtime.errors import LocalError
from peoplenet.runtime.keys.identity import ID_LEN, MemberId, fingerprint, member_id
from peoplenet.runtime.log import get_logger

SERVICE_TYPE: Final = "_peoplenet._tcp.local."
TXT_VERSION: Final = "1"
NET_TAG_LEN: Final = 8
"""Bytes of BLAKE2b(network id) in the ``net`` TXT key: the digest the transport preamble uses."""
RESOLVE_TIMEOUT_MS: Final = 3000
MAX_PENDING_RESOLVES: Final = 32
"""A flood of announcements must not become a flood of tasks: beyond this, new names wait."""
MAX_KNOWN_SERVICES: Final = 1024
"""Bound on remembered announcements, for the same reason."""

HintSource = Literal["mdns", "static", "address_block"]

_log = get_logger("discovery")
_T = TypeVar("_T")


@dataclass(frozen=True)
class PeerHint:
    """Where ``member`` may be listening.  Unauthenticated: the transport handshake decides."""

    member: MemberId
    host: str
    port: int
    source: HintSource


def network_tag(network_id: bytes) -> str:
    """Hex of BLAKE2b-64(network id): tells networks apart without publishing the id itself."""
    return hashlib.blake2b(network_id, digest_size=NET_TAG_LEN).hexdigest()


def service_name(member: MemberId) -> str:
    """The DNS-SD instance name for ``member``: unique because the fingerprint is."""
    return f"peoplenet-{fingerprint(member)}.{SERVICE_TYPE}"


def txt_properties(member: MemberId, network_id: bytes) -> dict[str, str]:
    """The TXT record we announce: member id, network tag, format version."""
    return {"id": member.hex(), "net": network_tag(network_id), "v": TXT_VERSION}


def parse_txt(properties: Mapping[bytes, bytes | None]) -> tuple[MemberId, str]:
    """Member id and network tag from an announced TXT record; ``ValueError`` if malformed."""
    version = properties.get(b"v")
    if version != TXT_VERSION.encode():
        raise ValueError(f"unsupported TXT version {version!r}")
    raw_id = properties.get(b"id")
    if raw_id is None or len(raw_id) != 2 * ID_LEN or not _is_lower_hex(raw_id):
        raise ValueError("id is not 64 lowercase hex digits")
    raw_net = properties.get(b"net")
    if raw_net is None or len(raw_net) != 2 * NET_TAG_LEN or not _is_lower_hex(raw_net):
        raise ValueError("net is not 16 lowercase hex digits")
    return member_id(bytes.fromhex(raw_id.decode("ascii"))), raw_net.decode("ascii")


def _is_lower_hex(raw: bytes) -> bool:
    return all(c in b"0123456789abcdef" for c in raw)


_HOSTNAME_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_MAX_HOSTNAME = 253


def parse_static_peer(text: str) -> tuple[str, int]:
    """``"host:port"`` (IPv4, hostname or ``[IPv6]:port``) from ``--peer`` into (host, port)."""
    spec = text.strip()
    if spec.startswith("["):
        close = spec.find("]")
        if close < 0:
            raise ValueError(f"peer {text!r}: missing ']' after the IPv6 address")
        host, rest = spec[1:close], spec[close + 1 :]
        if not rest.startswith(":"):
            raise ValueError(f"peer {text!r}: expected '[address]:port'")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"peer {text!r}: {host!r} is not an IPv6 address") from None
        return host, _parse_port(text, rest[1:])
    host, colon, port_text = spec.rpartition(":")
    if not colon:
        raise ValueError(f"peer {text!r}: expected 'host:port'")
    if ":" in host:
        raise ValueError(f"peer {text!r}: put an IPv6 address in brackets, e.g. '[::1]:7000'")
    if not host:
        raise ValueError(f"peer {text!r}: the host is empty")
    _check_host(text, host)
    return host, _parse_port(text, port_text)


def _check_host(text: str, host: str) -> None:
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"peer {text!r}: {host!r} is not an IPv4 address") from None
        return
    name = host.removesuffix(".")
    if len(name) > _MAX_HOSTNAME or not all(
        _HOSTNAME_LABEL.fullmatch(label) for label in name.split(".")
    ):
        raise ValueError(f"peer {text!r}: {host!r} is not a valid host name")


def _parse_port(text: str, port_text: str) -> int:
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"peer {text!r}: the port must be a number, got {port_text!r}")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"peer {text!r}: port {port} is outside 1-65535")
    return port


class Discovery:
    """Announce our listen address on mDNS and report peers of the same network.

    ``on_peer`` is called (in the event loop) when a peer appears or its address changes,
    ``on_gone`` when it says goodbye.  Nothing notices a crashed peer: that is the transport's
    job.  ``probe=False`` skips the RFC 6762 name probe (about 1.3 s): safe where instance
    names are unique by construction, as ours are, unless the same member runs twice.
    """

    def __init__(
        self,
        *,
        member: MemberId,
        network_id: bytes,
        port: int,
        interfaces: list[str],
        on_peer: Callable[[PeerHint], None],
        on_gone: Callable[[MemberId], None] | None = None,
        advertise_host: str,
        probe: bool = True,
    ) -> None:
        if not 1 <= len(network_id) <= 64:
            raise LocalError("a network id is 1 to 64 bytes")
        if not interfaces:
            raise LocalError("discovery needs at least one interface address")
        _check_port(port)
        ipaddress.ip_address(advertise_host)  # ValueError for a name: mDNS carries addresses
        self._member = member_id(member)
        self._network_id = network_id
        self._net_tag = network_tag(network_id)
        self._port = port
        self._host = advertise_host
        self._interfaces = list(interfaces)
        self._on_peer = on_peer
        self._on_gone = on_gone
        self._probe = probe
        self._azc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._resolving: dict[str, asyncio.Task[None]] = {}
        self._resolve_again: set[str] = set()
        self._broadcasts: set[asyncio.Future[Any]] = set()
        self._known: dict[str, PeerHint] = {}
        self._state: Literal["new", "running", "stopped"] = "new"

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def registered_name(self) -> str | None:
        """Our instance name once registered (zeroconf may add ``-2`` on a conflict)."""
        return self._info.name if self._info is not None else None

    def peers(self) -> list[PeerHint]:
        """The peers currently announced (a snapshot)."""
        return list(self._known.values())

    async def start(self) -> None:
        """Browse for peers, then register ourselves (probing first unless ``probe=False``)."""
        if self._state != "new":
            raise LocalError("a Discovery starts once")
        self._state = "running"
        try:
            version = IPVersion.All if any(":" in i for i in self._interfaces) else IPVersion.V4Only
            self._azc = AsyncZeroconf(interfaces=self._interfaces, ip_version=version)
            self._browser = AsyncServiceBrowser(
                self._azc.zeroconf, [SERVICE_TYPE], handlers=[self._on_service_state_change]
            )
            self._info = self._service_info()
            self._track(
                await self._azc.async_register_service(
                    self._info, allow_name_change=True, cooperating_responders=not self._probe
                )
            )
        except BaseException:
            await self.stop()
            raise
        _log.info("discovery_started", name=self._info.name, port=self._port, host=self._host)

    async def stop(self) -> None:
        """Say goodbye, stop browsing and close the sockets.  Idempotent, never leaves tasks."""
        if self._state == "stopped":
            return
        self._state = "stopped"
        pending: list[asyncio.Future[Any]] = [*self._resolving.values(), *self._broadcasts]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._resolving.clear()
        self._resolve_again.clear()
        self._broadcasts.clear()
        azc, browser = self._azc, self._browser
        self._azc = self._browser = None
        try:
            if browser is not None:
                await browser.async_cancel()
        finally:
            if azc is not None:
                await azc.async_close()  # sends goodbyes for our registration
        self._known.clear()

    async def update_port(self, port: int) -> None:
        """Announce a new listen port."""
        await self.update_address(port=port)

    async def update_address(self, *, host: str | None = None, port: int | None = None) -> None:
        """Announce a new listen address (re-registers the same instance name)."""
        if port is not None:
            _check_port(port)
            self._port = port
        if host is not None:
            ipaddress.ip_address(host)
            self._host = host
        if self._state != "running" or self._azc is None or self._info is None:
            return
        self._info = self._service_info(name=self._info.name)
        self._track(await self._azc.async_update_service(self._info))
        _log.info("discovery_address_updated", host=self._host, port=self._port)

    def _service_info(self, name: str | None = None) -> AsyncServiceInfo:
        fpr = fingerprint(self._member)
        return AsyncServiceInfo(
            SERVICE_TYPE,
            name or service_name(self._member),
            port=self._port,
            properties=txt_properties(self._member, self._network_id),
            server=f"peoplenet-{fpr}.local.",
            parsed_addresses=[self._host],
        )

    def _track(self, awaitable: Awaitable[Any]) -> None:
        """Keep the announcement task referenced, so stop() can cancel it."""
        future = asyncio.ensure_future(awaitable)
        self._broadcasts.add(future)
        future.add_done_callback(self._broadcasts.discard)

    def _on_service_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        """Browser handler: runs in the event loop, so it only schedules work and never raises."""
        try:
            if self._state != "running" or self._is_own(name):
                return
            if state_change is ServiceStateChange.Removed:
                self._forget(name)
            elif name in self._resolving:
                self._resolve_again.add(name)  # changed while resolving: look once more
            else:
                self._schedule_resolve(zeroconf, name)
        except Exception:
            _log.exception("discovery_handler_failed", name=name)

    def _schedule_resolve(self, zeroconf: Zeroconf, name: str) -> None:
        if len(self._resolving) >= MAX_PENDING_RESOLVES:
            _log.debug("discovery_resolve_dropped", name=name, reason="too_many_pending")
            return
        task = asyncio.create_task(self._resolve(zeroconf, name))
        self._resolving[name] = task

        def done(_: asyncio.Task[None]) -> None:
            if self._resolving.get(name) is not task:
                return
            del self._resolving[name]
            if name in self._resolve_again and self._state == "running":
                self._resolve_again.discard(name)
                self._schedule_resolve(zeroconf, name)

        task.add_done_callback(done)

    def _is_own(self, name: str) -> bool:
        return self._info is not None and name.lower() == self._info.name.lower()

    async def _resolve(self, zeroconf: Zeroconf, name: str) -> None:
        try:
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if not await info.async_request(zeroconf, RESOLVE_TIMEOUT_MS):
                _log.debug("discovery_unresolved", name=name)
                return
            hint = self._hint_from(name, info)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.debug("discovery_resolve_failed", name=name, exc_info=True)
            return
        if hint is None or self._state != "running" or self._known.get(name) == hint:
            return
        if name not in self._known and len(self._known) >= MAX_KNOWN_SERVICES:
            _log.debug("discovery_ignored", name=name, reason="too_many_services")
            return
        self._known[name] = hint
        _log.debug("discovery_peer", name=name, host=hint.host, port=hint.port)
        _call_safely(self._on_peer, hint)

    def _hint_from(self, name: str, info: AsyncServiceInfo) -> PeerHint | None:
        """The hint an announcement gives, or None (logged) if it is not for us to use."""
        try:
            peer, net = parse_txt(info.properties)
        except ValueError as exc:
            _log.debug("discovery_ignored", name=name, reason="bad_txt", detail=str(exc))
            return None
        if net != self._net_tag:
            _log.debug("discovery_ignored", name=name, reason="other_network")
            return None
        if peer == self._member:
            return None
        addresses = info.parsed_addresses(IPVersion.V4Only) or info.parsed_addresses()
        if not addresses or info.port is None or not 1 <= info.port <= 65535:
            _log.debug("discovery_ignored", name=name, reason="no_address")
            return None
        return PeerHint(member=peer, host=addresses[0], port=info.port, source="mdns")

    def _forget(self, name: str) -> None:
        self._resolve_again.discard(name)
        task = self._resolving.pop(name, None)
        if task is not None:
            task.cancel()
        hint = self._known.pop(name, None)
        if hint is None or self._on_gone is None:
            return
        if any(other.member == hint.member for other in self._known.values()):
            return  # still announced under another name
        _call_safely(self._on_gone, hint.member)


def _check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise LocalError(f"port {port} is outside 1-65535")


def _call_safely(callback: Callable[[_T], None], value: _T) -> None:
    """Run a user callback from a zeroconf path: its bugs are logged, not raised into zeroconf."""
    try:
        callback(value)
    except Exception:
        _log.exception("discovery_callback_failed")


__all__ = [
    "SERVICE_TYPE",
    "Discovery",
    "HintSource",
    "PeerHint",
    "network_tag",
    "parse_static_peer",
    "parse_txt",
    "service_name",
    "txt_properties",
]
