"""Authenticated encryption of small secrets: AES-256-GCM with associated data.

A box is ``version (1 byte) ‖ nonce (12 bytes) ‖ ciphertext and tag``. The nonce is random, which
is safe for the number of messages one key seals here (far below 2**32). The associated data
binds a box to its place (for a TOTP seed: its purpose and the user id), so a box copied to
another row does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
VERSION = b"\x01"  # AES-256-GCM, random 96-bit nonce
OVERHEAD = len(VERSION) + NONCE_BYTES + TAG_BYTES


class SecretBoxError(ValueError):
    """A box did not open: wrong key, wrong associated data, or changed bytes."""


def subkey(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from a longer-lived secret with HKDF-SHA256.

    So one setting (``totp_key``) can serve several purposes without reusing a key.
    """
    if len(master) < KEY_BYTES:
        raise ValueError("the master key must be at least 32 bytes")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=b"qingling/secretbox/" + purpose.encode("utf-8"),
    )
    return hkdf.derive(master)


def seal(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt ``plaintext`` under the 32-byte ``key``, bound to ``associated_data``."""
    if len(key) != KEY_BYTES:
        raise ValueError("a secretbox key is 32 bytes")
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def open_box(key: bytes, box: bytes, associated_data: bytes) -> bytes:
    """Decrypt a box made by :func:`seal`; raises :class:`SecretBoxError` if it does not open."""
    if len(key) != KEY_BYTES:
        raise ValueError("a secretbox key is 32 bytes")
    if len(box) < OVERHEAD or box[:1] != VERSION:
        raise SecretBoxError("not a secretbox of a known version")
    nonce = box[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, box[1 + NONCE_BYTES :], associated_data)
    except InvalidTag:
        raise SecretBoxError("the box does not open with this key and associated data") from None
