"""The delivery app (built in a later issue)."""
