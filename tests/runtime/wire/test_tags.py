"""runtime/wire/tags.py is the tag table: no tag twice, and exactly what the code registers."""

from __future__ import annotations

from collections import Counter

from peoplenet.runtime.wire.tags import RETIRED, TABLE, TAG_RANGES, TAGS
from tests.every_record import format_records


def test_no_tag_names_two_types_and_no_type_has_two_tags() -> None:
    tags = Counter(tag for tag, _ in TABLE)
    names = Counter(name for _, name in TABLE)
    assert [tag for tag, n in tags.items() if n > 1] == [], "a tag is listed twice"
    assert [name for name, n in names.items() if n > 1] == [], "a type is listed twice"
    assert len(TAGS) == len(TABLE)


def test_the_table_is_what_the_modules_register() -> None:
    registered = {
        tag: f"{cls.__module__}.{cls.__qualname__}" for tag, cls in format_records().items()
    }
    live = {tag: name for tag, name in TABLE if tag not in RETIRED}
    assert sorted(set(registered) - set(live)) == [], "registered but not in tags.py"
    assert sorted(set(live) - set(registered)) == [], "in tags.py but not registered"
    assert registered == live


def test_retired_tags_keep_their_row_and_are_never_registered_again() -> None:
    assert set(TAGS) >= RETIRED
    assert not RETIRED & set(format_records())


def test_every_tag_is_in_the_range_of_the_layer_that_owns_it() -> None:
    assert [tag for tag, _ in TABLE] == sorted(TAGS), "rows in tag order"
    for tag, name in TABLE:
        top = name.removeprefix("peoplenet.").split(".")[0]
        layer = top if top in ("runtime", "actors") else "apps"
        assert tag in TAG_RANGES[layer], f"{name} has tag {tag}"
