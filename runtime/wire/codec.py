"""Canonical msgpack: one byte string per value, and one error type for every bad input.

Why: blocks are identified by the hash of their encoding and signed, so two encodings of the
same value would give two ids; and everything here comes from untrusted peers, so the decoder
must never raise anything but :class:`~peoplenet.runtime.errors.RemoteProtocolError`.

Canonical values are ``None``, ``bool``, ``int`` (msgpack's 64-bit range), ``str`` (UTF-8),
``bytes``, ``tuple`` (msgpack array; lists are accepted when encoding), ``dict`` with ``str``
keys (emitted sorted by their UTF-8 bytes), and registered *records*.  Floats are refused:
money, rates and thresholds are integers (fixed point), so every phone computes the same thing.

A record is a frozen dataclass registered in the explicit tag table below with
:func:`wire_type`.  It travels as msgpack ext type ``0x50`` whose data is the canonical array
``[tag, field1, field2, ...]``.  Fields declared with ``init=False`` are local caches and never
travel.  Decoding checks every field against its annotation before the class is built, so a
record's ``__post_init__`` only has to enforce its own semantic rules.

Decoding re-encodes the result and rejects the input unless the bytes are identical: that one
comparison rules out non-minimal integers, wrong string/binary widths, unsorted or duplicate
map keys, and trailing bytes.
"""

from __future__ import annotations

import dataclasses
import operator
import threading
import types
import typing
from collections.abc import Callable
from itertools import chain
from typing import Any, Final, NewType, TypeAlias, TypeVar, Union, cast

import msgpack

from peoplenet.runtime.errors import EncodeError, LocalError, RemoteProtocolError
from peoplenet.runtime.wire.decode_cost import (
    MAX_COST_PER_BYTE,
    MAX_DECODED_COST,
    check_decode_cost,
)

Value: TypeAlias = Union[
    bool, int, str, bytes, tuple["Value", ...], dict[str, "Value"], "Record", None
]
"""Anything the codec can carry."""

RECORD_EXT: Final = 0x50
"""The only msgpack ext code we emit or accept."""

MAX_MESSAGE_SIZE: Final = 4 * 1024 * 1024
"""Default ceiling for one encoded value (a frame or a block)."""

MAX_DEPTH: Final = 32
"""Nesting limit for containers and records together."""

MAX_CONTAINER_LEN: Final = 65_536
"""Most items an array or map may hold."""

_SCAN_ABOVE: Final = MAX_DECODED_COST // MAX_COST_PER_BYTE
"""Inputs longer than this are scanned (:mod:`peoplenet.runtime.wire.decode_cost`) before being
decoded:
shorter ones cannot take more than ``MAX_DECODED_COST`` bytes of memory whatever they hold."""

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1


class Record:
    """Marker base for registered wire types (frozen dataclasses)."""

    __slots__ = ()
    wire_tag: typing.ClassVar[int]


OPAQUE_TAG_MIN: Final = 200
"""Apps' tags start here; a node that has no record class for one keeps it opaque."""


@dataclasses.dataclass(frozen=True, slots=True)
class OpaqueRecord(Record):
    """An app's record this process has no class for: its tag and fields, re-encoded exactly.

    Why: a node need not run every app (and the node's trusted side never imports app code),
    yet it stores, relays and signs over app records.  The fields are checked canonical like
    any value, so an opaque record encodes back to the very bytes it came from.  Only tags from
    :data:`OPAQUE_TAG_MIN` up: an unknown tag below that is still ``unknown_tag``.
    """

    tag: int
    items: tuple[Value, ...]


class _NoCanonicalForm(EncodeError):
    """An :class:`EncodeError` that :func:`decode` reports under its own ``reason``.

    Why: decoding finds some faults only when it re-encodes (nesting too deep, a msgpack
    timestamp), and the peer's log deserves the specific reason, not just "not canonical".
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


R = TypeVar("R", bound=Record)
_Checker = Callable[[object, int], bool]

# -- registration ----------------------------------------------------------------------------
#
# Which tag names which record is decided in runtime/wire/tags.py (the whole table, one place);
# the record modules register their classes here with ``@wire_type(tag)``.

_BY_TAG: dict[int, type[Record]] = {}
_FIELDS: dict[type[Record], tuple[tuple[str, _Checker], ...]] = {}
_VALUES: dict[type[Record], Callable[[Any], tuple[Any, ...]]] = {}
_FIELDS[OpaqueRecord] = ()  # encodable; its fields are its items, with no checks of their own
_VALUES[OpaqueRecord] = operator.attrgetter("items")
"""Per record class: the wire fields' values, in order (one C call instead of a loop)."""


