"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

from hypothesis import strategies as st

from peoplenet.runtime.wire.codec import Value


def canonical_values(
    *, max_text: int = 30, max_key: int = 8, max_leaves: int = 12
) -> st.SearchStrategy[Value]:
    """Plain canonical values (no records): scalars nested in tuples and str-keyed dicts."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**64 - 1)
        | st.text(max_size=max_text)
        | st.binary(max_size=max_text)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4).map(tuple)
            | st.dictionaries(st.text(max_size=max_key), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def mutate_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with one to three bytes set, inserted or removed, or the tail cut off."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["set", "insert", "delete", "cut"]))
        if op == "set" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = bytes([draw(st.integers(0, 255))])
        elif op == "delete" and at < len(data):
            del data[at]
        elif op == "cut":
            del data[at:]
    return bytes(data)
