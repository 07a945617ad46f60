"""Governance: the cooperative's decision rule and, built on it, its state fold."""
