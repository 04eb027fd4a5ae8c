"""The one exception family raised by :mod:`crypto`.

Every failure in this package — malformed input, an unknown suite, a wrong key, a flipped bit, a
ciphertext moved to another tip, a bad signature, a mistyped tracking token, a truncated stream —
raises :class:`CryptoError` (or a subclass), never ``IndexError``, ``ValueError`` from the
underlying library, or a silently wrong result.

Messages are fixed English text: they never contain key material, plaintext, or any part of a
tracking token, so they may reach a log. ``crypto`` imports nothing from ``core``; the domain
layer maps these to its own :class:`core.errors.DomainError` subclasses where a user sees them.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class: the input cannot be opened, parsed or verified."""


class MalformedEnvelope(CryptoError):
    """The bytes are not a well-formed envelope of the expected type and a known suite."""


class DecryptionFailed(CryptoError):
    """Authentication failed: wrong key, wrong binding (tip, group, field, …) or tampering."""


class InvalidSignature(CryptoError):
    """A key record's signature does not verify, or its version rolls back."""


class StreamError(CryptoError):
    """An attachment stream is truncated, reordered, duplicated, altered or misused."""


class InvalidToken(CryptoError):
    """A tracking token cannot be parsed or its check character does not match.

    ``reason`` is one of ``"empty"``, ``"length"``, ``"character"``, ``"letter_u"``,
    ``"check"``, so a site can show a helpful message (the check character catches a typo before
    any expensive derivation). ``position`` is the 1-based position of the offending character in
    the normalised token when known; the token itself is never part of the error.
    """

    def __init__(self, reason: str, message: str, position: int | None = None) -> None:
        self.reason = reason
        self.position = position
        super().__init__(message)
