"""The errors of control commands the node's actors cannot carry out, shared with the command
line (``peoplenet community join FILE`` raises one before asking the node)."""

from __future__ import annotations

from peoplenet.runtime.errors import LocalError


class CommandError(LocalError):
    """A control command the node cannot carry out (bad argument, unknown member ...).

    Each part of the node that answers commands refines it: a community's consensus actor
    (``CommunityCommandError``), a cooperative's consumer (``CoopCommandRefused``)."""

    reason = "command_refused"


class UnknownCommunity(CommandError):
    """No joined community has that name (or lace prefix), or more than one has."""

    reason = "unknown_community"


class InvalidGenesisFile(CommandError):
    """``community join`` was given something that is not an epoch-0 community genesis."""

    reason = "invalid_genesis_file"


__all__ = ["CommandError", "InvalidGenesisFile", "UnknownCommunity"]
