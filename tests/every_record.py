"""Import every production module (and the example app), so that every record tag is registered.

Why: a record is registered when its module is imported, and the tag-table tests compare the
code's table with the docs' and runtime/wire/tags.py's: they must see all of it.
"""

from __future__ import annotations

import importlib
import pkgutil

import peoplenet.actors as actors
import peoplenet.apps as apps
import peoplenet.plugins as plugins
import peoplenet.runtime as runtime
from peoplenet.runtime.wire.codec import registered_tags
from tests.plugins.test_testing import example_module

PACKAGES = (runtime, actors, apps, plugins)
OWNERS = ("peoplenet.", "peoplenet_noticeboard.")
"""Modules whose records are the format; tests register tags of their own elsewhere."""


def load_every_record() -> None:
    """Import every production module (and the example app's records)."""
    for package in PACKAGES:
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith(("_main", "__main__")):  # scripts run on import
                importlib.import_module(module.name)
    example_module("records")


def format_records() -> dict[int, type]:
    """The registered records that are part of the format (tag -> class), all loaded."""
    load_every_record()
    return {tag: cls for tag, cls in registered_tags().items() if cls.__module__.startswith(OWNERS)}
