from datetime import date, datetime

from odoo.tests import BaseCase, tagged

from ..tools import contact_policy as cp

# The window of the standard preset: Monday to Friday, 08:00 to 20:00.
WEEKDAYS = (0, 4, 8.0, 20.0)


@tagged("post_install", "-at_install")
class TestContactWindow(BaseCase):
    """``in_window``: weekdays, hours (``hour_to`` excluded) and public holidays
    of the customer's local time."""

    def test_weekdays(self):
        for moment, inside in (
            (datetime(2026, 3, 2, 10, 0), True),  # Monday
            (datetime(2026, 3, 6, 10, 0), True),  # Friday
            (datetime(2026, 3, 7, 10, 0), False),  # Saturday
            (datetime(2026, 3, 8, 10, 0), False),  # Sunday
        ):
            with self.subTest(moment=moment):
                self.assertEqual(cp.in_window(moment, *WEEKDAYS), inside)

    def test_a_single_weekday_and_the_weekend(self):
        wednesday = (2, 2, 9.0, 17.0)
        self.assertTrue(cp.in_window(datetime(2026, 3, 4, 9, 0), *wednesday))
        self.assertFalse(cp.in_window(datetime(2026, 3, 2, 9, 0), *wednesday))
        self.assertFalse(cp.in_window(datetime(2026, 3, 5, 9, 0), *wednesday))
        weekend = (5, 6, 9.0, 17.0)
        self.assertTrue(cp.in_window(datetime(2026, 3, 7, 9, 0), *weekend))
        self.assertTrue(cp.in_window(datetime(2026, 3, 8, 16, 59), *weekend))
        self.assertFalse(cp.in_window(datetime(2026, 3, 6, 16, 0), *weekend))

    def test_hour_edges(self):
        """``hour_from`` is inside, ``hour_to`` is not, to the second."""
        monday = datetime(2026, 3, 2)
        for hour, minute, second, inside in (
            (7, 59, 59, False),
            (8, 0, 0, True),
            (12, 0, 0, True),
            (19, 59, 59, True),
            (20, 0, 0, False),
            (23, 59, 59, False),
            (0, 0, 0, False),
        ):
            moment = monday.replace(hour=hour, minute=minute, second=second)
            with self.subTest(moment=moment):
                self.assertEqual(cp.in_window(moment, *WEEKDAYS), inside)

    def test_half_hours(self):
        """Hours are floats: 8.5 is 08:30, 17.25 is 17:15."""
        window = (0, 4, 8.5, 17.25)
        monday = datetime(2026, 3, 2)
        for hour, minute, second, inside in (
            (8, 29, 59, False),
            (8, 30, 0, True),
            (17, 14, 59, True),
            (17, 15, 0, False),
        ):
            moment = monday.replace(hour=hour, minute=minute, second=second)
            with self.subTest(moment=moment):
                self.assertEqual(cp.in_window(moment, *window), inside)

    def test_whole_day_whole_week(self):
        """0 to 24, Monday to Sunday: always inside, midnight and 23:59:59
        included."""
        always = (0, 6, 0.0, 24.0)
        for moment in (
            datetime(2026, 3, 2, 0, 0),
            datetime(2026, 3, 7, 12, 0),
            datetime(2026, 3, 8, 23, 59, 59, 999999),
        ):
            with self.subTest(moment=moment):
                self.assertTrue(cp.in_window(moment, *always))

    def test_empty_hours(self):
        """From 08:00 to 08:00 is no hour at all (the company's settings refuse
        it)."""
        monday = datetime(2026, 3, 2)
        for hour in range(24):
            with self.subTest(hour=hour):
                self.assertFalse(
                    cp.in_window(monday.replace(hour=hour), 0, 6, 8.0, 8.0)
                )

    def test_holidays(self):
        holidays = {date(2026, 9, 18)}
        friday_noon = datetime(2026, 9, 18, 12, 0)
        self.assertTrue(cp.in_window(friday_noon, *WEEKDAYS))
        self.assertFalse(cp.in_window(friday_noon, *WEEKDAYS, holidays))
        self.assertFalse(
            cp.in_window(friday_noon, *WEEKDAYS, [date(2026, 9, 18)]), "a list too"
        )
        self.assertTrue(
            cp.in_window(datetime(2026, 9, 17, 12, 0), *WEEKDAYS, holidays),
            "the day before is an ordinary day",
        )