def _values_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) == 1:  # attrgetter of one name returns the value itself, not a 1-tuple
        only = names[0]
        return lambda record: (getattr(record, only),)
    if not names:
        return lambda record: ()
    return operator.attrgetter(*names)


def registered_tags() -> dict[int, type[Record]]:
    """A copy of the tag table: tag -> record class."""
    return dict(_BY_TAG)


def wire_type(tag: int) -> Callable[[type[R]], type[R]]:
    """Register a frozen dataclass as a record with a fixed tag."""

    def register(cls: type[R]) -> type[R]:
        klass: Any = cls  # checked at run time too: decorators are applied to anything
        if not (
            isinstance(klass, type)
            and issubclass(klass, Record)
            and hasattr(klass, "__dataclass_fields__")
        ):
            raise LocalError(f"{klass.__name__} must be a dataclass subclassing Record")
        params = getattr(klass, "__dataclass_params__")  # noqa: B009 - not in typeshed
        if not params.frozen:
            raise LocalError(f"{cls.__name__} must be frozen")
        if not isinstance(tag, int) or tag < 1:
            raise LocalError(f"tag {tag!r} must be a positive int")
        if tag in _BY_TAG and _BY_TAG[tag] is not cls:
            raise LocalError(f"tag {tag} already names {_BY_TAG[tag].__qualname__}")
        if cls in _FIELDS and cls.wire_tag != tag:
            # Two tags for one class: values sent under the old tag would re-encode under the
            # new one, so decode would reject every one of them as not canonical.
            raise LocalError(f"{cls.__name__} already has tag {cls.wire_tag}")
        fields = tuple(
            (f.name, _field_checker(f, cls)) for f in dataclasses.fields(cast(Any, klass)) if f.init
        )
        cls.wire_tag = tag
        _BY_TAG[tag] = cls
        _FIELDS[cls] = fields
        _VALUES[cls] = _values_getter(tuple(name for name, _ in fields))
        return cls

    return register


# -- encoding --------------------------------------------------------------------------------


class _PackerPool(threading.local):
    """Reusable msgpack packers, per thread.

    ``msgpack.packb`` builds a new Packer per call, which costs more than packing a small
    value; a packer is not re-entrant (the record hook packs a record's body while the outer
    value is being packed), so each nesting level takes its own from the pool.
    """

    def __init__(self) -> None:
        self.free: list[msgpack.Packer] = []


_POOL = _PackerPool()


def _pack(value: object) -> bytes:
    free = _POOL.free
    packer = free.pop() if free else msgpack.Packer(use_bin_type=True, default=_pack_record)
    out: bytes = packer.pack(value)  # on error the packer is dropped, never reused half-full
    free.append(packer)
    return out


def encode(value: object) -> bytes:
    """The canonical encoding of ``value``; raises :class:`EncodeError` if it has none."""
    try:
        return _pack(_normal(value, 0))
    except EncodeError:
        raise
    except (OverflowError, ValueError, TypeError) as exc:
        raise EncodeError(f"cannot encode: {exc}") from exc


def encode_nested(value: object, depth: int) -> bytes:
    """The encoding of ``value`` as an item ``depth`` levels inside another value.

    The bytes are :func:`encode`'s; the nesting limit counts from ``depth``, so a value that
    could not sit there is refused now (an item encoded once and then spliced into an
    enclosing encoding, e.g. a transaction into a block, must fit where it goes).
    """
    try:
        return _pack(_normal(value, depth))
    except EncodeError:
        raise
    except (OverflowError, ValueError, TypeError) as exc:
        raise EncodeError(f"cannot encode: {exc}") from exc


def encode_many_nested(values: list[Any], depth: int) -> list[bytes]:
    """:func:`encode_nested` of each value (one packer for all; flat tuples packed directly).

    Why: a member encodes every transaction it submits, typically a small tuple of scalars,
    and the per-value calls cost more than the packing.
    """
    out: list[bytes] = []
    free = _POOL.free
    packer = free.pop() if free else msgpack.Packer(use_bin_type=True, default=_pack_record)
    flat_ok = depth < MAX_DEPTH  # as in _normal: the items then sit at depth + 1
    scalars = _SCALARS
    try:
        for value in values:
            if (
                flat_ok
                and type(value) is tuple
                and len(value) <= MAX_CONTAINER_LEN
                and scalars.issuperset(map(type, value))
            ):
                out.append(packer.pack(value))  # msgpack refuses out-of-range ints itself
            else:
                out.append(_pack(_normal(value, depth)))
    except EncodeError:
        raise
    except (OverflowError, ValueError, TypeError) as exc:
        raise EncodeError(f"cannot encode: {exc}") from exc
    free.append(packer)  # on error the packer is dropped, never reused half-full
    return out


