"""Cooperatives on a node: the founding file, the commands, the consumer of the order."""
