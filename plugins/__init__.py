"""The app platform: hookspecs, the plugin manager, apps' lifecycle per community.

Third-party authors import :data:`hookimpl` from here and the types in :mod:`peoplenet.plugins.api`;
see ``docs/plugins.md``.
"""

from __future__ import annotations

import pluggy

from peoplenet.plugins.hookspecs import PROJECT

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Mark a function of an app as the implementation of one of :mod:`peoplenet.plugins.hookspecs`."""

__all__ = ["PROJECT", "hookimpl"]
