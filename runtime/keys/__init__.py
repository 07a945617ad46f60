"""A member's keys: Ed25519 identities and the seed sealed at rest."""
