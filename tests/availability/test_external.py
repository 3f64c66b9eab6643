"""Mechanics' own calendars as busy time (availability/external.py), fetched from a real
HTTP server on 127.0.0.1 (tests/availability/feeds.py). No test reads the real clock:
every call gets ``now`` from NOW."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from autodoctor.availability import external
from autodoctor.availability.engine import Interval
from autodoctor.availability.external import (
    FeedError,
    calendar_url_clean,
    external_busy,
    external_calendar_add,
    external_calendar_refresh,
    external_calendars_refresh_due,
    feed_fetch,
)
from autodoctor.availability.models import ExternalBusy, ExternalCalendar, WeeklyBlock
from autodoctor.availability.service import BUSY_SOURCES, available_slots
from autodoctor.errors import Conflict, InvalidInput
from autodoctor.periodic import PERIODIC_TASKS
from tests.factories import MechanicFactory

from .feeds import ALL_DAY, EMAIL, GOOGLE, INVITES, LUNCH, NOW, WEEKLY, Route, ics

pytestmark = pytest.mark.django_db


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def mechanic():
    return MechanicFactory(user__email=EMAIL, user__time_zone="America/Toronto")


def connect(mechanic, url: str, **kwargs) -> ExternalCalendar:
    return external_calendar_add(mechanic=mechanic, url=url, now=NOW, **kwargs)


def refresh(calendar: ExternalCalendar, at: datetime = NOW) -> ExternalCalendar:
    external_calendar_refresh(calendar_id=calendar.pk, now=at)
    calendar.refresh_from_db()
    return calendar


def stored(calendar: ExternalCalendar) -> list[tuple[datetime, datetime]]:
    return list(
        ExternalBusy.objects.filter(calendar=calendar)
        .order_by("starts_at")
        .values_list("starts_at", "ends_at")
    )


# ---------------------------------------------------------------- reading feeds


def test_a_weekly_series_keeps_local_time_across_dst_with_exdate_and_overrides(feeds, mechanic):
    calendar = refresh(connect(mechanic, feeds.serve("/weekly.ics", WEEKLY)))
    assert calendar.last_error == ""
    assert stored(calendar) == [
        (utc(2027, 3, 1, 15), utc(2027, 3, 1, 16)),  # 10:00 EST
        # Mar 8: EXDATE
        (utc(2027, 3, 15, 14), utc(2027, 3, 15, 15)),  # 10:00 EDT, after the change
        (utc(2027, 3, 22, 17), utc(2027, 3, 22, 18)),  # moved to 13:00 EDT
        # Mar 29: the instance is cancelled
    ]


def test_all_day_events_block_whole_local_days_in_the_mechanics_zone(feeds, mechanic):
    calendar = refresh(connect(mechanic, feeds.serve("/allday.ics", ALL_DAY)))
    assert stored(calendar) == [
        (utc(2027, 3, 5, 5), utc(2027, 3, 6, 5)),
        # Saturday 00:00 EST to Monday 00:00 EDT: 47 hours.
        (utc(2027, 3, 13, 5), utc(2027, 3, 15, 4)),
    ]


def test_all_day_events_follow_the_mechanics_own_zone(feeds):
    mechanic = MechanicFactory(user__time_zone="America/Vancouver")
    calendar = refresh(connect(mechanic, feeds.serve("/allday.ics", ALL_DAY)))
    assert stored(calendar)[0] == (utc(2027, 3, 5, 8), utc(2027, 3, 6, 8))


def test_transparent_events_and_declined_invites_do_not_block(feeds, mechanic):
    calendar = refresh(connect(mechanic, feeds.serve("/invites.ics", INVITES)))
    # Only the invite the mechanic accepted (another attendee's "declined" is theirs).
    assert stored(calendar) == [(utc(2027, 3, 2, 19), utc(2027, 3, 2, 20))]


def test_a_google_feed_with_x_wr_timezone_keeps_its_local_time_after_dst(feeds, mechanic):
    calendar = refresh(connect(mechanic, feeds.serve("/google.ics", GOOGLE)))
    assert stored(calendar) == [
        (utc(2027, 3, 2, 15), utc(2027, 3, 2, 16)),
        (utc(2027, 3, 9, 15), utc(2027, 3, 9, 16)),
        (utc(2027, 3, 16, 14), utc(2027, 3, 16, 15)),  # still 10:00 in Toronto
    ]


def test_only_the_horizon_is_stored_and_overlapping_events_are_merged(feeds, mechanic):
    daily = "\r\n".join(
        [
            "UID:daily@test",
            "DTSTAMP:20270101T000000Z",
            "DTSTART:20270101T120000Z",
            "DTEND:20270101T130000Z",
            "RRULE:FREQ=DAILY",
        ]
    )
    overlapping = "UID:o@test\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270302T123000Z\r\n"
    overlapping += "DTEND:20270302T140000Z"
    calendar = refresh(connect(mechanic, feeds.serve("/daily.ics", ics(daily, overlapping))))
    rows = stored(calendar)
    # From yesterday's occurrence (a day before NOW) to 90 days ahead, an endless series.
    assert rows[0] == (utc(2027, 3, 1, 12), utc(2027, 3, 1, 13))
    assert rows[-1] == (utc(2027, 5, 30, 12), utc(2027, 5, 30, 13))
    assert len(rows) == 91  # one a day; the overlapping event merged into Mar 2
    assert (utc(2027, 3, 2, 12), utc(2027, 3, 2, 14)) in rows
    assert calendar.busy_until == NOW + timedelta(days=90)


# ---------------------------------------------------------------- bad feeds keep the last good copy


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route(b"oops", status=500), "answered 500"),
        (Route(b"not found", status=404), "answered 404"),
        (Route(b"<html><body>Sign in</body></html>"), "did not return a calendar file"),
        (Route(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:garbage"), "calendar"),
        (Route(LUNCH.encode(), delay=1.5), "did not answer within 0.5 s"),
        (Route(b"X" * 50_000), "larger than"),
        (Route(b"BEGIN:VCALENDAR\r\n" + b"X" * 50_000, length=False), "larger than"),
    ],
    ids=["500", "404", "html", "garbage", "timeout", "huge", "huge-streamed"],
)
def test_a_bad_fetch_keeps_the_last_good_rows_and_records_the_error(
    feeds, mechanic, settings, route, message
):
    settings.EXTERNAL_CALENDARS_MAX_BYTES = 20_000
    calendar = refresh(connect(mechanic, feeds.serve("/cal.ics", LUNCH)))
    good = stored(calendar)
    assert good == [(utc(2027, 3, 2, 17), utc(2027, 3, 2, 18))]

    feeds.serve("/cal.ics", route)
    later = NOW + timedelta(minutes=20)
    # The short limit only for the bad fetch: good fetches on a loaded machine keep the
    # default, so the test times out the slow server, not itself.
    settings.EXTERNAL_CALENDARS_TIMEOUT = 0.5
    calendar = refresh(calendar, at=later)
    settings.EXTERNAL_CALENDARS_TIMEOUT = 10
    assert message in calendar.last_error
    assert calendar.last_fetched_at == later
    assert calendar.last_ok_at == NOW  # when it last worked, for the mechanic to see
    assert stored(calendar) == good

    # The next good fetch clears the error.
    feeds.serve("/cal.ics", LUNCH)
    calendar = refresh(calendar, at=later + timedelta(minutes=20))
    assert calendar.last_error == ""
    assert calendar.last_ok_at == later + timedelta(minutes=20)


def test_an_unreachable_server_is_an_error_not_an_exception(mechanic, feeds):
    url = feeds.url("/gone.ics")
    calendar = connect(mechanic, url)
    feeds.httpd.shutdown()
    feeds.httpd.server_close()
    calendar = refresh(calendar)
    assert calendar.last_error == "The calendar server could not be reached."
    assert calendar.last_ok_at is None


def test_an_unchanged_feed_answers_304_and_keeps_its_rows(feeds, mechanic):
    url = feeds.serve("/etag.ics", Route(LUNCH.encode(), headers={"ETag": '"v1"'}))
    calendar = refresh(connect(mechanic, url))
    assert calendar.etag == '"v1"'
    feeds.serve("/etag.ics", Route(b"", status=304, headers={"ETag": '"v1"'}))
    later = NOW + timedelta(minutes=20)
    calendar = refresh(calendar, at=later)
    assert feeds.seen[-1].get("If-None-Match") == '"v1"'
    assert calendar.last_error == "" and calendar.last_ok_at == later
    assert stored(calendar) == [(utc(2027, 3, 2, 17), utc(2027, 3, 2, 18))]


def test_stored_rows_too_short_for_the_horizon_are_fetched_in_full(feeds, mechanic):
    url = feeds.serve("/etag.ics", Route(LUNCH.encode(), headers={"ETag": '"v1"'}))
    calendar = refresh(connect(mechanic, url))
    calendar = refresh(calendar, at=NOW + timedelta(days=2))
    assert "If-None-Match" not in feeds.seen[-1]
    assert calendar.busy_until == NOW + timedelta(days=92)


# ---------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("given", "fetched"),
    [
        (
            "webcal://p23-caldav.icloud.com/published/2/abc",
            "https://p23-caldav.icloud.com/published/2/abc",
        ),
        ("  https://calendar.google.com/x/basic.ics ", "https://calendar.google.com/x/basic.ics"),
        ("http://example.com", "http://example.com/"),
    ],
)
def test_addresses_are_read_as_http_or_https(given, fetched):
    assert calendar_url_clean(given) == fetched


@pytest.mark.parametrize(
    "url",
    ["", "file:///etc/passwd", "ftp://example.com/cal.ics", "https://", "https://u:p@example.com/"],
)
def test_other_addresses_are_refused(url):
    with pytest.raises(InvalidInput):
        calendar_url_clean(url)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.0.0.8", "192.168.1.1", "169.254.169.254", "[::1]"]
)
def test_private_and_loopback_servers_are_refused_unless_allowed(mechanic, settings, host):
    settings.EXTERNAL_CALENDARS_ALLOW_PRIVATE = False
    with pytest.raises(InvalidInput, match="private network"):
        connect(mechanic, f"http://{host}/cal.ics")
    with pytest.raises(FeedError, match="private network"):
        feed_fetch(f"http://{host}/cal.ics")
    assert not ExternalCalendar.objects.exists()


def test_a_saved_address_pointing_to_a_private_server_is_refused_at_fetch_time(
    feeds, mechanic, settings
):
    # Saved while allowed (or DNS changed since): the check runs again on every connection.
    calendar = connect(mechanic, feeds.serve("/cal.ics", LUNCH))
    settings.EXTERNAL_CALENDARS_ALLOW_PRIVATE = False
    calendar = refresh(calendar)
    assert "private network" in calendar.last_error
    assert feeds.hits == {}


def test_a_redirect_to_another_scheme_is_not_followed(feeds, mechanic):
    url = feeds.serve("/move.ics", Route(status=302, headers={"Location": "file:///etc/passwd"}))
    calendar = refresh(connect(mechanic, url))
    assert "redirected" in calendar.last_error


def test_a_redirect_to_a_good_feed_is_followed(feeds, mechanic):
    feeds.serve("/new.ics", LUNCH)
    url = feeds.serve("/old.ics", Route(status=301, headers={"Location": feeds.url("/new.ics")}))
    calendar = refresh(connect(mechanic, url))
    assert calendar.last_error == "" and len(stored(calendar)) == 1


def test_the_same_address_twice_is_a_conflict(feeds, mechanic):
    url = feeds.serve("/cal.ics", LUNCH)
    connect(mechanic, url)
    with pytest.raises(Conflict):
        connect(mechanic, url)


def test_a_mechanic_connects_at_most_ten_calendars(feeds, mechanic):
    for n in range(external.MAX_CALENDARS):
        connect(mechanic, feeds.url(f"/{n}.ics"))
    with pytest.raises(InvalidInput, match="At most"):
        connect(mechanic, feeds.url("/one-more.ics"))


def test_the_address_never_reaches_the_logs(feeds, mechanic, caplog):
    secret = "/calendar/ical/me%40gmail.com/private-0123456789abcdef/basic.ics"
    caplog.set_level(logging.INFO, logger="autodoctor.availability.external")
    calendar = connect(mechanic, feeds.serve(secret, Route(b"no", status=500)))
    refresh(calendar)
    assert caplog.records
    assert all("private-0123" not in record.getMessage() for record in caplog.records)
    assert calendar.url_hint == "http://127.0.0.1/…"


# ---------------------------------------------------------------- busy source and slots


def test_available_slots_leave_out_the_external_busy_time(feeds, mechanic):
    # Tuesdays 09:00–17:00 in Toronto; a lunch 12:00–13:00 in the mechanic's own calendar.
    WeeklyBlock.objects.create(mechanic=mechanic, day_of_week=2, start_minute=540, end_minute=1020)
    day = (utc(2027, 3, 2, 14), utc(2027, 3, 2, 22))
    before = available_slots(mechanic, *day, timedelta(minutes=30), now=NOW)
    assert utc(2027, 3, 2, 17) in [slot.start for slot in before]

    refresh(connect(mechanic, feeds.serve("/lunch.ics", LUNCH)))
    after = available_slots(mechanic, *day, timedelta(minutes=30), now=NOW)
    lunch = Interval(utc(2027, 3, 2, 17), utc(2027, 3, 2, 18))
    assert not [slot for slot in after if slot.overlaps(lunch)]
    assert utc(2027, 3, 2, 16) in [slot.start for slot in after]  # 11:00–11:30, then buffer
    assert len(after) < len(before)


def test_the_busy_source_is_registered_and_reads_one_query(
    feeds, mechanic, django_assert_num_queries
):
    assert external_busy in BUSY_SOURCES
    refresh(connect(mechanic, feeds.serve("/weekly.ics", WEEKLY)))
    other = MechanicFactory()
    window = Interval(NOW, NOW + timedelta(days=30))
    with django_assert_num_queries(1):
        periods = external_busy([mechanic.pk, other.pk], window, now=NOW)
    assert {p.mechanic_id for p in periods} == {mechanic.pk}
    with django_assert_num_queries(1):
        assert len(external_busy(None, window, now=NOW)) == 3


def test_removing_the_calendar_frees_its_time_at_once(feeds, mechanic):
    calendar = refresh(connect(mechanic, feeds.serve("/lunch.ics", LUNCH)))
    external.external_calendar_remove(actor=mechanic.user, calendar_id=calendar.pk)
    assert external_busy([mechanic.pk], Interval(NOW, NOW + timedelta(days=9)), now=NOW) == []


# ---------------------------------------------------------------- the schedule


def test_the_periodic_job_fetches_only_calendars_that_are_due(feeds, mechanic, settings):
    assert (300, "autodoctor.availability.tasks.external_calendars_refresh") in PERIODIC_TASKS
    settings.EXTERNAL_CALENDARS_REFRESH_MINUTES = 15
    first = connect(mechanic, feeds.serve("/a.ics", LUNCH))
    second = connect(mechanic, feeds.serve("/b.ics", LUNCH))
    assert external_calendars_refresh_due(now=NOW) == 2
    assert external_calendars_refresh_due(now=NOW + timedelta(minutes=10)) == 0
    ExternalCalendar.objects.filter(pk=first.pk).update(last_fetched_at=NOW - timedelta(hours=1))
    assert external_calendars_refresh_due(now=NOW + timedelta(minutes=10)) == 1
    assert feeds.hits == {"/a.ics": 2, "/b.ics": 1}
    assert second.pk


def test_refresh_now_twice_within_a_minute_fetches_once(feeds, mechanic):
    calendar = connect(mechanic, feeds.serve("/a.ics", LUNCH))
    assert external_calendar_refresh(calendar_id=calendar.pk, now=NOW) is True
    assert (
        external_calendar_refresh(calendar_id=calendar.pk, now=NOW + timedelta(seconds=30)) is False
    )
    assert feeds.hits == {"/a.ics": 1}
