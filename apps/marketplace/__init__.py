"""The marketplace app (built in a later issue)."""
