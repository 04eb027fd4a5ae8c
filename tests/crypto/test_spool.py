"""The encrypting upload spool: a file that reads back plaintext and writes only ciphertext."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.spool import EncryptedSpool

LIMIT = 1000


def disk_bytes(spool: EncryptedSpool) -> bytes:
    """What the spool's temporary file holds, read through a second descriptor."""
    file = spool._file
    assert file is not None
    with open(f"/proc/self/fd/{file.fileno()}", "rb") as fh:
        return fh.read()


def test_small_stays_in_memory_and_reads_back(tmp_path: Path) -> None:
    spool = EncryptedSpool(LIMIT, directory=str(tmp_path))
    assert spool.write(b"hello ") == 6
    spool.write(memoryview(b"world"))
    assert not spool.on_disk
    spool.seek(0)
    assert spool.read() == b"hello world"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_past_the_limit_only_ciphertext_is_on_disk(tmp_path: Path) -> None:
    data = b"CANARY-plaintext-" * 200  # 3400 bytes, very repetitive
    spool = EncryptedSpool(LIMIT, directory=str(tmp_path))
    for start in range(0, len(data), 300):
        spool.write(data[start : start + 300])
    assert spool.on_disk
    on_disk = disk_bytes(spool)
    assert len(on_disk) == len(data)
    assert b"CANARY" not in on_disk
    assert on_disk != data
    spool.seek(0)
    assert spool.read() == data
    # Another spool of the same bytes has another key and counter.
    other = EncryptedSpool(LIMIT, directory=str(tmp_path))
    other.write(data)
    assert disk_bytes(other) != on_disk
    spool.close()
    other.close()
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=60, deadline=None)
@given(
    st.binary(min_size=0, max_size=4000),
    st.lists(st.integers(1, 1500), max_size=6),
    st.lists(st.tuples(st.integers(0, 4100), st.integers(-1, 2000)), max_size=8),
    st.integers(0, 2000),
)
def test_random_writes_seeks_and_reads(
    data: bytes, pieces: list[int], reads: list[tuple[int, int]], limit: int
) -> None:
    spool = EncryptedSpool(limit)
    start = 0
    for size in [*pieces, len(data)]:
        spool.write(data[start : start + size])
        start += size
    assert spool.tell() == len(data)
    for position, size in reads:
        spool.seek(position)
        expected = data[position:] if size < 0 else data[position : position + size]
        assert spool.read(size) == expected
        assert spool.tell() == position + len(expected) or position >= len(data)
    buf = bytearray(len(data) + 5)
    spool.seek(0)
    assert spool.readinto(buf) == len(data)
    assert bytes(buf[: len(data)]) == data
    spool.close()


def test_file_protocol_as_werkzeug_and_filestorage_use_it(tmp_path: Path) -> None:
    data = os.urandom(5000)
    spool = EncryptedSpool(LIMIT, directory=str(tmp_path))
    spool.write(data)
    assert spool.seek(0, io.SEEK_END) == 5000
    assert spool.seek(-100, io.SEEK_END) == 4900
    assert spool.read() == data[-100:]
    assert spool.seek(-50, io.SEEK_CUR) == 4950
    assert spool.read(10) == data[4950:4960]
    spool.seek(0)
    out = io.BytesIO()
    shutil.copyfileobj(spool, out, 777)  # FileStorage.save()
    assert out.getvalue() == data
    assert spool.readable()
    assert spool.writable()
    assert spool.seekable()
    with pytest.raises(ValueError, match="negative"):
        spool.seek(-1)
    with pytest.raises(ValueError, match="whence"):
        spool.seek(0, 7)
    spool.seek(0)
    with io.BufferedReader(spool) as buffered:  # usable as a raw stream (and closes it)
        assert buffered.read() == data
    assert spool.closed


def test_append_only_and_closed(tmp_path: Path) -> None:
    spool = EncryptedSpool(LIMIT, directory=str(tmp_path))
    spool.write(os.urandom(2000))
    spool.seek(10)
    with pytest.raises(io.UnsupportedOperation):
        spool.write(b"overwrite")  # would reuse keystream
    with pytest.raises(io.UnsupportedOperation):
        spool.truncate(5)
    with pytest.raises(io.UnsupportedOperation):
        spool.fileno()
    spool.seek(0, io.SEEK_END)
    assert spool.write(b"") == 0
    assert spool.write(b"more") == 4
    spool.close()
    spool.close()  # twice is fine
    assert spool.closed
    with pytest.raises(ValueError, match="closed"):
        spool.read()
    with pytest.raises(ValueError, match="closed"):
        spool.write(b"x")
    with pytest.raises(ValueError, match="negative"):
        EncryptedSpool(-1)


def test_zero_limit_goes_to_disk_at_once(tmp_path: Path) -> None:
    spool = EncryptedSpool(0, directory=str(tmp_path))
    spool.write(b"x")
    assert spool.on_disk
    spool.seek(0)
    assert spool.read() == b"x"
    spool.close()
