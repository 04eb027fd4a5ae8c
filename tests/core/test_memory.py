"""The malloc arena limit: applied on glibc Linux, a no-op elsewhere."""

from __future__ import annotations

import ctypes.util
import sys

import pytest

from core import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_limit_is_set_on_glibc() -> None:
    assert memory.limit_malloc_arenas() is True


def test_elsewhere_it_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert memory.limit_malloc_arenas() is False
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ctypes.util, "find_library", lambda _name: None)
    assert memory.limit_malloc_arenas() is False
