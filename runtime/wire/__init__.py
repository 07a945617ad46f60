"""The wire: canonical msgpack, stream frames, and what decoding would cost."""
