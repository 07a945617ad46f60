"""Which sockets a set of processes listens on, read from Linux /proc (no third-party deps).

Why: the design allows only the peer transport to listen beyond loopback (thespian's own TCP
transport unpickles whatever reaches it).  Tests and ``peoplenet doctor``-style checks use this
to prove that a node's whole process tree exposes nothing else.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

Proto = Literal["tcp", "tcp6", "udp", "udp6"]
PROTOS: Final[tuple[Proto, ...]] = ("tcp", "tcp6", "udp", "udp6")
TCP_LISTEN: Final = 0x0A
PROC: Final = Path("/proc")


@dataclass(frozen=True)
class ListeningSocket:
    """A TCP socket in LISTEN state or a bound UDP socket, and the process holding it."""

    pid: int
    proto: Proto
    host: str
    port: int


@dataclass(frozen=True)
class ProcNetEntry:
    """One parsed line of /proc/net/{tcp,tcp6,udp,udp6}."""

    host: str
    port: int
    state: int
    inode: int


def decode_address(hex_address: str) -> str:
    """The text form of a /proc/net address: 32-bit words in host byte order, hex-encoded.

    IPv4-mapped IPv6 addresses come out as ``::ffff:a.b.c.d``.
    """
    if len(hex_address) not in (8, 32):
        raise ValueError(f"not a /proc/net address: {hex_address!r}")
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    address = ipaddress.IPv6Address(raw)
    if address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def parse_proc_net(text: str) -> list[ProcNetEntry]:
    """Parse a /proc/net/{tcp,udp}[6] table (header line first); malformed lines are skipped."""
    entries = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            host_hex, port_hex = fields[1].split(":")
            entries.append(
                ProcNetEntry(
                    host=decode_address(host_hex),
                    port=int(port_hex, 16),
                    state=int(fields[3], 16),
                    inode=int(fields[9]),
                )
            )
        except ValueError:
            continue
    return entries


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets ``pid`` holds open; empty if it is gone or not ours to inspect."""
    inodes = set()
    try:
        fds = list((PROC / str(pid) / "fd").iterdir())
    except OSError:
        return set()
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:[") and target.endswith("]"):
            inodes.add(int(target[8:-1]))
    return inodes


def listening_sockets(pids: Iterable[int]) -> list[ListeningSocket]:
    """TCP listeners and bound UDP sockets of ``pids``, sorted by (pid, proto, host, port)."""
    tables: dict[str, dict[Proto, list[ProcNetEntry]]] = {}
    found: set[ListeningSocket] = set()
    for pid in set(pids):
        inodes = socket_inodes(pid)
        if not inodes:
            continue
        for proto, entry in _entries_for(pid, tables):
            if entry.inode not in inodes or entry.inode == 0:
                continue
            listening = entry.state == TCP_LISTEN if proto.startswith("tcp") else entry.port != 0
            if listening:
                found.add(ListeningSocket(pid, proto, entry.host, entry.port))
    return sorted(found, key=lambda s: (s.pid, s.proto, s.host, s.port))


def _entries_for(
    pid: int, tables: dict[str, dict[Proto, list[ProcNetEntry]]]
) -> Iterator[tuple[Proto, ProcNetEntry]]:
    """The socket tables of ``pid``'s network namespace, read once per namespace."""
    try:
        namespace = os.readlink(PROC / str(pid) / "ns" / "net")
    except OSError:
        namespace = f"pid:{pid}"
    if namespace not in tables:
        by_proto: dict[Proto, list[ProcNetEntry]] = {}
        for proto in PROTOS:
            try:
                by_proto[proto] = parse_proc_net((PROC / str(pid) / "net" / proto).read_text())
            except OSError:
                by_proto[proto] = []  # no IPv6 in this kernel, or the process is gone
        tables[namespace] = by_proto
    for proto, entries in tables[namespace].items():
        for entry in entries:
            yield proto, entry


def process_tree(root_pid: int) -> set[int]:
    """``root_pid`` and all its descendants now alive (empty if the root itself is gone)."""
    children: dict[int, list[int]] = {}
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        ppid = _parent_pid(text)
        if ppid is not None:
            children.setdefault(ppid, []).append(int(stat.parent.name))
    if not (PROC / str(root_pid)).exists():
        return set()
    tree, todo = {root_pid}, [root_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    return tree


def _parent_pid(stat_text: str) -> int | None:
    """The ppid field of /proc/<pid>/stat; the command name may hold spaces and parentheses."""
    _, paren, rest = stat_text.rpartition(")")
    fields = rest.split()
    if not paren or len(fields) < 2 or not fields[1].isdigit():
        return None
    return int(fields[1])


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address, ``[v6]``, ``v6%zone`` or ``localhost``) is loopback-only."""
    name = host.strip().removeprefix("[").removesuffix("]").split("%")[0]
    if name.lower().removesuffix(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def exposed(sockets: Iterable[ListeningSocket]) -> list[ListeningSocket]:
    """The sockets reachable from beyond this host (bound to a non-loopback or any address)."""
    return [s for s in sockets if not is_loopback(s.host)]
