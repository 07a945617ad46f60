"""The /proc socket inspector sees exactly the listeners a process tree holds."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from peoplenet.runtime.net.sockets_probe import (
    ListeningSocket,
    ProcNetEntry,
    decode_address,
    exposed,
    is_loopback,
    listening_sockets,
    parse_proc_net,
    process_tree,
)

TCP6_SAMPLE = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1B58 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0000000000000000 20 4 30 10 -1
   3: garbage
"""  # noqa: E501 - verbatim kernel output

UDP_SAMPLE = """\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  101: 0100007F:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 444 2 0000000000000000 0
"""  # noqa: E501


def test_decodes_ipv6_lines_little_endian() -> None:
    assert sys.byteorder == "little"  # the samples are x86 kernel output
    assert parse_proc_net(TCP6_SAMPLE) == [
        ProcNetEntry(host="::1", port=8080, state=0x0A, inode=111),
        ProcNetEntry(host="::", port=80, state=0x0A, inode=222),
        ProcNetEntry(host="::ffff:127.0.0.1", port=7000, state=0x01, inode=333),
    ]


def test_decodes_ipv4_lines() -> None:
    assert parse_proc_net(UDP_SAMPLE) == [
        ProcNetEntry(host="127.0.0.1", port=5353, state=0x07, inode=444)
    ]
    assert decode_address("00000000") == "0.0.0.0"
    assert decode_address("0101A8C0") == "192.168.1.1"
    with pytest.raises(ValueError, match="not a /proc/net address"):
        decode_address("0100")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1%eth0", False),
        ("example.org", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


@contextlib.contextmanager
def bound(kind: socket.SocketKind, host: str) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.bind((host, 0))
        if kind == socket.SOCK_STREAM:
            sock.listen()
        yield sock
    finally:
        sock.close()


def test_reports_this_process_listeners_and_forgets_closed_ones() -> None:
    pid = os.getpid()
    with (
        bound(socket.SOCK_STREAM, "127.0.0.1") as local,
        bound(socket.SOCK_STREAM, "0.0.0.0") as wild,
        bound(socket.SOCK_DGRAM, "127.0.0.1") as udp,
        socket.create_connection(local.getsockname()) as client,
    ):
        accepted, _ = local.accept()
        with accepted:
            expected = {
                ListeningSocket(pid, "tcp", "127.0.0.1", local.getsockname()[1]),
                ListeningSocket(pid, "tcp", "0.0.0.0", wild.getsockname()[1]),
                ListeningSocket(pid, "udp", "127.0.0.1", udp.getsockname()[1]),
            }
            found = set(listening_sockets([pid]))
            assert expected <= found
            ports = {s.port for s in found}
            # connected TCP sockets (either end) are not listeners
            assert client.getsockname()[1] not in ports
            assert exposed(expected) == [
                ListeningSocket(pid, "tcp", "0.0.0.0", wild.getsockname()[1])
            ]
        wild_port = wild.getsockname()[1]
        wild.close()
        after = set(listening_sockets([pid]))
        assert ListeningSocket(pid, "tcp", "0.0.0.0", wild_port) not in after
        assert ListeningSocket(pid, "tcp", "127.0.0.1", local.getsockname()[1]) in after


def test_unknown_pids_yield_nothing() -> None:
    assert listening_sockets([2**22 + 12345]) == []
    assert process_tree(2**22 + 12345) == set()


CHILD = """
import socket, subprocess, sys
grandchild = subprocess.Popen(
    [sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True
)
print(grandchild.pid, grandchild.stdout.readline().strip(), flush=True)
grandchild.wait()
"""

GRANDCHILD = """
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(60)
"""


@pytest.mark.processes
def test_process_tree_and_listeners_of_a_grandchild() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, GRANDCHILD],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    grandchild_pid = None
    try:
        assert child.stdout is not None
        grandchild_text, port_text = child.stdout.readline().split()
        grandchild_pid = int(grandchild_text)
        tree = process_tree(child.pid)
        assert tree == {child.pid, grandchild_pid}
        assert os.getpid() not in tree
        assert os.getpid() in process_tree(os.getppid())
        assert listening_sockets(tree) == [
            ListeningSocket(grandchild_pid, "tcp", "127.0.0.1", int(port_text))
        ]
    finally:
        if grandchild_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(grandchild_pid, signal.SIGKILL)
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
