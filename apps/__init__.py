"""Bundled sector apps, each an ordinary plugin."""
