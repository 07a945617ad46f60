"""Half of a mutual surety: one side's signature, carried to the other side to complete.

A surety needs both people's signatures on the same statement; their phones are not
necessarily connected, so one side signs first and hands the half over (as text: a QR code,
a message); the other side checks it, signs too, and submits the completed surety.
"""

from __future__ import annotations

from dataclasses import dataclass

from peoplenet.runtime.errors import RemoteProtocolError
from peoplenet.runtime.keys.identity import ID_LEN, SIGNATURE_LEN
from peoplenet.runtime.wire.codec import Record, wire_type


class InvalidSuretyHalf(RemoteProtocolError):
    """A surety half that is malformed."""

    reason = "invalid_surety_half"


@wire_type(151)
@dataclass(frozen=True, slots=True)
class SuretyHalf(Record):
    """``signer``'s signature of the surety between ``signer`` and ``other``."""

    signer: bytes
    other: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.signer) != ID_LEN or len(self.other) != ID_LEN or self.signer == self.other:
            raise InvalidSuretyHalf("bad_half", "two distinct 32-byte member ids")
        if len(self.signature) != SIGNATURE_LEN:
            raise InvalidSuretyHalf("bad_half", "a 64-byte signature")


__all__ = ["InvalidSuretyHalf", "SuretyHalf"]