def _normal(value: object, depth: int) -> object:
    """Turn a value into what msgpack packs canonically (sorted maps, records as ext)."""
    if depth > MAX_DEPTH:
        raise _NoCanonicalForm("too_deep", f"nesting deeper than {MAX_DEPTH}")
    if value is None or value is True or value is False:
        return value
    kind = type(value)
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
            raise EncodeError("integer outside msgpack's 64-bit range")
        return value
    if kind is bytes or kind is str:
        return value
    if kind is tuple or kind is list:
        items: Any = value
        if len(items) > MAX_CONTAINER_LEN:
            raise EncodeError("array too long")
        if depth < MAX_DEPTH and _SCALARS.issuperset(map(type, items)):
            return items  # msgpack packs these canonically (and refuses out-of-range ints)
        return [_normal(v, depth + 1) for v in items]
    if kind is dict:
        mapping: dict[Any, Any] = value  # type: ignore[assignment]
        if len(mapping) > MAX_CONTAINER_LEN:
            raise EncodeError("map too large")
        keys = list(mapping)
        for k in keys:
            if type(k) is not str:
                raise EncodeError(f"map keys must be str, not {type(k).__name__}")
        keys.sort()  # code-point order == UTF-8 byte order
        return {k: _normal(mapping[k], depth + 1) for k in keys}
    if isinstance(value, Record):
        fields = _FIELDS.get(type(value))
        if fields is None:
            raise EncodeError(f"{type(value).__name__} is not a registered wire type")
        tag = value.tag if type(value) is OpaqueRecord else value.wire_tag
        body = [tag] + [_normal(v, depth + 1) for v in _VALUES[type(value)](value)]
        return msgpack.ExtType(RECORD_EXT, _pack(body))
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if kind is msgpack.Timestamp:  # msgpack turns ext -1 into this before our ext_hook runs
        raise _NoCanonicalForm("unknown_ext", "ext type -1 (timestamp)")
    raise EncodeError(f"{kind.__name__} has no canonical encoding")


# -- decoding --------------------------------------------------------------------------------


