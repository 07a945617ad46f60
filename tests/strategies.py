"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

from hypothesis import strategies as st

from runtime.codec import Value


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
