"""Blocks and blocklaces: signed blocks, the lace, its stores, replicas and sync."""
