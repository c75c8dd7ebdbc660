"""When a customer may be contacted: pure functions over local datetimes."""

from datetime import datetime, time, timedelta

import pytz


def in_window(local, weekday_from, weekday_to, hour_from, hour_to, holidays=()):
    """Whether ``local`` (naive, customer's time) is inside the contact window.

    Weekdays are 0 (Monday) to 6; hours are floats (8.5 = 08:30), ``hour_to``
    excluded.
    """
    hour = local.hour + local.minute / 60 + local.second / 3600
    return (
        weekday_from <= local.weekday() <= weekday_to
        and hour_from <= hour < hour_to
        and local.date() not in holidays
    )


def next_window_start(local, weekday_from, weekday_to, hour_from, hour_to, holidays=()):
    """The first moment at or after ``local`` inside the contact window."""
    if in_window(local, weekday_from, weekday_to, hour_from, hour_to, holidays):
        return local
    start = time(int(hour_from), round((hour_from % 1) * 60))
    day = local.date()
    for offset in range(8 + 7 * len(holidays)):  # a holiday may cost a week
        candidate = datetime.combine(day + timedelta(days=offset), start)
        if (
            candidate >= local
            and weekday_from <= candidate.weekday() <= weekday_to
            and candidate.date() not in holidays
        ):
            return candidate
    raise ValueError("empty contact window")


def to_local(utc_naive, tz_name):
    tz = pytz.timezone(tz_name or "UTC")
    return pytz.utc.localize(utc_naive).astimezone(tz).replace(tzinfo=None)


def to_utc(local_naive, tz_name):
    tz = pytz.timezone(tz_name or "UTC")
    return tz.localize(local_naive).astimezone(pytz.utc).replace(tzinfo=None)
