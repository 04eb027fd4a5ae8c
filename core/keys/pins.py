"""The public site's memory of the newest key version it has sealed to, per key group.

Kept in process memory and in a small JSON file, ``<data dir>/public-state/key-pins.json``
(mode 0600, written atomically), on the public side: the database alone must not be able to
roll a group back to an older key, so this memory cannot live in the database. Versions only
ever go up. A missing file is an empty memory (a new instance); a file that exists but cannot
be read is an error, never silently an empty memory.

Several processes may share the file (gunicorn workers): each merges what is on disk with its
own memory before writing, taking the higher version per group, so a worker never lowers a pin
another one raised.

One instance per process: :func:`KeyPins.for_settings` hands out the same object for the same
file.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import ClassVar

from core.keys.errors import KeyPinsUnreadable
from core.settings import Settings

STATE_DIR = "public-state"
FILE_NAME = "key-pins.json"


class KeyPins:
    """Newest version seen per group slug."""

    _instances: ClassVar[dict[Path, KeyPins]] = {}
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path | None) -> None:
        """``path=None`` keeps the memory in this object only (tests, tools)."""
        self.path = path
        self._lock = threading.Lock()
        self._versions: dict[str, int] = self._read() if path is not None else {}

    @classmethod
    def for_settings(cls, settings: Settings) -> KeyPins:
        """The process-wide pins of this instance's data directory."""
        path = settings.data_dir / STATE_DIR / FILE_NAME
        with cls._instances_lock:
            pins = cls._instances.get(path)
            if pins is None:
                pins = cls(path)
                cls._instances[path] = pins
            return pins

    def _read(self) -> dict[str, int]:
        assert self.path is not None  # noqa: S101 - only called with a path
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError:
            raise KeyPinsUnreadable() from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise KeyPinsUnreadable() from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 1
            for k, v in data.items()
        ):
            raise KeyPinsUnreadable()
        return dict(data)

    def minimum(self, slug: str) -> int:
        """The oldest version that may still be used for ``slug`` (1 if never seen)."""
        with self._lock:
            return self._versions.get(slug, 1)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._versions)

    def observe(self, slug: str, version: int) -> None:
        """Remember that ``version`` of ``slug`` has been used (a no-op unless it is newer)."""
        with self._lock:
            if version <= self._versions.get(slug, 0):
                return
            self._versions[slug] = version
            if self.path is not None:
                self._write()

    def _write(self) -> None:
        assert self.path is not None  # noqa: S101 - only called with a path
        merged = dict(self._versions)
        for slug, version in self._read().items():
            merged[slug] = max(version, merged.get(slug, 0))
        self._versions = merged
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(merged, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
