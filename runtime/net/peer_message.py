"""A peer's message as bytes: what is read from its header, and the one place it is decoded.

Why: a message from a peer is parsed once, by the actor that owns what it is about.  The
transport checks the frame and the record tag, the network actor routes on the tag and the
lace (both read from the record's header, nothing else is parsed), and passes the bytes on;
the owner -- the store actor (friends' dissemination, friend requests), a community's
consensus actor (``EpochBlocks``/``EpochHave``: its core reads them itself), or the app lace
host behind it (``LaceBlocks``/``LaceHave``) -- decodes them with :func:`decode_peer_message`.
Outgoing messages are encoded once by the actor that makes them and travel as bytes.
"""

from __future__ import annotations

from typing import Final

from peoplenet.runtime.wire import codec, fast_parsers
from peoplenet.runtime.wire.codec import Value

EPOCH_TAGS: Final = frozenset((65, 66))
"""``EpochBlocks``, ``EpochHave``: a community's consensus actor takes them."""
APP_LACE_TAGS: Final = frozenset((67, 68))
"""``LaceBlocks``, ``LaceHave``: the community's app lace host takes them."""
LACE_TAGS: Final = EPOCH_TAGS | APP_LACE_TAGS
"""Records whose first field is the lace they are routed by."""
CONSUMER_TAGS: Final = frozenset((163, 167))
"""``CustomerRequest``, ``ReceiptQuery``: a community's consumer takes them from anyone, a
customer included (docs/work-kit.md#customers); routed by the community id they name."""
_COMMUNITY_FIELD: Final = {163: 1, 167: 0}
"""Which field of a :data:`CONSUMER_TAGS` record is the community id (its earlier fields are
``bin`` too)."""


def record_tag(data: bytes) -> int | None:
    """The tag of the record that ``data`` encodes, read from its header, or None."""
    found = fast_parsers.record_tag_at(data)
    return None if found is None else found[0]


def record_lace(data: bytes) -> bytes | None:
    """The lace of a :data:`LACE_TAGS` record (its first field), from the header, or None."""
    found = fast_parsers.record_tag_at(data)
    if found is None or found[0] not in LACE_TAGS:
        return None
    lace = fast_parsers.read_bin(data, found[1])
    return None if lace is None else lace[0]


def record_community(data: bytes) -> bytes | None:
    """The community a :data:`CONSUMER_TAGS` record names, from its header, or None."""
    found = fast_parsers.record_tag_at(data)
    if found is None or found[0] not in CONSUMER_TAGS:
        return None
    at = found[1]
    for _ in range(_COMMUNITY_FIELD[found[0]] + 1):
        field = fast_parsers.read_bin(data, at)
        if field is None:
            return None
        value, at = field
    return value


def decode_peer_message(data: bytes, max_size: int = codec.MAX_MESSAGE_SIZE) -> Value:
    """The one full decode of a message from a peer, by its owner (the codec's verdicts)."""
    return codec.decode(data, max_size=max_size)


__all__ = [
    "APP_LACE_TAGS",
    "CONSUMER_TAGS",
    "EPOCH_TAGS",
    "LACE_TAGS",
    "decode_peer_message",
    "record_community",
    "record_lace",
    "record_tag",
]
