"""The only package that touches key material or imports ``cryptography``.

Callers pass bytes and get bytes (raw 32-byte keys, envelopes), never key objects. Every failure
is a :class:`crypto.errors.CryptoError`. The formats are documented in ``docs/crypto.md``.

- :mod:`crypto.errors` — the exception family.
- :mod:`crypto.suite` — suite and envelope-type ids, the length-prefixed binding encoder.
- :mod:`crypto.envelope` — data keys sealed to key groups (HPKE), padded fields under a data
  key, group keys sealed to members, wrapped bytes; X25519 key pairs and fingerprints.
- :mod:`crypto.signing` — Ed25519-signed public-key records.
- :mod:`crypto.tokens` — tracking tokens: generation, check symbol, normalisation, derivation.
- :mod:`crypto.stream` — attachments as an AES-256-GCM STREAM of 1 MiB chunks.
- :mod:`crypto.passwords`, :mod:`crypto.totp`, :mod:`crypto.secretbox` — staff passwords, TOTP
  and small secrets under a server key.
"""