@tagged("post_install", "-at_install")
class TestNextWindowStart(BaseCase):
    """``next_window_start``: the first moment at or after the given one inside
    the window, rolling over evenings, weekends, holidays, month and year ends."""

    def assertNext(self, moment, window, expected, holidays=()):
        start = cp.next_window_start(moment, *window, holidays)
        self.assertEqual(start, expected, f"from {moment:%a %Y-%m-%d %H:%M:%S}")
        self.assertTrue(cp.in_window(start, *window, holidays), "inside the window")

    def test_inside_is_now(self):
        """Inside the window: the very moment, seconds and microseconds kept."""
        for moment in (
            datetime(2026, 3, 2, 8, 0),
            datetime(2026, 3, 4, 13, 17, 42, 123456),
            datetime(2026, 3, 6, 19, 59, 59),
        ):
            self.assertNext(moment, WEEKDAYS, moment)

    def test_before_the_hours_is_the_same_day(self):
        self.assertNext(
            datetime(2026, 3, 2, 0, 0), WEEKDAYS, datetime(2026, 3, 2, 8, 0)
        )
        self.assertNext(
            datetime(2026, 3, 4, 7, 59, 59), WEEKDAYS, datetime(2026, 3, 4, 8, 0)
        )

    def test_after_the_hours_is_the_next_day(self):
        self.assertNext(
            datetime(2026, 3, 2, 20, 0), WEEKDAYS, datetime(2026, 3, 3, 8, 0)
        )
        self.assertNext(
            datetime(2026, 3, 3, 23, 59, 59), WEEKDAYS, datetime(2026, 3, 4, 8, 0)
        )

    def test_the_weekend_rolls_to_monday(self):
        monday = datetime(2026, 3, 9, 8, 0)
        for moment in (
            datetime(2026, 3, 6, 20, 0),  # Friday, the end of the hours
            datetime(2026, 3, 6, 23, 0),  # Friday night
            datetime(2026, 3, 7, 0, 0),  # Saturday
            datetime(2026, 3, 7, 10, 0),
            datetime(2026, 3, 8, 23, 59, 59),  # Sunday
        ):
            with self.subTest(moment=moment):
                self.assertNext(moment, WEEKDAYS, monday)

    def test_half_hour_start(self):
        window = (0, 4, 8.5, 17.25)
        self.assertNext(datetime(2026, 3, 2, 8, 0), window, datetime(2026, 3, 2, 8, 30))
        self.assertNext(
            datetime(2026, 3, 6, 17, 15), window, datetime(2026, 3, 9, 8, 30)
        )

    def test_every_minute_the_settings_can_hold(self):
        """The settings store hours as the time widget does (08:20 is 8 + 20/60):
        the start is that minute, and it is inside the window."""
        for minute in range(60):
            hour_from = 8 + minute / 60
            window = (0, 4, hour_from, 20.0)
            with self.subTest(minute=minute):
                self.assertNext(
                    datetime(2026, 3, 2, 6, 0),
                    window,
                    datetime(2026, 3, 2, 8, minute),
                )

    def test_holidays_are_skipped(self):
        # Chile's national holidays: Friday 18 and Saturday 19 September 2026.
        holidays = {date(2026, 9, 18), date(2026, 9, 19)}
        self.assertNext(
            datetime(2026, 9, 17, 20, 30),
            WEEKDAYS,
            datetime(2026, 9, 21, 8, 0),
            holidays,
        )
        self.assertNext(
            datetime(2026, 9, 18, 10, 0),
            WEEKDAYS,
            datetime(2026, 9, 21, 8, 0),
            holidays,
        )
        # A holiday on the Monday after too: Tuesday.
        self.assertNext(
            datetime(2026, 9, 18, 10, 0),
            WEEKDAYS,
            datetime(2026, 9, 22, 8, 0),
            holidays | {date(2026, 9, 21)},
        )

    def test_holidays_outside_the_window_change_nothing(self):
        """A holiday on a Saturday, or a past one, does not push further."""
        self.assertNext(
            datetime(2026, 9, 19, 10, 0),
            WEEKDAYS,
            datetime(2026, 9, 21, 8, 0),
            {date(2026, 9, 19), date(2025, 9, 18)},
        )

    def test_month_and_year_ends(self):
        self.assertNext(  # Friday 31 July, evening: Monday 3 August
            datetime(2026, 7, 31, 21, 0), WEEKDAYS, datetime(2026, 8, 3, 8, 0)
        )
        self.assertNext(  # Saturday 28 February: Monday 2 March
            datetime(2026, 2, 28, 9, 0), WEEKDAYS, datetime(2026, 3, 2, 8, 0)
        )
        self.assertNext(  # leap year: Monday 28 February, evening: Tuesday 29
            datetime(2028, 2, 28, 20, 0), WEEKDAYS, datetime(2028, 2, 29, 8, 0)
        )
        self.assertNext(  # Thursday 31 December, New Year's Day on Friday: Monday
            datetime(2026, 12, 31, 20, 0),
            WEEKDAYS,
            datetime(2027, 1, 4, 8, 0),
            {date(2027, 1, 1)},
        )

    def test_a_single_weekday(self):
        wednesday = (2, 2, 9.0, 17.0)
        self.assertNext(
            datetime(2026, 3, 4, 17, 0), wednesday, datetime(2026, 3, 11, 9, 0)
        )
        self.assertNext(
            datetime(2026, 3, 5, 9, 0), wednesday, datetime(2026, 3, 11, 9, 0)
        )

    def test_a_single_weekday_with_holidays_in_a_row(self):
        """Two Wednesdays off in a row: the third one (each holiday can cost a
        whole week)."""
        self.assertNext(
            datetime(2026, 3, 4, 17, 0),
            (2, 2, 9.0, 17.0),
            datetime(2026, 3, 25, 9, 0),
            {date(2026, 3, 11), date(2026, 3, 18)},
        )

    def test_the_weekend_only(self):
        weekend = (5, 6, 10.0, 14.0)
        self.assertNext(
            datetime(2026, 3, 2, 9, 0), weekend, datetime(2026, 3, 7, 10, 0)
        )
        self.assertNext(
            datetime(2026, 3, 8, 14, 0), weekend, datetime(2026, 3, 14, 10, 0)
        )

    def test_whole_day_rolls_to_midnight(self):
        always = (0, 6, 0.0, 24.0)
        self.assertNext(
            datetime(2026, 3, 7, 23, 59, 59), always, datetime(2026, 3, 7, 23, 59, 59)
        )
        self.assertNext(
            datetime(2026, 3, 7, 10, 0),
            always,
            datetime(2026, 3, 8, 0, 0),
            {date(2026, 3, 7)},
        )

    def test_no_weekday_is_an_empty_window(self):
        """Friday to Monday does not wrap around the weekend: no day at all (the
        company's settings refuse it)."""
        with self.assertRaisesRegex(ValueError, "empty contact window"):
            cp.next_window_start(datetime(2026, 3, 2, 10, 0), 4, 0, 8.0, 20.0)


