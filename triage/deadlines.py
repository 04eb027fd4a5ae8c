"""Deadline arithmetic. Every deadline is the end of a calendar day in Asia/Shanghai.

"Within N days" of a moment on day D means until the end of day D + N, local time: the
reporter and the officer both see a date, and the date they see is the last day on which the
step can still be done. Stored as the UTC instant of the following local midnight (Shanghai has
no daylight saving, so adding whole days to that instant keeps it a midnight).
"""

from __future__ import annotations

import datetime as dt

from core.clock import SHANGHAI


def end_of_day_after(moment: dt.datetime, days: int) -> dt.datetime:
    """The end of the local day ``days`` days after the local day of ``moment``, in UTC."""
    day = moment.astimezone(SHANGHAI).date() + dt.timedelta(days=days + 1)
    return dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI).astimezone(dt.UTC)


def last_day(deadline: dt.datetime) -> dt.date:
    """The last local day before ``deadline``: the date to show for it."""
    return (deadline.astimezone(SHANGHAI) - dt.timedelta(microseconds=1)).date()


def local_date(moment: dt.datetime) -> dt.date:
    """The local (Asia/Shanghai) date of ``moment``: what the reporter sees of a time."""
    return moment.astimezone(SHANGHAI).date()
