"""A member's node: supervisor, signer, store and network actors, control, runner."""
