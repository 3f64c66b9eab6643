"""Pages and the calendar endpoints: who may see what."""

from datetime import timedelta

import pytest
from django.test import Client
from icalendar import Calendar

from autodoctor.availability.models import TimeOff, TimeOffStatus
from autodoctor.notifications.models import Notification, NotificationPreference
from autodoctor.notifications.services import feed_regenerate
from tests.factories import CustomerFactory, MechanicFactory, UserFactory

from .conftest import SITE, SLOT

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- centre


def test_centre_lists_my_messages_in_my_zone_and_marks_them_read(
    login, book, booking_customer, available_mechanic
):
    session = book(booking_customer, available_mechanic)
    client = login(booking_customer)
    page = client.get("/notifications/").content.decode()
    assert "Confirmed: video session Tue 1 Dec 2026, 10:00 EST (America/Toronto)" in page
    # Written at NOW (12:00 UTC): listed at the reader's local time with the zone's name.
    assert "Mon 30 Nov 2026, 07:00 EST" in page and "12:00 UTC" not in page
    assert f"/booking/sessions/{session.pk}/" in page
    assert "Mark all 1 read" in page
    assert client.get("/notifications/badge/").content.decode().count(">1<") == 1
    notification = Notification.objects.get(recipient=booking_customer)
    fragment = client.post(
        f"/notifications/{notification.pk}/read/", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "Mark read" not in fragment.content.decode()
    assert "Mon 30 Nov 2026, 07:00 EST" in fragment.content.decode()
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert client.get("/notifications/badge/").content.decode().strip() == ""


def test_mark_all_read(login, book, booking_customer, available_mechanic):
    book(booking_customer, available_mechanic)
    client = login(available_mechanic.user)
    client.post("/notifications/read-all/")
    assert not Notification.objects.filter(
        recipient=available_mechanic.user, read_at__isnull=True
    ).exists()


def test_someone_elses_notification_cannot_be_marked(
    login, book, booking_customer, available_mechanic
):
    book(booking_customer, available_mechanic)
    theirs = Notification.objects.get(recipient=booking_customer)
    response = login(CustomerFactory().user).post(
        f"/notifications/{theirs.pk}/read/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_header_polls_the_unread_badge(login, booking_customer):
    page = login(booking_customer).get("/notifications/").content.decode()
    assert 'hx-get="/notifications/badge/"' in page
    assert 'hx-trigger="load, every 30s"' in page


def test_anonymous_gets_no_badge_and_no_centre():
    assert Client().get("/notifications/badge/").status_code == 204
    assert Client().get("/notifications/").status_code == 302


# --------------------------------------------------------------------------- preferences


def test_preferences_form_saves_choices(login, booking_customer):
    client = login(booking_customer)
    page = client.get("/notifications/settings/").content.decode()
    assert "+14165550100" in page  # SMS would go to the number on file
    client.post("/notifications/settings/", {"email_enabled": "on", "sms_enabled": "on"})
    prefs = NotificationPreference.objects.get(user=booking_customer)
    assert (prefs.email_enabled, prefs.sms_enabled, prefs.remind_24h, prefs.remind_1h) == (
        True,
        True,
        False,
        False,
    )


def test_feed_url_is_created_regenerated_and_revoked_from_the_settings_page(
    login, booking_customer
):
    client = login(booking_customer)
    assert "Create my feed address" in client.get("/notifications/settings/").content.decode()
    client.post("/notifications/settings/feed/regenerate/")
    first = _feed_url(client)
    assert first.startswith(f"{SITE}/notifications/feed/") and first.endswith(".ics")
    assert Client().get(first.removeprefix(SITE)).status_code == 200
    client.post("/notifications/settings/feed/regenerate/")
    second = _feed_url(client)
    assert second != first
    assert Client().get(first.removeprefix(SITE)).status_code == 404  # the old one is dead
    assert Client().get(second.removeprefix(SITE)).status_code == 200
    client.post("/notifications/settings/feed/revoke/")
    assert Client().get(second.removeprefix(SITE)).status_code == 404
    assert "Create my feed address" in client.get("/notifications/settings/").content.decode()


def _feed_url(client) -> str:
    page = client.get("/notifications/settings/").content.decode()
    start = page.index('id="feed-url"')
    value = page.index('value="', start) + len('value="')
    return page[value : page.index('"', value)]


def test_feed_rejects_a_wrong_or_forged_token(booking_customer):
    token = feed_regenerate(user=booking_customer)
    key, signature = token.rsplit(".", 1)
    for bad in ["nonsense", f"{key}.{'A' * len(signature)}", f"{key}x.{signature}", key]:
        assert Client().get(f"/notifications/feed/{bad}.ics").status_code == 404


def test_stored_key_alone_is_not_a_working_feed_address(booking_customer):
    feed_regenerate(user=booking_customer)
    key = NotificationPreference.objects.get(user=booking_customer).feed_key
    assert Client().get(f"/notifications/feed/{key}.ics").status_code == 404


def test_feed_lists_upcoming_sessions_and_a_mechanics_approved_time_off(
    book, booking_customer, available_mechanic
):
    session = book(booking_customer, available_mechanic)
    TimeOff.objects.create(
        mechanic=available_mechanic,
        starts_at=SLOT + timedelta(days=3),
        ends_at=SLOT + timedelta(days=4),
        reason="Dentist",
        status=TimeOffStatus.APPROVED,
    )
    TimeOff.objects.create(
        mechanic=available_mechanic,
        starts_at=SLOT + timedelta(days=5),
        ends_at=SLOT + timedelta(days=6),
        status=TimeOffStatus.DECLINED,
    )
    mechanic_feed = _feed(available_mechanic.user)
    assert str(mechanic_feed["X-WR-CALNAME"]).startswith("Auto Doctor")
    assert "METHOD" not in mechanic_feed
    summaries = sorted(str(e["SUMMARY"]) for e in mechanic_feed.events)
    assert summaries == [
        f"Auto Doctor video session with {booking_customer}",
        "Time off: Dentist",
    ]
    [event] = _feed(booking_customer).events
    assert str(event["UID"]) == f"session-{session.pk}@autodoctor"
    assert event.start == SLOT


def _feed(user) -> Calendar:
    response = Client().get(f"/notifications/feed/{feed_regenerate(user=user)}.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def test_feed_of_a_deactivated_user_is_gone(booking_customer):
    token = feed_regenerate(user=booking_customer)
    booking_customer.is_active = False
    booking_customer.save()
    assert Client().get(f"/notifications/feed/{token}.ics").status_code == 404


# --------------------------------------------------------------------------- calendar.ics API


def test_session_calendar_is_served_to_both_parties(
    login, book, booking_customer, available_mechanic
):
    session = book(booking_customer, available_mechanic)
    for party in (booking_customer, available_mechanic.user):
        response = login(party).get(f"/api/sessions/{session.pk}/calendar.ics")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        calendar = Calendar.from_ical(response.content)
        assert str(calendar["METHOD"]) == "PUBLISH"
        [event] = calendar.events
        assert str(event["UID"]) == f"session-{session.pk}@autodoctor"
        assert event.start == SLOT


def test_session_calendar_is_404_for_strangers_and_admins_and_401_for_anonymous(
    login, book, booking_customer, available_mechanic
):
    session = book(booking_customer, available_mechanic)
    url = f"/api/sessions/{session.pk}/calendar.ics"
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    for outsider in (CustomerFactory().user, MechanicFactory().user, admin):
        response = login(outsider).get(url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert login(booking_customer).get("/api/sessions/999999/calendar.ics").status_code == 404
    response = Client().get(url)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_session_calendar_works_with_an_api_token(book, booking_customer, available_mechanic):
    from autodoctor.accounts.services import api_token_create

    session = book(booking_customer, available_mechanic)
    raw = api_token_create(user=booking_customer, name="calendar").raw
    response = Client().get(
        f"/api/sessions/{session.pk}/calendar.ics", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 200


def test_admin_outbox_lists_filters_and_retries_failed(
    login, admin_user, book, booking_customer, available_mechanic
):
    from autodoctor.notifications.models import OutboxMessage, OutboxStatus

    book(booking_customer, available_mechanic)
    OutboxMessage.objects.update(status=OutboxStatus.FAILED, last_error="SMTP down")
    client = login(admin_user)
    for url in [
        "/admin/notifications/outboxmessage/",
        "/admin/notifications/outboxmessage/?status__exact=failed&channel__exact=email",
        f"/admin/notifications/outboxmessage/{OutboxMessage.objects.first().pk}/change/",
        "/admin/notifications/notification/",
        "/admin/notifications/notificationpreference/",
    ]:
        assert client.get(url).status_code == 200, url
    ids = list(OutboxMessage.objects.values_list("pk", flat=True))
    client.post(
        "/admin/notifications/outboxmessage/",
        {"action": "retry_failed", "_selected_action": ids},
    )
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"pending"}


@pytest.mark.parametrize("model", ["notification", "outboxmessage", "notificationpreference"])
def test_a_notifications_admin_list_costs_the_same_for_one_row_as_for_five(
    login, admin_user, book, available_mechanic, model
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/admin/notifications/{model}/").status_code == 200
        return len(queries.captured_queries)

    def book_one(i: int) -> None:
        customer = CustomerFactory().user
        NotificationPreference.objects.create(user=customer)
        book(customer, available_mechanic, start=SLOT + timedelta(minutes=45 * i))

    client = login(admin_user)
    book_one(0)
    one = list_queries()
    for i in range(1, 5):
        book_one(i)
    assert list_queries() == one
