"""Uploads on the public site never reach the disk in plaintext (DESIGN.md "Anonymity").

Werkzeug's form parser asks the request for a file object per uploaded file
(``Request._get_file_stream``) and by default gets a ``SpooledTemporaryFile`` that moves to a
plaintext temporary file past 500 KiB. :class:`EncryptingRequest` hands it a
:class:`crypto.spool.EncryptedSpool` instead: in memory up to :attr:`spool_memory_limit`,
then AES-256-CTR ciphertext under a key that exists only in this process's memory. The
``FileStorage`` objects of ``request.files`` read back plaintext as usual; read them in
``crypto.stream.CHUNK_SIZE`` pieces to feed the attachment encryptor without a copy.

Wired in ``public_site.create_app`` with ``app.request_class = EncryptingRequest``. The size
of the whole request is limited before parsing by ``MAX_CONTENT_LENGTH`` (core.web), and
nginx must buffer request bodies on tmpfs (docs/deploy).
"""

from __future__ import annotations

from typing import IO, ClassVar, cast

from core.web_request import SiteRequest
from crypto.spool import DEFAULT_MEMORY_LIMIT, EncryptedSpool


class EncryptingRequest(SiteRequest):
    """A Flask request whose uploaded files spool encrypted, never in plaintext (and whose
    form has no nameless fields, :class:`core.web_request.SiteRequest`)."""

    #: Bytes of one uploaded file kept in memory before it moves to the encrypted temp file.
    spool_memory_limit: ClassVar[int] = DEFAULT_MEMORY_LIMIT

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        # EncryptedSpool is an io.RawIOBase: everything Werkzeug and FileStorage call on an
        # IO[bytes] (write, seek, tell, read, readinto, close) but not a typing.IO subclass.
        return cast(IO[bytes], EncryptedSpool(self.spool_memory_limit))
