"""The keyless app worker process and the node's side of it."""
