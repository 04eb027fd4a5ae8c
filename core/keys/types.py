"""Plain values passed between the key-group layer and the packages that seal to it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipient:
    """A key group's current public key, already checked against its signed key record.

    Intake seals each tip's data key to every recipient with
    ``crypto.envelope.seal_data_key(public_key, data_key, tip_id=…, group_id=group_id,
    group_version=version)``.
    """

    group_id: int
    version: int
    public_key: bytes  # raw X25519, 32 bytes
