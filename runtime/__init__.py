"""Peoplenet phone runtime: identity, codec, blocklace, store, simulator."""
