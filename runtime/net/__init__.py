"""Phones talking to phones: the Noise channel, transport, discovery, redial, policy."""