def decode(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> Value:
    """Decode canonical bytes.  Any malformed input raises :class:`RemoteProtocolError`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise LocalError(f"decode takes bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_size:
        raise RemoteProtocolError("oversize", f"{len(data)} bytes > {max_size}")
    if not data:
        raise RemoteProtocolError("truncated", "empty input")
    if len(data) > _SCAN_ABOVE:
        check_decode_cost(data)
    value = _unpack(data, 0)
    try:
        _check_decoded(value, 0)
        again = _pack(value)
    except EncodeError as exc:
        reason = exc.reason if isinstance(exc, _NoCanonicalForm) else "not_canonical"
        raise RemoteProtocolError(reason, str(exc)) from None
    if again != data:
        raise RemoteProtocolError("not_canonical", "input is not the canonical encoding")
    return value


def decode_own(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> Value:
    """Decode bytes that this install's own :func:`encode` produced (a node's frames to its
    own worker process): :func:`decode` without the canonical re-check (no walk of the value,
    no re-pack and compare), which only proves what the encoder already guarantees.

    Malformed input still raises :class:`RemoteProtocolError`; never use it on a peer's bytes.
    """
    if len(data) > max_size:
        raise RemoteProtocolError("oversize", f"{len(data)} bytes > {max_size}")
    if not data:
        raise RemoteProtocolError("truncated", "empty input")
    return _unpack(bytes(data), 0)


_SCALARS: Final = frozenset({type(None), bool, int, str, bytes})
_SCALARS_AND_TUPLE: Final = _SCALARS | {tuple}
_TUPLE_ONLY: Final = frozenset({tuple})
_IS_TUPLE: Final = tuple.__instancecheck__
"""Exact tuples, among children already known to be scalars or exact tuples."""


def _check_decoded(value: object, depth: int) -> None:
    """Refuse what re-packing a decoded value would not reveal as non-canonical.

    msgpack re-packs maps in their decoded order and floats as floats, so those are checked
    here; everything else (integer widths, string/binary forms, duplicate keys, trailing
    bytes) shows up when the re-packed bytes are compared with the input.  Same depth rule as
    :func:`_normal`: nothing may sit deeper than ``MAX_DEPTH``.
    """
    if depth > MAX_DEPTH:
        raise _NoCanonicalForm("too_deep", f"nesting deeper than {MAX_DEPTH}")
    kind = type(value)
    if kind in _SCALARS:
        return
    children: Any
    if kind is tuple and depth + 2 <= MAX_DEPTH:
        # The usual shape (a block's transactions): scalars and flat tuples of scalars,
        # checked in a few C-level passes instead of a call per child.
        items: Any = value
        kinds = set(map(type, items))
        if kinds <= _SCALARS_AND_TUPLE and _SCALARS.issuperset(
            map(type, chain.from_iterable(filter(_IS_TUPLE, items)))
        ):
            return
    if kind is tuple:
        children = value
    elif kind is dict:
        mapping: dict[Any, Any] = value  # type: ignore[assignment]
        previous = None
        for key in mapping:
            if type(key) is not str:
                raise EncodeError(f"map keys must be str, not {type(key).__name__}")
            if previous is not None and key <= previous:
                raise EncodeError("map keys are not in canonical order")
            previous = key
        children = mapping.values()
    elif isinstance(value, Record):
        children = _VALUES[type(value)](value)
    elif kind is msgpack.Timestamp:  # msgpack turns ext -1 into this before our ext_hook runs
        raise _NoCanonicalForm("unknown_ext", "ext type -1 (timestamp)")
    else:
        raise EncodeError(f"{kind.__name__} has no canonical encoding")
    if depth >= MAX_DEPTH:  # any child, even a scalar, sits too deep
        for child in children:
            _check_decoded(child, depth + 1)
        return
    scalars = _SCALARS
    flat_ok = depth + 2 <= MAX_DEPTH
    for child in children:
        ckind = type(child)
        if ckind in scalars:
            continue
        if ckind is tuple and flat_ok and scalars.issuperset(map(type, child)):
            continue  # a flat array of scalars: nothing in it to refuse
        _check_decoded(child, depth + 1)


def _pack_record(value: object) -> msgpack.ExtType:
    """msgpack's ``default`` hook: a record as ext 0x50 ``[tag, fields...]``."""
    if not isinstance(value, Record):
        raise EncodeError(f"{type(value).__name__} has no canonical encoding")
    tag = value.tag if type(value) is OpaqueRecord else value.wire_tag
    body = [tag, *_VALUES[type(value)](value)]
    return msgpack.ExtType(RECORD_EXT, _pack(body))


class _Extra(Exception):
    """Raised by :func:`_unpack` in prefix mode: the value ended before the input did."""

    def __init__(self, value: Value, size: int) -> None:
        super().__init__("extra data")
        self.value = value
        self.size = size


