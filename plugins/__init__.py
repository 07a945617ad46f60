"""Plugin system for sector apps (built in a later issue)."""
