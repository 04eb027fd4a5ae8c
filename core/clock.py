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


def hour_of(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC, rounded down to the hour: the only precision reporter times get."""
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


class HourClock:
    """The hour of the wrapped clock. Audit records of what a reporter did (or of what was
    stored for them, such as a photo fetched later) carry the hour only, so the trail does not
    undo the rounding of ``submitted_at``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> dt.datetime:
        return hour_of(self._clock.now())


def local(value: dt.datetime) -> dt.datetime:
    """A UTC time as shown on screen (Asia/Shanghai, no daylight saving)."""
    return value.astimezone(SHANGHAI)
