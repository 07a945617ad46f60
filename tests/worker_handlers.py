"""Handlers for the app-worker channel tests (loaded in the worker as ``tests.worker_handlers``)."""

from __future__ import annotations

import gc
import os
import sys
import time

from peoplenet.plugins.worker.serve import CHANNEL, Back, CallbackRefused, Handler
from peoplenet.runtime.wire.codec import Value


def _echo(args: Value, back: Back) -> Value:
    return args


def _twice(args: Value, back: Back) -> Value:
    """Two nested callbacks, the second fed the first's answer."""
    first = back("add", (args, 1))
    second = back("add", (first, 10))
    return ("done", second)


def _refused(args: Value, back: Back) -> Value:
    try:
        back("sign", args)
    except CallbackRefused as exc:
        return ("refused", exc.kind)
    return "signed"


def _raise(args: Value, back: Back) -> Value:
    raise ValueError(f"bad {args!r}")


def _hang(args: Value, back: Back) -> Value:
    time.sleep(3600)
    return None


def _garbage(args: Value, back: Back) -> Value:
    os.write(CHANNEL.fd, b"\x00\x00\x00\x05\xc1\xc1\xc1\xc1\xc1")
    return None


def _exit(args: Value, back: Back) -> Value:
    os._exit(7)


def _env(args: Value, back: Back) -> Value:
    return tuple(sorted(os.environ))


def _print(args: Value, back: Back) -> Value:
    print("hello from an app", args)
    sys.stdout.flush()
    return "printed"


def _gc(args: Value, back: Back) -> Value:
    return tuple(gc.get_threshold())


def _unencodable(args: Value, back: Back) -> Value:
    return 1.5  # type: ignore[return-value]  # deliberately not a Value: floats have no form


HANDLERS: dict[str, Handler] = {
    "echo": _echo,
    "twice": _twice,
    "refused": _refused,
    "raise": _raise,
    "hang": _hang,
    "garbage": _garbage,
    "exit": _exit,
    "env": _env,
    "print": _print,
    "unencodable": _unencodable,
    "gc": _gc,
}
