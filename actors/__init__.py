"""Shared actors and their pure cores (member, community, governance)."""
