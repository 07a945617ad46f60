"""A community's consensus on a member's node: the consensus actor."""
