"""The currency app (built in a later issue)."""