def decode_as(cls: type[R], data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> R:
    """Decode and require a record of class ``cls``."""
    value = decode(data, max_size=max_size)
    if type(value) is not cls:
        raise RemoteProtocolError("wrong_type", f"expected {cls.__name__}, got {type(value)}")
    return value


def _unpack(data: bytes, depth: int, *, prefix: bool = False) -> Value:
    """msgpack-decode ``data``; with ``prefix``, bytes after the value raise :class:`_Extra`."""
    if depth > MAX_DEPTH:
        raise RemoteProtocolError("too_deep", f"records nested deeper than {MAX_DEPTH}")
    limit = len(data)
    try:
        return msgpack.unpackb(  # type: ignore[no-any-return]
            data,
            raw=False,
            use_list=False,
            strict_map_key=True,
            ext_hook=lambda code, body: _record_from_ext(code, body, depth + 1),
            max_str_len=limit,
            max_bin_len=limit,
            max_array_len=min(limit, MAX_CONTAINER_LEN),
            max_map_len=min(limit, MAX_CONTAINER_LEN),
            max_ext_len=limit,
        )
    except RemoteProtocolError:
        raise
    except msgpack.ExtraData as exc:
        if prefix:
            raise _Extra(exc.unpacked, limit - len(exc.extra)) from None
        raise RemoteProtocolError("trailing_bytes", "bytes after the value") from None
    except msgpack.StackError:  # msgpack's own nesting limit (far beyond MAX_DEPTH)
        raise RemoteProtocolError("too_deep", "nesting exhausted msgpack's stack") from None
    except (ValueError, msgpack.OutOfData) as exc:
        raise RemoteProtocolError(_classify(exc, limit), str(exc)) from None
    except RecursionError:
        raise RemoteProtocolError("too_deep", "nesting exhausted the stack") from None
    except Exception as exc:  # any other decoder failure is still the peer's fault
        raise RemoteProtocolError("malformed", f"{type(exc).__name__}: {exc}") from None


def _classify(exc: Exception, limit: int) -> str:
    """The reason for a msgpack decoding error (msgpack says which only in its message)."""
    text = str(exc)
    # msgpack signals truncation as ValueError("Unpack failed: incomplete input").
    if isinstance(exc, msgpack.OutOfData) or "incomplete" in text:
        return "truncated"
    # An array or map count is checked against max_*_len as soon as its header is read.
    # While that maximum is the input length, a larger count cannot fit: the input ended early.
    if "exceeds max_array_len" in text or "exceeds max_map_len" in text:
        return "truncated" if limit <= MAX_CONTAINER_LEN else "malformed"
    if "timestamp" in text.lower():  # ext -1 whose body msgpack cannot read as a timestamp
        return "unknown_ext"
    return "malformed"


def _record_from_ext(code: int, body: bytes, depth: int) -> Record:
    if code != RECORD_EXT:
        raise RemoteProtocolError("unknown_ext", f"ext type {code}")
    items = _unpack(body, depth)
    if type(items) is not tuple or not items or type(items[0]) is not int:
        raise RemoteProtocolError("bad_record", "record body must be [tag, fields...]")
    tag = items[0]
    cls = _BY_TAG.get(tag)
    if cls is None:
        if tag >= OPAQUE_TAG_MIN:
            return OpaqueRecord(tag, items[1:])
        raise RemoteProtocolError("unknown_tag", f"no wire type has tag {tag}")
    fields = _FIELDS[cls]
    if len(items) != len(fields) + 1:
        raise RemoteProtocolError(
            "bad_record", f"{cls.__name__} takes {len(fields)} fields, got {len(items) - 1}"
        )
    for (name, check), item in zip(fields, items[1:], strict=True):
        if not check(item, depth):
            raise RemoteProtocolError("bad_field", f"{cls.__name__}.{name}: {type(item).__name__}")
    try:
        return cls(*items[1:])
    except RemoteProtocolError:
        raise
    except (ValueError, TypeError, LocalError) as exc:
        raise RemoteProtocolError("bad_record", f"{cls.__name__}: {exc}") from None


# -- field checkers built from annotations ------------------------------------------------


def _field_checker(f: dataclasses.Field[Any], owner: type) -> _Checker:
    # ``Value`` is recursive; resolving it through get_type_hints would rebuild the union,
    # so it is recognised by name before anything is evaluated.
    if f.type in ("Value", Value):
        return lambda v, d: True  # decoding already limited it to canonical values
    return _checker_for(typing.get_type_hints(owner)[f.name], owner)


def _checker_for(hint: object, owner: type) -> _Checker:
    """A predicate that says whether a decoded item fits the annotation ``hint``."""
    while isinstance(hint, NewType):
        hint = hint.__supertype__
    if hint is type(None):
        return lambda v, d: v is None
    if hint is bool:
        return lambda v, d: type(v) is bool
    if hint is int:
        return lambda v, d: type(v) is int
    if hint is str:
        return lambda v, d: type(v) is str
    if hint is bytes:
        return lambda v, d: type(v) is bytes
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Union or origin is types.UnionType:
        alts = [_checker_for(a, owner) for a in args]
        return lambda v, d: any(alt(v, d) for alt in alts)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _checker_for(args[0], owner)
        return lambda v, d: type(v) is tuple and all(item(x, d) for x in v)
    if origin is tuple:
        items = [_checker_for(a, owner) for a in args]
        return lambda v, d: (
            type(v) is tuple
            and len(v) == len(items)
            and all(c(x, d) for c, x in zip(items, v, strict=True))
        )
    if origin is dict and args and args[0] is str:
        val = _checker_for(args[1], owner)
        return lambda v, d: type(v) is dict and all(val(x, d) for x in v.values())
    if isinstance(hint, type) and issubclass(hint, Record):
        target = hint
        return lambda v, d: isinstance(v, target)
    raise LocalError(f"{owner.__name__}: unsupported wire field annotation {hint!r}")
