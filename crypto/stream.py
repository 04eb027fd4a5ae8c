"""Attachment encryption: the STREAM construction over AES-256-GCM (DESIGN.md "Key hierarchy").

Each attachment gets its own key::

    K = HKDF-SHA256(ikm = tip data key, salt = random 32 bytes,
                    info = encode_binding(header, tip id, attachment id))

and is cut into chunks of ``2**log2`` plaintext bytes (1 MiB by default). Chunk ``i`` is sealed
with AES-256-GCM under ``K`` with the 96-bit nonce ``i`` (11 bytes, big-endian) ‖ ``f``, where
``f`` is ``0x01`` for the last chunk and ``0x00`` otherwise (Hoang, Reyhanitabar, Rogaway and
Vizár's STREAM, "online authenticated encryption"). Every non-final chunk holds exactly
``2**log2`` bytes of plaintext; the final one holds 1 … ``2**log2`` bytes (0 only for an empty
attachment, which is a single empty final chunk). So:

* a reordered or duplicated chunk is opened under the wrong counter and fails;
* a truncated stream ends in a chunk that was not sealed as final and fails;
* a chunk appended after the final one makes the real final chunk fail as non-final;
* a chunk from another attachment (or tip) was sealed under another key and fails.

Stored: one STREAM header envelope per attachment (``0x51 ‖ suite ‖ 0x05 ‖ log2 ‖ salt``, 36
bytes) and one row per sealed chunk (``ciphertext ‖ 16-byte tag``). Neither side ever holds more
than one chunk (plus the caller's current write) in memory (see :class:`StreamEncryptor` for
how it avoids copying plaintext).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.envelope import (
    KEY_LEN,
    STREAM_MAX_LOG2,
    STREAM_MIN_LOG2,
    STREAM_SALT_LEN,
    TAG_LEN,
    parse_envelope,
)
from crypto.errors import CryptoError, StreamError
from crypto.suite import CURRENT_SUITE, EnvelopeType, encode_binding, header

DEFAULT_CHUNK_LOG2 = 20  # 1 MiB
CHUNK_SIZE = 1 << DEFAULT_CHUNK_LOG2
_COUNTER_LEN = 11
_MAX_CHUNKS = 1 << 32  # far beyond any upload limit; keeps the counter well inside 88 bits


def _nonce(counter: int, final: bool) -> bytes:
    return counter.to_bytes(_COUNTER_LEN, "big") + (b"\x01" if final else b"\x00")


def _derive_key(
    data_key: bytes, head: bytes, salt: bytes, tip_id: uuid.UUID, attachment_id: uuid.UUID
) -> bytes:
    if not isinstance(data_key, bytes) or len(data_key) != KEY_LEN:
        raise CryptoError("data key must be 32 bytes")
    if not isinstance(tip_id, uuid.UUID) or not isinstance(attachment_id, uuid.UUID):
        raise CryptoError("tip and attachment ids must be UUIDs")
    info = encode_binding(head, tip_id, attachment_id)
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=salt, info=info).derive(data_key)


class StreamEncryptor:
    """Encrypt one attachment incrementally.

    Store :attr:`header` with the attachment, then every chunk returned by :meth:`write` and
    finally the one returned by :meth:`finish`, in order (or use :meth:`encrypt_iter`)::

        enc = StreamEncryptor(data_key, tip_id=tip.id, attachment_id=att.id)
        att.header = enc.header
        for index, sealed in enumerate(enc.encrypt_iter(upload_pieces)):
            session.add(AttachmentChunk(attachment_id=att.id, index=index, data=sealed))

    Speed (issue 3: at least half of one-shot AES-256-GCM over the same bytes). Each chunk is
    sealed by one one-shot ``AESGCM.encrypt``, which writes the ciphertext straight into the
    ``bytes`` it returns; the incremental GCM API would need a second copy of every chunk to
    produce that ``bytes``. So plaintext is copied at most once, into one reused buffer, and
    only when it arrives in pieces smaller than a chunk:

    * whole chunks inside a large write are sealed straight from the caller's memory;
    * a write of exactly one chunk of immutable ``bytes`` (what ``read(CHUNK_SIZE)`` on an
      upload returns) is kept by reference until the next byte proves it was not the last;
    * anything else is copied through a ``memoryview`` (slice assignment to a ``bytearray``
      from another object makes a temporary copy first: twice the memory traffic).

    Feeding it ``CHUNK_SIZE`` reads therefore costs no copy at all; 64 KiB pieces cost one.
    """

    def __init__(
        self,
        data_key: bytes,
        *,
        tip_id: uuid.UUID,
        attachment_id: uuid.UUID,
        chunk_log2: int = DEFAULT_CHUNK_LOG2,
    ) -> None:
        if isinstance(chunk_log2, bool) or not STREAM_MIN_LOG2 <= chunk_log2 <= STREAM_MAX_LOG2:
            raise CryptoError("chunk size out of range")
        head = header(CURRENT_SUITE, EnvelopeType.STREAM)
        salt = secrets.token_bytes(STREAM_SALT_LEN)
        self.header: bytes = head + bytes((chunk_log2,)) + salt
        self.chunk_size: int = 1 << chunk_log2
        self._aead = AESGCM(_derive_key(data_key, head, salt, tip_id, attachment_id))
        self._buffer = bytearray(self.chunk_size)  # reused: no allocation per chunk
        self._view = memoryview(self._buffer)
        self._filled = 0  # plaintext bytes of the pending chunk in the buffer
        self._held: memoryview | None = None  # or: a whole pending chunk of immutable bytes
        self._counter = 0
        self._finished = False

    def _seal(self, plaintext: bytes | bytearray | memoryview, final: bool) -> bytes:
        if self._counter >= _MAX_CHUNKS:
            raise StreamError("attachment too large")
        sealed = self._aead.encrypt(_nonce(self._counter, final), plaintext, None)
        self._counter += 1
        return sealed

    def write(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Take any amount of plaintext; return the chunks it completed (possibly none).

        A chunk is sealed only once a byte beyond it has arrived, so that the last chunk is
        always the one :meth:`finish` seals as final. The caller may reuse its buffer as soon
        as this returns (only immutable ``bytes`` are ever kept by reference).
        """
        if self._finished:
            raise StreamError("stream already finished")
        view = memoryview(data).cast("B")
        length, filled, size = len(view), self._filled, self.chunk_size
        if not length:
            return []
        if self._held is None and filled + length < size:  # the common case: a piece to add
            self._view[filled : filled + length] = view
            self._filled = filled + length
            return []
        out: list[bytes] = []
        if self._held is not None:  # a byte beyond the held chunk has arrived
            out.append(self._seal(self._held, final=False))
            self._held = None
        elif filled:
            take = min(size - filled, length)
            if take:
                self._view[filled : filled + take] = view[:take]
                self._filled = filled = filled + take
                view = view[take:]
            if not view:
                return out
            out.append(self._seal(self._buffer, final=False))  # full, and more follows
            self._filled = 0
        start, length = 0, len(view)
        while length - start > size:  # whole chunks with more to come: no copy
            out.append(self._seal(view[start : start + size], final=False))
            start += size
        rest = view[start:]
        if len(rest) == size and isinstance(rest.obj, bytes):
            self._held = rest  # immutable: keep a reference instead of a copy
        else:
            self._view[: len(rest)] = rest
            self._filled = len(rest)
        return out

    def finish(self) -> bytes:
        """Seal and return the final chunk (0 … chunk_size bytes of plaintext)."""
        if self._finished:
            raise StreamError("stream already finished")
        self._finished = True
        if self._held is not None:
            pending, self._held = self._held, None
        else:
            pending = self._view[: self._filled]
        sealed = self._seal(pending, final=True)
        self._buffer[:] = bytes(len(self._buffer))  # do not leave plaintext lying around
        self._filled = 0
        return sealed

    def encrypt_iter(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        """Encrypt an iterable of plaintext pieces of any sizes; yield every sealed chunk."""
        for piece in pieces:
            yield from self.write(piece)
        yield self.finish()


class StreamDecryptor:
    """Decrypt one attachment's chunks in order.

    Either push chunks with :meth:`open_chunk` (telling it which is the last) and call
    :meth:`finish`, or hand an iterable of chunks to :meth:`decrypt_iter`.
    """

    def __init__(
        self,
        data_key: bytes,
        stream_header: bytes,
        *,
        tip_id: uuid.UUID,
        attachment_id: uuid.UUID,
    ) -> None:
        parsed = parse_envelope(stream_header, EnvelopeType.STREAM)
        head = header(parsed.suite, parsed.envelope_type)
        self.chunk_size: int = 1 << parsed.body[0]
        salt = parsed.body[1:]
        self._aead = AESGCM(_derive_key(data_key, head, salt, tip_id, attachment_id))
        self._counter = 0
        self._finished = False

    def open_chunk(self, sealed: bytes, *, final: bool) -> bytes:
        """Open the next chunk; ``final`` says whether the caller holds no further chunk."""
        if self._finished:
            raise StreamError("chunk after the final chunk")
        if not isinstance(sealed, bytes | bytearray | memoryview):
            raise StreamError("chunk must be bytes")
        length = len(sealed) - TAG_LEN
        if length < 0 or length > self.chunk_size or (not final and length != self.chunk_size):
            raise StreamError("chunk has the wrong length (truncated or reordered stream?)")
        if self._counter >= _MAX_CHUNKS:
            raise StreamError("attachment too large")
        try:
            plaintext = self._aead.decrypt(_nonce(self._counter, final), sealed, None)
        except InvalidTag:
            raise StreamError(
                "chunk does not open: altered, reordered, duplicated, truncated or foreign"
            ) from None
        self._counter += 1
        if final:
            self._finished = True
        return plaintext

    def finish(self) -> None:
        """Raise :class:`StreamError` unless the final chunk has been opened."""
        if not self._finished:
            raise StreamError("stream is truncated: the final chunk is missing")

    def decrypt_iter(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Yield the plaintext of each chunk, in order; the last chunk must be the final one.

        Plaintext is yielded as soon as a chunk is known not to be the last (one chunk of
        look-ahead). Raises :class:`StreamError` on any tampering, including no chunks at all.
        """
        previous: bytes | None = None
        for chunk in chunks:
            if previous is not None:
                yield self.open_chunk(previous, final=False)
            previous = chunk
        if previous is None:
            raise StreamError("stream is truncated: no chunks")
        yield self.open_chunk(previous, final=True)
        self.finish()


def decrypt_to_bytes(
    data_key: bytes,
    stream_header: bytes,
    chunks: Iterable[bytes],
    *,
    tip_id: uuid.UUID,
    attachment_id: uuid.UUID,
) -> bytes:
    """Decrypt a whole attachment into memory (small files and tests; stream large ones)."""
    decryptor = StreamDecryptor(data_key, stream_header, tip_id=tip_id, attachment_id=attachment_id)
    return b"".join(decryptor.decrypt_iter(chunks))
