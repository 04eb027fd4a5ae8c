"""A spool file for uploads that never puts plaintext on disk (DESIGN.md "Anonymity").

Werkzeug spools a large multipart upload to a temporary file as it parses the request body, in
plaintext: a photo of the reporter's workplace, with its EXIF, would then sit in ``/tmp`` (and
in the filesystem's journal, in backups, on a reused SSD block) before intake ever scrubs and
encrypts it. :class:`EncryptedSpool` replaces that file (``public_site.uploads`` wires it in as
Werkzeug's stream factory):

* up to ``memory_limit`` bytes it lives in memory, like Werkzeug's own spool;
* past that, everything goes to an anonymous temporary file (``tempfile.TemporaryFile``: on
  Linux ``O_TMPFILE``, never linked into a directory) as AES-256-CTR ciphertext under a random
  key and a random initial counter made for this one spool. The key lives only in this
  object; it is never written, logged or derived from anything, so the file is noise once the
  object (or the process) is gone.

CTR gives random access: byte ``p`` is encrypted with keystream block ``iv + p // 16``, so
``seek`` and ``read`` anywhere work. The spool is *append-only* — a write anywhere but at the
end is refused — so no keystream position ever encrypts two different plaintexts (rewriting a
region would leave both versions' XOR on a journaled or flash disk). Werkzeug and
``FileStorage`` only append, then seek and read. There is no integrity check: the file is read
back by the same process that wrote it a moment before, and an attacker who can rewrite it
there could read the request from memory anyway.
"""

from __future__ import annotations

import io
import secrets
import tempfile
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

#: Uploads up to this size stay in memory (Werkzeug's own spool keeps 500 KiB).
DEFAULT_MEMORY_LIMIT = 1 << 20
_BLOCK = 16
_COUNTER_SPACE = 1 << 128


class EncryptedSpool(io.RawIOBase):
    """A seekable, readable, append-only binary file whose disk copy is ciphertext only.

    ``directory`` is where the temporary file is made (default: :func:`tempfile.gettempdir`).
    Reads return plaintext. :meth:`read` returns fresh ``bytes``, so ``read(CHUNK_SIZE)``
    feeds :class:`crypto.stream.StreamEncryptor` without a copy.
    """

    def __init__(
        self, memory_limit: int = DEFAULT_MEMORY_LIMIT, *, directory: str | None = None
    ) -> None:
        super().__init__()
        if memory_limit < 0:
            raise ValueError("memory_limit must not be negative")
        self._memory_limit = memory_limit
        self._directory = directory
        self._memory: bytearray | None = bytearray()
        self._file: io.FileIO | None = None
        self._key: bytes | None = None
        self._iv = 0
        self._size = 0
        self._position = 0
        self._writer: CipherContext | None = None  # keystream positioned at self._size
        self._reader: CipherContext | None = None  # keystream positioned at self._reader_at
        self._reader_at = -1

    # ------------------------------------------------------------ io protocol

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def on_disk(self) -> bool:
        """Whether the spool has moved to its (encrypted) temporary file."""
        return self._file is not None

    def tell(self) -> int:
        self._check_open()
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if position < 0:
            raise ValueError("negative seek position")
        self._position = position
        return position

    def write(self, data: ReadableBuffer) -> int:
        self._check_open()
        view = memoryview(data).cast("B")
        if self._position != self._size:
            raise io.UnsupportedOperation("an upload spool is append-only")
        length = len(view)
        if not length:
            return 0
        if self._memory is not None and self._size + length <= self._memory_limit:
            self._memory += view
        else:
            file, writer = self._roll_over() if self._memory is not None else self._disk()
            file.seek(self._size)
            _write_all(file, writer.update(view))
        self._size += length
        self._position = self._size
        return length

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of plaintext from the current position (all with ``-1``)."""
        self._check_open()
        remaining = max(0, self._size - self._position)
        if size is None or size < 0 or size > remaining:
            size = remaining
        if not size:
            return b""
        start = self._position
        if self._memory is not None:
            data = bytes(self._memory[start : start + size])
        else:
            file, _ = self._disk()
            file.seek(start)
            ciphertext = _read_exactly(file, size)
            data = self._keystream_at(start).update(ciphertext)
            self._reader_at = start + len(data)
        self._position = start + len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def truncate(self, size: int | None = None) -> int:
        raise io.UnsupportedOperation("an upload spool cannot be truncated")

    def fileno(self) -> int:
        raise io.UnsupportedOperation("an upload spool has no plaintext file descriptor")

    def close(self) -> None:
        """Forget the plaintext and the key; the temporary file (ciphertext) is deleted."""
        if self.closed:
            return
        if self._memory is not None:
            self._memory[:] = bytes(len(self._memory))  # best effort: no copy left in memory
            self._memory = None
        if self._file is not None:
            self._file.close()
            self._file = None
        self._key = None
        self._writer = self._reader = None
        super().close()

    # ------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed spool")

    def _disk(self) -> tuple[io.FileIO, CipherContext]:
        if self._file is None or self._writer is None:
            raise RuntimeError("the upload spool is not on disk")
        return self._file, self._writer

    def _cipher(self, key: bytes, position: int) -> CipherContext:
        """An AES-256-CTR context positioned at byte ``position`` of the spool."""
        block, skip = divmod(position, _BLOCK)
        counter = ((self._iv + block) % _COUNTER_SPACE).to_bytes(_BLOCK, "big")
        context = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()
        if skip:
            context.update(bytes(skip))  # discard the keystream before ``position``
        return context

    def _keystream_at(self, position: int) -> CipherContext:
        if self._reader is None or self._reader_at != position:
            if self._key is None:
                raise RuntimeError("the upload spool is not on disk")
            self._reader = self._cipher(self._key, position)
        return self._reader

    def _roll_over(self) -> tuple[io.FileIO, CipherContext]:
        """Move the in-memory bytes to a fresh temporary file, encrypted under a fresh key."""
        memory = self._memory if self._memory is not None else bytearray()
        self._key = key = secrets.token_bytes(32)
        self._iv = int.from_bytes(secrets.token_bytes(_BLOCK), "big")
        # Anonymous (O_TMPFILE on Linux), deleted on close; closed in close().
        self._file = file = tempfile.TemporaryFile(buffering=0, dir=self._directory)  # noqa: SIM115
        self._writer = writer = self._cipher(key, 0)
        _write_all(file, writer.update(memory))
        memory[:] = bytes(len(memory))
        self._memory = None
        return file, writer


def _write_all(file: io.FileIO, data: bytes) -> None:
    """An unbuffered write may be short; loop until all of ``data`` is written."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:
            raise OSError("short write to the upload spool")
        view = view[written:]


def _read_exactly(file: io.FileIO, size: int) -> bytes:
    """An unbuffered read may be short; loop until ``size`` bytes (the spool knows its size)."""
    pieces = []
    while size:
        piece = file.read(size)
        if not piece:
            raise OSError("the upload spool's temporary file is shorter than written")
        pieces.append(piece)
        size -= len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)
