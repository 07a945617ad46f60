"""The app platform: hookspecs, the plugin manager, apps' lifecycle per community.

Third-party authors import everything from :mod:`peoplenet.plugins.api` (``hookimpl`` is also
here, where older apps found it); see ``docs/plugins.md``.
"""

from __future__ import annotations

from peoplenet.plugins.api import PROJECT, hookimpl

__all__ = ["PROJECT", "hookimpl"]
