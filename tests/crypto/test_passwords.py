"""Password hashing: one Argon2id run, two HKDF keys, constant-time check, stored parameters."""

from __future__ import annotations

import pytest

from crypto import passwords, secretbox

FAST = passwords.KdfParams(memory_kib=64, iterations=1, lanes=1)
PEPPER = bytes(range(32))
SALT = bytes(16)


def test_derive_is_deterministic_and_gives_two_different_keys() -> None:
    a = passwords.derive("correct horse", SALT, PEPPER, FAST)
    b = passwords.derive("correct horse", SALT, PEPPER, FAST)
    assert a == b
    assert len(a.verifier) == len(a.wrap_key) == 32
    assert a.verifier != a.wrap_key


@pytest.mark.parametrize(
    ("password", "salt", "pepper", "params"),
    [
        ("correct horsf", SALT, PEPPER, FAST),
        ("correct horse", b"\x01" * 16, PEPPER, FAST),
        ("correct horse", SALT, bytes(32), FAST),
        ("correct horse", SALT, PEPPER, passwords.KdfParams(64, 2, 1)),
    ],
)
def test_every_input_changes_the_verifier(
    password: str, salt: bytes, pepper: bytes, params: passwords.KdfParams
) -> None:
    base = passwords.derive("correct horse", SALT, PEPPER, FAST)
    other = passwords.derive(password, salt, pepper, params)
    assert not passwords.verifier_matches(base.verifier, other.verifier)
    assert base.wrap_key != other.wrap_key


def test_unicode_forms_of_the_same_password_match() -> None:
    composed = passwords.derive("caf\u00e9 密码 12345", SALT, PEPPER, FAST)
    decomposed = passwords.derive("cafe\u0301 密码 12345", SALT, PEPPER, FAST)
    assert passwords.verifier_matches(composed.verifier, decomposed.verifier)


def test_keys_are_not_in_the_repr() -> None:
    keys = passwords.derive("correct horse", SALT, PEPPER, FAST)
    assert keys.verifier.hex() not in repr(keys)
    assert repr(keys.wrap_key) not in repr(keys)


def test_params_round_trip_and_reject_garbage() -> None:
    params = passwords.KdfParams(memory_kib=65536, iterations=3, lanes=1)
    assert params.encode() == "argon2id:m=65536,t=3,p=1"
    assert passwords.KdfParams.parse(params.encode()) == params
    for bad in ("", "argon2i:m=1,t=1,p=1", "argon2id:m=1,t=1", "scrypt:n=2"):
        with pytest.raises(ValueError, match="unknown"):
            passwords.KdfParams.parse(bad)


def test_salts_are_random() -> None:
    assert len(passwords.new_salt()) == passwords.SALT_BYTES
    assert passwords.new_salt() != passwords.new_salt()


def test_secretbox_binds_key_and_associated_data() -> None:
    key = secretbox.subkey(PEPPER, "test")
    box = secretbox.seal(key, b"seed bytes", b"user:1")
    assert b"seed bytes" not in box
    assert secretbox.open_box(key, box, b"user:1") == b"seed bytes"
    with pytest.raises(secretbox.SecretBoxError):
        secretbox.open_box(key, box, b"user:2")
    with pytest.raises(secretbox.SecretBoxError):
        secretbox.open_box(secretbox.subkey(PEPPER, "other"), box, b"user:1")
    tampered = box[:-1] + bytes([box[-1] ^ 1])
    with pytest.raises(secretbox.SecretBoxError):
        secretbox.open_box(key, tampered, b"user:1")
    assert secretbox.seal(key, b"x", b"") != secretbox.seal(key, b"x", b"")  # random nonce
