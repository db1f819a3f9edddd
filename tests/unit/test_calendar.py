from datetime import date, datetime, time, timedelta, timezone

from shared.calendar import COPENHAGEN, WorkingDayCalendar

cal = WorkingDayCalendar()


def test_easter_2027_from_maundy_thursday_to_easter_monday_is_closed() -> None:
    for day in (date(2027, 3, 25), date(2027, 3, 26), date(2027, 3, 29)):
        assert not cal.is_working_day(day)
    assert cal.is_working_day(date(2027, 3, 24))
    assert cal.add_working_days(date(2027, 3, 24), 1) == date(2027, 3, 30)


def test_christmas_2026_skips_christmas_eve_both_christmas_days_and_new_year() -> None:
    # Friday 18 Dec + 2 working days: Mon 21, Tue 22.
    assert cal.add_working_days(date(2026, 12, 18), 2) == date(2026, 12, 22)
    # Wed 23 Dec + 1: 24 (extra day off), 25, 26 (Sat), 27 (Sun) -> Mon 28.
    assert cal.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    # 31 Dec is an extra day off, 1 Jan a public holiday.
    assert cal.add_working_days(date(2026, 12, 30), 1) == date(2027, 1, 4)


def test_constitution_day_is_an_extra_day_off_by_default_and_configurable() -> None:
    assert not cal.is_working_day(date(2026, 6, 5))
    assert WorkingDayCalendar(extra_days_off=[]).is_working_day(date(2026, 6, 5))


def test_reminder_at_0830_keeps_wall_clock_time_across_the_dst_change() -> None:
    friday = datetime(2027, 3, 26, 12, 0, tzinfo=COPENHAGEN)  # Good Friday
    moment = cal.next_working_moment(friday, time(8, 30))
    assert moment.astimezone(COPENHAGEN).replace(tzinfo=None) == datetime(2027, 3, 30, 8, 30)
    assert moment.utcoffset() == timedelta(hours=2)
    before = cal.next_working_moment(datetime(2027, 3, 25, tzinfo=timezone.utc), time(8, 30))
    assert before.utcoffset() == timedelta(hours=2)
    winter = cal.next_working_moment(datetime(2027, 3, 22, 6, tzinfo=timezone.utc), time(8, 30))
    assert winter.astimezone(timezone.utc).hour == 7


def test_next_working_moment_is_today_when_the_time_has_not_passed() -> None:
    at = datetime(2026, 11, 26, 7, 0, tzinfo=COPENHAGEN)
    assert cal.next_working_moment(at, time(8, 30)) == datetime(2026, 11, 26, 8, 30,
                                                                tzinfo=COPENHAGEN)
    later = datetime(2026, 11, 26, 9, 0, tzinfo=COPENHAGEN)
    assert cal.next_working_moment(later, time(8, 30)).date() == date(2026, 11, 27)


def test_working_days_between_counts_only_working_days() -> None:
    assert cal.working_days_between(date(2026, 12, 18), date(2026, 12, 28)) == 4  # 21, 22, 23, 28
