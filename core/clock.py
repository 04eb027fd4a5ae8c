"""The clock services take as an argument, so tests can use a fake one."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FakeClock:
    """A settable clock for tests and benchmarks."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        self._now += dt.timedelta(**kwargs)


def local(value: dt.datetime) -> dt.datetime:
    """A UTC time as shown on screen (Asia/Shanghai, no daylight saving)."""
    return value.astimezone(SHANGHAI)