@tagged("post_install", "-at_install")
class TestContactTimeZones(BaseCase):
    """``to_local`` and ``to_utc``: the window is the customer's, the database
    is UTC."""

    def test_santiago_summer_and_winter(self):
        # Chile: UTC-3 in summer (March), UTC-4 in winter (July).
        self.assertEqual(
            cp.to_local(datetime(2026, 3, 16, 12, 0), "America/Santiago"),
            datetime(2026, 3, 16, 9, 0),
        )
        self.assertEqual(
            cp.to_local(datetime(2026, 7, 15, 12, 0), "America/Santiago"),
            datetime(2026, 7, 15, 8, 0),
        )
        self.assertEqual(
            cp.to_utc(datetime(2026, 3, 16, 9, 0), "America/Santiago"),
            datetime(2026, 3, 16, 12, 0),
        )
        self.assertEqual(
            cp.to_utc(datetime(2026, 7, 15, 8, 0), "America/Santiago"),
            datetime(2026, 7, 15, 12, 0),
        )

    def test_the_local_date_is_not_the_utc_date(self):
        # Tuesday 02:00 UTC is Monday 23:00 in Santiago.
        self.assertEqual(
            cp.to_local(datetime(2026, 3, 3, 2, 0), "America/Santiago"),
            datetime(2026, 3, 2, 23, 0),
        )
        # Monday 23:00 in Tokyo is Monday 14:00 UTC.
        self.assertEqual(
            cp.to_utc(datetime(2026, 3, 2, 23, 0), "Asia/Tokyo"),
            datetime(2026, 3, 2, 14, 0),
        )

    def test_no_time_zone_is_utc(self):
        moment = datetime(2026, 3, 2, 10, 30)
        for tz_name in (None, False, "", "UTC"):
            with self.subTest(tz_name=tz_name):
                self.assertEqual(cp.to_local(moment, tz_name), moment)
                self.assertEqual(cp.to_utc(moment, tz_name), moment)

    def test_daylight_saving_changes(self):
        # Madrid: CET (UTC+1) until 29 March 2026 02:00, then CEST (UTC+2) until
        # 25 October 03:00.
        self.assertEqual(
            cp.to_utc(datetime(2026, 3, 27, 9, 0), "Europe/Madrid"),
            datetime(2026, 3, 27, 8, 0),
        )
        self.assertEqual(
            cp.to_utc(datetime(2026, 3, 30, 9, 0), "Europe/Madrid"),
            datetime(2026, 3, 30, 7, 0),
        )
        self.assertEqual(
            cp.to_local(datetime(2026, 10, 26, 7, 0), "Europe/Madrid"),
            datetime(2026, 10, 26, 8, 0),
        )
        # 02:30 on 25 October happens twice: read as winter time, the later one.
        self.assertEqual(
            cp.to_utc(datetime(2026, 10, 25, 2, 30), "Europe/Madrid"),
            datetime(2026, 10, 25, 1, 30),
        )

    def test_round_trip(self):
        for tz_name in ("America/Santiago", "Europe/Madrid", "Asia/Kolkata"):
            for moment in (
                datetime(2026, 1, 1, 0, 0),
                datetime(2026, 6, 30, 23, 45),
                datetime(2026, 12, 31, 12, 0),
            ):
                with self.subTest(tz_name=tz_name, moment=moment):
                    self.assertEqual(
                        cp.to_utc(cp.to_local(moment, tz_name), tz_name), moment
                    )

    def test_a_utc_moment_to_the_customers_next_window(self):
        """As the sending does: UTC to local, the window there, back to UTC."""
        # Friday 23:30 UTC is Friday 20:30 in Santiago (UTC-3): after the hours;
        # Monday 08:00 there is 11:00 UTC.
        local = cp.to_local(datetime(2026, 3, 6, 23, 30), "America/Santiago")
        start = cp.next_window_start(local, *WEEKDAYS)
        self.assertEqual(start, datetime(2026, 3, 9, 8, 0))
        self.assertEqual(
            cp.to_utc(start, "America/Santiago"), datetime(2026, 3, 9, 11, 0)
        )
        # Over the weekend Madrid moves to summer time: Friday 20:00 UTC is 21:00
        # CET, and Monday 08:00 is then 06:00 UTC, not 07:00.
        local = cp.to_local(datetime(2026, 3, 27, 20, 0), "Europe/Madrid")
        self.assertEqual(local, datetime(2026, 3, 27, 21, 0))
        start = cp.next_window_start(local, *WEEKDAYS)
        self.assertEqual(cp.to_utc(start, "Europe/Madrid"), datetime(2026, 3, 30, 6, 0))
