"""Deterministic simulators and the harnesses that run many nodes."""
