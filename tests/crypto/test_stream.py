"""Attachment STREAM: round trips, chunking, and every way of tampering with the chunk rows."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.envelope import new_data_key
from crypto.errors import CryptoError, MalformedEnvelope, StreamError
from crypto.stream import CHUNK_SIZE, StreamDecryptor, StreamEncryptor, decrypt_to_bytes
from crypto.suite import encode_binding

TIP = uuid.UUID("6f1c2a4e-8b1d-4c3e-9a7f-0d2b5e6c7a81")
ATT = uuid.UUID("9e107d9d-372b-4b6f-8d8c-3c0f2e5a1b44")
SMALL = 10  # 1 KiB chunks keep multi-chunk tests fast
KEY = new_data_key()


def encrypt(
    data: bytes,
    pieces: list[int] | None = None,
    *,
    key: bytes = KEY,
    tip: uuid.UUID = TIP,
    att: uuid.UUID = ATT,
    log2: int = SMALL,
) -> tuple[bytes, list[bytes]]:
    enc = StreamEncryptor(key, tip_id=tip, attachment_id=att, chunk_log2=log2)
    chunks: list[bytes] = []
    start = 0
    for size in pieces or [len(data)]:
        chunks += enc.write(data[start : start + size])
        start += size
    chunks += enc.write(data[start:])
    chunks.append(enc.finish())
    return enc.header, chunks


def decrypt(
    header: bytes,
    chunks: list[bytes],
    *,
    key: bytes = KEY,
    tip: uuid.UUID = TIP,
    att: uuid.UUID = ATT,
) -> bytes:
    return decrypt_to_bytes(key, header, chunks, tip_id=tip, attachment_id=att)


@pytest.mark.parametrize(
    ("size", "n_chunks"),
    [(0, 1), (1, 1), (1023, 1), (1024, 1), (1025, 2), (2048, 2), (2049, 3), (5000, 5)],
)
def test_round_trip_and_chunk_layout(size: int, n_chunks: int) -> None:
    data = os.urandom(size)
    header, chunks = encrypt(data)
    assert len(header) == 36
    assert len(chunks) == n_chunks
    assert all(len(c) == 1024 + 16 for c in chunks[:-1])
    final_len = size - 1024 * (n_chunks - 1)
    assert len(chunks[-1]) == final_len + 16
    assert decrypt(header, chunks) == data


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000), st.lists(st.integers(0, 3000), max_size=8))
def test_any_split_of_writes_gives_the_same_plaintext(data: bytes, pieces: list[int]) -> None:
    header, chunks = encrypt(data, pieces)
    assert [len(c) for c in chunks] == [len(c) for c in encrypt(data)[1]]
    assert decrypt(header, chunks) == data


def test_five_megabytes_in_odd_pieces() -> None:
    data = os.urandom(5 * 1000 * 1000 + 7)
    enc = StreamEncryptor(KEY, tip_id=TIP, attachment_id=ATT)
    chunks: list[bytes] = []
    sizes = [1, 7919, 65537, 3, 1048575, 1048577, 2 * CHUNK_SIZE + 5, 100003]
    start, turn = 0, 0
    while start < len(data):
        size = sizes[turn % len(sizes)]
        chunks += enc.write(data[start : start + size])
        start += size
        turn += 1
    chunks.append(enc.finish())
    assert len(chunks) == -(-len(data) // CHUNK_SIZE)
    assert all(len(c) == CHUNK_SIZE + 16 for c in chunks[:-1])
    dec = StreamDecryptor(KEY, enc.header, tip_id=TIP, attachment_id=ATT)
    digest = hashlib.sha256()
    for plaintext in dec.decrypt_iter(iter(chunks)):
        assert len(plaintext) <= CHUNK_SIZE
        digest.update(plaintext)
    assert digest.digest() == hashlib.sha256(data).digest()


def test_exact_multiple_of_chunk_size_ends_in_a_full_final_chunk() -> None:
    data = os.urandom(3 * 1024)
    enc = StreamEncryptor(KEY, tip_id=TIP, attachment_id=ATT, chunk_log2=SMALL)
    assert len(enc.write(data[:1024])) == 0  # not sealed until a byte beyond it arrives
    assert len(enc.write(data[1024:1025])) == 1
    assert len(enc.write(data[1025:])) == 1
    final = enc.finish()
    assert len(final) == 1024 + 16


def test_encrypt_iter() -> None:
    data = os.urandom(4000)
    enc = StreamEncryptor(KEY, tip_id=TIP, attachment_id=ATT, chunk_log2=SMALL)
    chunks = list(enc.encrypt_iter(data[i : i + 333] for i in range(0, len(data), 333)))
    assert decrypt(enc.header, chunks) == data


def test_format_matches_the_documentation() -> None:
    """Open chunk 0 and the final chunk by hand from the documented key and nonce layout."""
    data = os.urandom(1500)
    header, chunks = encrypt(data)
    assert header[:4] == b"Q\x01\x05\x0a"
    salt = header[4:]
    info = encode_binding(header[:3], TIP, ATT)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(KEY)
    aead = AESGCM(key)
    assert aead.decrypt(bytes(11) + b"\x00", chunks[0], None) == data[:1024]
    assert aead.decrypt((1).to_bytes(11, "big") + b"\x01", chunks[1], None) == data[1024:]


def test_two_encryptions_differ() -> None:
    data = b"same photo" * 100
    h1, c1 = encrypt(data)
    h2, c2 = encrypt(data)
    assert h1 != h2  # fresh salt, hence a fresh key
    assert c1[0] != c2[0]


# ---------------------------------------------------------------- tampering

DATA = os.urandom(4 * 1024 + 100)  # five chunks


@pytest.fixture
def sealed() -> tuple[bytes, list[bytes]]:
    return encrypt(DATA)


def _fails(header: bytes, chunks: list[bytes], **kwargs: object) -> None:
    with pytest.raises(CryptoError):
        decrypt(header, chunks, **kwargs)  # type: ignore[arg-type]


def test_truncation(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    _fails(header, chunks[:-1])  # final chunk missing: the previous one was not sealed as final
    _fails(header, chunks[:1])
    _fails(header, [])
    _fails(header, [*chunks[:-1], chunks[-1][:-1]])  # final chunk cut short


def test_missing_middle_chunk(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    _fails(header, chunks[:2] + chunks[3:])


def test_reordering(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    swapped = list(chunks)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    _fails(header, swapped)
    _fails(header, list(reversed(chunks)))


def test_duplication(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    _fails(header, chunks[:2] + chunks[1:])
    _fails(header, [*chunks, chunks[-1]])  # final chunk twice
    _fails(header, [*chunks, chunks[0]])  # anything after the final chunk


def test_altered_chunk(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    for index in range(len(chunks)):
        for position in (0, len(chunks[index]) // 2, len(chunks[index]) - 1):
            altered = bytearray(chunks[index])
            altered[position] ^= 0x01
            bad = list(chunks)
            bad[index] = bytes(altered)
            _fails(header, bad)


def test_chunk_from_another_attachment(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    other_header, other_chunks = encrypt(DATA, att=uuid.uuid4())
    _fails(header, [other_chunks[0], *chunks[1:]])
    _fails(header, [*chunks[:-1], other_chunks[-1]])
    _fails(other_header, chunks)  # header of another attachment
    # Same attachment id, encrypted again (another salt): chunks do not mix either.
    _, again = encrypt(DATA)
    _fails(header, [again[0], *chunks[1:]])


def test_wrong_binding_or_key(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    _fails(header, chunks, tip=uuid.uuid4())
    _fails(header, chunks, att=uuid.uuid4())
    _fails(header, chunks, key=new_data_key())


def test_altered_header(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    for position in range(len(header)):
        altered = bytearray(header)
        altered[position] ^= 0x01
        _fails(bytes(altered), chunks)
    for bad in (b"", header[:-1], header + b"\x00", b"Q\x01\x05\x09" + header[4:]):
        with pytest.raises(MalformedEnvelope):
            StreamDecryptor(KEY, bad, tip_id=TIP, attachment_id=ATT)


def test_push_api_misuse(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    dec = StreamDecryptor(KEY, header, tip_id=TIP, attachment_id=ATT)
    with pytest.raises(StreamError):
        dec.finish()  # nothing opened yet
    with pytest.raises(StreamError):
        dec.open_chunk(chunks[-1], final=False)  # a short chunk can only be final
    dec = StreamDecryptor(KEY, header, tip_id=TIP, attachment_id=ATT)
    out = [dec.open_chunk(c, final=False) for c in chunks[:-1]]
    with pytest.raises(StreamError):
        dec.finish()  # truncated so far
    out.append(dec.open_chunk(chunks[-1], final=True))
    dec.finish()
    assert b"".join(out) == DATA
    with pytest.raises(StreamError):
        dec.open_chunk(chunks[-1], final=True)
    with pytest.raises(StreamError):
        dec.open_chunk("text", final=True)  # type: ignore[arg-type]


def test_failed_chunk_does_not_advance(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    dec = StreamDecryptor(KEY, header, tip_id=TIP, attachment_id=ATT)
    with pytest.raises(StreamError):
        dec.open_chunk(chunks[1], final=False)
    assert dec.open_chunk(chunks[0], final=False) == DATA[:1024]


def test_encryptor_misuse() -> None:
    enc = StreamEncryptor(KEY, tip_id=TIP, attachment_id=ATT, chunk_log2=SMALL)
    enc.finish()
    with pytest.raises(StreamError):
        enc.write(b"late")
    with pytest.raises(StreamError):
        enc.finish()
    for log2 in (9, 25):
        with pytest.raises(CryptoError):
            StreamEncryptor(KEY, tip_id=TIP, attachment_id=ATT, chunk_log2=log2)
    with pytest.raises(CryptoError):
        StreamEncryptor(b"short", tip_id=TIP, attachment_id=ATT)
    with pytest.raises(CryptoError):
        StreamEncryptor(KEY, tip_id=str(TIP), attachment_id=ATT)  # type: ignore[arg-type]


@settings(max_examples=80)
@given(st.binary(max_size=60), st.lists(st.binary(max_size=1100), max_size=4))
def test_random_header_and_chunks_only_raise_crypto_error(
    header: bytes, chunks: list[bytes]
) -> None:
    with pytest.raises(CryptoError):
        decrypt(header, chunks)


def test_chunk_sized_writes_of_bytes_and_of_reused_buffers() -> None:
    """Exactly-one-chunk writes: immutable bytes are kept by reference until the next byte
    arrives; a bytearray the caller reuses must be copied, or the output would change."""
    data = os.urandom(3 * 1024)
    enc = StreamEncryptor(KEY, tip_id=TIP, attachment_id=ATT, chunk_log2=SMALL)
    chunks: list[bytes] = []
    for start in range(0, len(data), 1024):
        chunks += enc.write(data[start : start + 1024])  # bytes: held, not copied
    assert len(chunks) == 2
    chunks.append(enc.finish())
    assert decrypt(enc.header, chunks) == data

    reused = bytearray(1024)
    enc = StreamEncryptor(KEY, tip_id=TIP, attachment_id=ATT, chunk_log2=SMALL)
    chunks = []
    for start in range(0, len(data), 1024):
        reused[:] = data[start : start + 1024]
        chunks += enc.write(reused)
        chunks += enc.write(memoryview(reused)[:0])  # an empty write proves nothing
    reused[:] = bytes(1024)  # the caller scribbles over its buffer before finish()
    chunks.append(enc.finish())
    assert len(chunks) == 3
    assert decrypt(enc.header, chunks) == data


def test_held_chunk_then_small_and_large_writes() -> None:
    data = os.urandom(5 * 1024 + 3)
    pieces = [1024, 1, 1023, 2048 + 1, 1024 + 2]
    header, chunks = encrypt(data, pieces)
    assert decrypt(header, chunks) == data
    assert [len(c) for c in chunks] == [1040] * 5 + [3 + 16]
