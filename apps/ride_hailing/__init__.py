"""The ride_hailing app (built in a later issue)."""
