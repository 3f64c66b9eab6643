"""Messages about workshop visits: each workshop event tells the right people (outbox
rows), once however often it is replayed; the calendar files are at the workshop's
address in the workshop's zone; the 24 h / 1 h reminders; hostile workshop text."""

from datetime import timedelta

import pytest
from django.core import mail
from icalendar import Calendar

from autodoctor.notifications.events import on_visit_event
from autodoctor.notifications.models import Notification, NotificationPreference, OutboxMessage
from autodoctor.notifications.outbox import outbox_send_due
from autodoctor.notifications.reminders import reminders_enqueue
from autodoctor.notifications.rendering import message_render
from autodoctor.notifications.selectors import centre_entry
from autodoctor.workshops import services
from autodoctor.workshops.models import VisitEvent
from autodoctor.workshops.services import VisitRequest
from tests.factories import UserFactory
from tests.workshops import conftest as workshop_fixtures

from .conftest import NOW, SITE

pytestmark = pytest.mark.django_db

workshop = workshop_fixtures.workshop
shop_mechanic = workshop_fixtures.shop_mechanic
completed_session = workshop_fixtures.completed_session
TUESDAY_10, HOUR = workshop_fixtures.TUESDAY_10, workshop_fixtures.HOUR
ADDRESS = "12 King St W, Toronto, M5V 2T6"


@pytest.fixture
def requested(workshop, completed_session, clock):
    """requested(start=TUESDAY_10) -> a fresh visit request of a new customer."""

    def make(start=TUESDAY_10):
        session = completed_session()
        return services.visit_request_from_session(
            customer=session.customer,
            session_id=session.pk,
            request=VisitRequest(workshop_id=workshop.pk, starts_at=start),
            now=NOW,
        )

    return make


@pytest.fixture
def confirmed(requested, workshop, shop_mechanic):
    """A confirmed visit at TUESDAY_10 with the shop's mechanic assigned."""
    visit = requested()
    return services.visit_confirm(
        user=workshop.staff_user, visit_id=visit.pk, mechanic_id=shop_mechanic.pk, now=NOW
    )


def sent(kind=None, **filters):
    """{(kind, recipient email, role)} of the visit messages written so far."""
    qs = Notification.objects.filter(kind__startswith="visit_", **filters)
    if kind:
        qs = qs.filter(kind=kind)
    return {(n.kind, n.recipient.email, n.context["role"]) for n in qs}


def latest(kind, recipient):
    return Notification.objects.filter(kind=kind, recipient=recipient).latest("pk")


def invite(kind, recipient):
    notification = latest(kind, recipient)
    method, data = message_render(notification).calendar
    calendar = Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == method
    [event] = calendar.events
    return calendar, event, data.decode()


def test_a_request_tells_the_workshop_owner_and_staff_and_the_customer(requested, workshop):
    visit = requested()
    assert sent() == {
        ("visit_new_request", workshop.owner.email, "workshop"),
        ("visit_new_request", workshop.staff_user.email, "workshop"),
        ("visit_requested", visit.customer.email, "customer"),
    }
    assert all(n.session is None for n in Notification.objects.all())
    assert {n.context["visit_id"] for n in Notification.objects.all()} == {visit.pk}
    rendered = message_render(latest("visit_new_request", workshop.staff_user))
    assert rendered.subject.startswith("New visit request")
    assert f"{SITE}/workshops/visits/{visit.pk}/" in rendered.body
    assert rendered.calendar is None  # the workshop's board is its agenda
    customer = message_render(latest("visit_requested", visit.customer))
    assert "answers by Tue 1 Dec 2026, 07:00 EST (America/Toronto)" in customer.body
    assert OutboxMessage.objects.filter(channel="email").count() == 3


def test_replaying_an_event_writes_nothing_twice(confirmed):
    before = (Notification.objects.count(), OutboxMessage.objects.count())
    for event in VisitEvent.objects.filter(visit=confirmed):
        on_visit_event(event)
        on_visit_event(event)
    assert (Notification.objects.count(), OutboxMessage.objects.count()) == before


def test_confirmation_invites_customer_and_mechanic_at_the_workshop_in_its_zone(
    confirmed, shop_mechanic
):
    assert sent("visit_confirmed") == {
        ("visit_confirmed", confirmed.customer.email, "customer"),
        ("visit_confirmed", shop_mechanic.user.email, "mechanic"),
    }
    calendar, event, raw = invite("visit_confirmed", confirmed.customer)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == f"visit-{confirmed.pk}@autodoctor"
    assert str(event["LOCATION"]) == ADDRESS
    assert str(event["URL"]) == f"{SITE}/workshops/visits/{confirmed.pk}/"
    assert event["DTSTART"].params["TZID"] == "America/Toronto"
    assert "DTSTART;TZID=America/Toronto:20261201T100000" in raw
    assert event.start == TUESDAY_10 and event.end == TUESDAY_10 + HOUR
    assert [tz.tz_name for tz in calendar.timezones] == ["America/Toronto"]
    assert calendar.get_missing_tzids() == set()
    assert event.sequence == 0
    assert {a.email for a in event.attendees} == {
        confirmed.customer.email,
        shop_mechanic.user.email,
    }
    [alarm] = event.subcomponents
    assert alarm["TRIGGER"].dt == timedelta(hours=-1)
    _, mechanic_event, _ = invite("visit_confirmed", shop_mechanic.user)
    assert "for " in str(mechanic_event["SUMMARY"])  # worded for the mechanic


def test_times_are_shown_in_the_workshops_zone_whatever_the_recipients_zone(requested, workshop):
    visit = requested()
    visit.customer.time_zone = "America/Vancouver"
    visit.customer.save()
    services.visit_confirm(user=workshop.staff_user, visit_id=visit.pk, now=NOW)
    rendered = message_render(latest("visit_confirmed", visit.customer))
    assert "Tue 1 Dec 2026, 10:00 EST (America/Toronto)" in rendered.subject
    assert "visit times are the workshop's local time, America/Toronto" in rendered.body
    assert ADDRESS in rendered.body
    assert "PST" not in rendered.body


def test_counter_offer_gives_the_customer_both_times_and_answer_links(requested, workshop):
    visit = requested()
    services.visit_counter(
        user=workshop.staff_user,
        visit_id=visit.pk,
        starts_at=TUESDAY_10 + 2 * HOUR,
        reason="Both bays are busy at 10",
        now=NOW,
    )
    assert sent("visit_countered") == {("visit_countered", visit.customer.email, "customer")}
    rendered = message_render(latest("visit_countered", visit.customer))
    page = f"{SITE}/workshops/visits/{visit.pk}/"
    assert f"{page}?answer=accept#answer" in rendered.body
    assert f"{page}?answer=decline#answer" in rendered.body
    assert "Offered:   Tue 1 Dec 2026, 12:00 EST (America/Toronto)" in rendered.body
    assert "(Tue 1 Dec 2026, 10:00 EST (America/Toronto))" in rendered.body  # what they asked
    assert "Both bays are busy at 10" in rendered.body
    assert rendered.sms and rendered.calendar is None
    services.visit_counter_accept(customer=visit.customer, visit_id=visit.pk, now=NOW)
    assert sent("visit_confirmed") == {("visit_confirmed", visit.customer.email, "customer")}
    assert ("visit_answered", workshop.staff_user.email, "workshop") in sent("visit_answered")
    _, event, _ = invite("visit_confirmed", visit.customer)
    assert event.start == TUESDAY_10 + 2 * HOUR and event.sequence == 1


def test_declined_counter_tells_the_workshop(requested, workshop):
    visit = requested()
    services.visit_counter(
        user=workshop.staff_user, visit_id=visit.pk, starts_at=TUESDAY_10 + HOUR, now=NOW
    )
    services.visit_counter_decline(customer=visit.customer, visit_id=visit.pk, now=NOW)
    body = message_render(latest("visit_answered", workshop.owner)).body
    assert "declined the time you offered" in body


def test_decline_tells_the_customer_why(requested, workshop):
    visit = requested()
    services.visit_decline(
        user=workshop.staff_user, visit_id=visit.pk, reason="No lift for vans", now=NOW
    )
    assert sent("visit_declined") == {("visit_declined", visit.customer.email, "customer")}
    assert (
        "Reason:  No lift for vans" in message_render(latest("visit_declined", visit.customer)).body
    )


def test_expiry_tells_the_customer_and_the_staff(requested, workshop):
    visit = requested()
    services.visits_expire(now=NOW + timedelta(hours=25))
    assert sent("visit_expired") == {("visit_expired", visit.customer.email, "customer")}
    assert sent("visit_lapsed") == {
        ("visit_lapsed", workshop.owner.email, "workshop"),
        ("visit_lapsed", workshop.staff_user.email, "workshop"),
    }


def test_workshop_reschedule_raises_the_sequence_for_customer_and_mechanic(
    confirmed, workshop, shop_mechanic
):
    services.visit_reschedule(
        user=workshop.staff_user, visit_id=confirmed.pk, starts_at=TUESDAY_10 + 3 * HOUR, now=NOW
    )
    assert sent("visit_rescheduled") == {
        ("visit_rescheduled", confirmed.customer.email, "customer"),
        ("visit_rescheduled", shop_mechanic.user.email, "mechanic"),
    }
    _, first, _ = invite("visit_confirmed", confirmed.customer)
    calendar, moved, _ = invite("visit_rescheduled", confirmed.customer)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert moved["UID"] == first["UID"]
    assert moved.sequence == first.sequence + 1 == 1
    assert moved.start == TUESDAY_10 + 3 * HOUR
    body = message_render(latest("visit_rescheduled", confirmed.customer)).body
    assert "Was:       Tue 1 Dec 2026, 10:00 EST (America/Toronto)" in body
    assert Notification.objects.filter(kind="visit_new_request").count() == 2  # the request's


def test_customer_move_asks_the_workshop_and_frees_the_mechanic(confirmed, workshop, shop_mechanic):
    requests_before = Notification.objects.filter(kind="visit_new_request").count()
    services.visit_reschedule(
        user=confirmed.customer, visit_id=confirmed.pk, starts_at=TUESDAY_10 + HOUR, now=NOW
    )
    new = Notification.objects.filter(kind="visit_new_request").order_by("pk")[requests_before:]
    assert {n.recipient for n in new} == {workshop.owner, workshop.staff_user}
    assert "asks to move" in message_render(new[0]).body
    assert not sent("visit_rescheduled")  # not confirmed yet: no calendar change
    calendar, event, _ = invite("visit_unassigned", shop_mechanic.user)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == f"visit-{confirmed.pk}@autodoctor"


def test_workshop_cancel_sends_calendar_cancel_to_customer_and_mechanic(
    confirmed, workshop, shop_mechanic
):
    services.visit_cancel(
        user=workshop.staff_user, visit_id=confirmed.pk, reason="Flooded shop", now=NOW
    )
    calendar, event, _ = invite("visit_cancelled", confirmed.customer)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.sequence == 1  # one above the last REQUEST (0)
    assert str(event["LOCATION"]) == ADDRESS
    assert not event.subcomponents  # no alarm for a cancelled visit
    assert (
        "Reason:          Flooded shop"
        in message_render(latest("visit_cancelled", confirmed.customer)).body
    )
    assert ("visit_unassigned", shop_mechanic.user.email, "mechanic") in sent("visit_unassigned")
    assert not sent("visit_customer_cancelled")


def test_customer_cancel_tells_the_workshop_not_the_customer(confirmed, workshop):
    services.visit_cancel(
        user=confirmed.customer, visit_id=confirmed.pk, reason="Fixed it myself", now=NOW
    )
    assert sent("visit_customer_cancelled") == {
        ("visit_customer_cancelled", workshop.owner.email, "workshop"),
        ("visit_customer_cancelled", workshop.staff_user.email, "workshop"),
    }
    assert not sent("visit_cancelled")


def test_assignment_invites_the_new_mechanic_and_cancels_for_the_previous(
    confirmed, workshop, shop_mechanic
):
    from tests.factories import MechanicFactory

    other = MechanicFactory(
        workshop=workshop,
        account_type=shop_mechanic.account_type,
        partnership_type=shop_mechanic.partnership_type,
    )
    services.visit_assign(
        user=workshop.staff_user, visit_id=confirmed.pk, mechanic_id=other.pk, now=NOW
    )
    assert sent("visit_assigned") == {("visit_assigned", other.user.email, "mechanic")}
    calendar, _, _ = invite("visit_assigned", other.user)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert sent("visit_unassigned") == {("visit_unassigned", shop_mechanic.user.email, "mechanic")}


def test_completion_carries_the_notes_and_a_no_show_is_told(confirmed, requested, workshop):
    staff = workshop.staff_user
    services.visit_check_in(user=staff, visit_id=confirmed.pk, now=TUESDAY_10)
    services.visit_complete(
        user=staff, visit_id=confirmed.pk, notes="Pads and rotors replaced", now=TUESDAY_10 + HOUR
    )
    body = message_render(latest("visit_completed", confirmed.customer)).body
    assert "Pads and rotors replaced" in body
    other = requested(TUESDAY_10 + 2 * HOUR)
    services.visit_confirm(user=staff, visit_id=other.pk, now=NOW)
    services.visit_no_show(user=staff, visit_id=other.pk, now=TUESDAY_10 + 3 * HOUR)
    assert sent("visit_no_show") == {("visit_no_show", other.customer.email, "customer")}
    assert not Notification.objects.filter(context__event="checked_in").exists()


def test_the_notification_centre_links_to_the_visit(requested):
    visit = requested()
    entry = centre_entry(latest("visit_requested", visit.customer))
    assert entry.link == f"{SITE}/workshops/visits/{visit.pk}/"


def test_the_outbox_sends_them_with_the_invite_attached(confirmed, shop_mechanic):
    outbox_send_due(now=NOW + timedelta(minutes=1))
    to_customer = [m for m in mail.outbox if confirmed.customer.email in m.to[0]]
    [confirmation] = [m for m in to_customer if m.subject.startswith("Confirmed")]
    [ics] = [a for a in confirmation.attachments if a.get_filename() == "appointment.ics"]
    assert b"LOCATION:12 King St W\\, Toronto\\, M5V 2T6" in ics.get_payload(decode=True)


def test_a_request_message_is_skipped_once_the_workshop_answered(requested, workshop):
    visit = requested()
    services.visit_confirm(user=workshop.staff_user, visit_id=visit.pk, now=NOW)
    outbox_send_due(now=NOW + timedelta(minutes=1))
    skipped = OutboxMessage.objects.get(
        notification__kind="visit_new_request", notification__recipient=workshop.owner
    )
    assert skipped.status == "skipped" and "the visit is confirmed" in skipped.last_error


# --------------------------------------------------------------------------- reminders

DUE_24H = TUESDAY_10 - timedelta(hours=24)
DUE_1H = TUESDAY_10 - timedelta(hours=1)


def visit_reminders(kind=None):
    qs = Notification.objects.filter(kind__startswith="visit_reminder_")
    return qs.filter(kind=kind) if kind else qs


@pytest.fixture
def confirmed_early(requested, workshop, shop_mechanic, clock):
    """Confirmed two days ahead, so both reminders are armed."""
    clock.move_to(NOW - timedelta(days=2))
    visit = requested()
    visit = services.visit_confirm(
        user=workshop.staff_user,
        visit_id=visit.pk,
        mechanic_id=shop_mechanic.pk,
        now=NOW - timedelta(days=2),
    )
    clock.move_to(NOW)
    return visit


def test_visit_reminders_are_due_at_their_time_once_per_party(confirmed_early, shop_mechanic):
    assert reminders_enqueue(now=DUE_24H - timedelta(minutes=1)) == 0
    assert reminders_enqueue(now=DUE_24H + timedelta(minutes=1)) == 2
    assert reminders_enqueue(now=DUE_24H + timedelta(minutes=3)) == 0
    assert {(n.recipient, n.context["role"]) for n in visit_reminders("visit_reminder_24h")} == {
        (confirmed_early.customer, "customer"),
        (shop_mechanic.user, "mechanic"),
    }
    assert reminders_enqueue(now=DUE_1H - timedelta(minutes=1)) == 0
    assert reminders_enqueue(now=DUE_1H + timedelta(minutes=5)) == 2
    body = message_render(visit_reminders("visit_reminder_1h").first()).body
    assert ADDRESS in body and "(America/Toronto)" in body
    assert reminders_enqueue(now=DUE_1H + timedelta(minutes=30)) == 0


def test_no_visit_reminder_past_its_grace_or_for_a_request(requested, confirmed_early):
    requested(TUESDAY_10 + HOUR)  # a request: never reminded
    assert reminders_enqueue(now=DUE_24H + timedelta(hours=3)) == 0  # past the 2 h grace
    assert not visit_reminders().exists()


def test_a_visit_confirmed_after_the_moment_gets_no_24h_reminder(confirmed):
    # confirmed at NOW (Mon 12:00 UTC), 24 h mark is Mon 15:00 UTC: would be due...
    assert reminders_enqueue(now=DUE_24H + timedelta(minutes=1)) == 2  # ...and it was armed
    Notification.objects.filter(kind__startswith="visit_reminder").delete()
    VisitEvent.objects.filter(visit=confirmed).update(created_at=DUE_24H + timedelta(seconds=1))
    assert reminders_enqueue(now=DUE_24H + timedelta(minutes=2)) == 0


def test_preferences_and_cancellation_stop_visit_reminders(confirmed_early, workshop):
    NotificationPreference.objects.update_or_create(
        user=confirmed_early.customer, defaults={"remind_24h": False}
    )
    assert reminders_enqueue(now=DUE_24H + timedelta(minutes=1)) == 1  # the mechanic's
    reminders_enqueue(now=DUE_1H + timedelta(minutes=1))
    services.visit_cancel(user=workshop.staff_user, visit_id=confirmed_early.pk, now=DUE_1H)
    outbox_send_due(now=DUE_1H + timedelta(minutes=2))
    rows = OutboxMessage.objects.filter(notification__kind="visit_reminder_1h")
    assert rows and {r.status for r in rows} == {"skipped"}


def test_a_move_re_arms_visit_reminders_for_the_new_time(confirmed_early, workshop, clock):
    reminders_enqueue(now=DUE_24H + timedelta(minutes=1))
    clock.move_to(DUE_24H + timedelta(minutes=5))
    services.visit_reschedule(
        user=workshop.staff_user,
        visit_id=confirmed_early.pk,
        starts_at=TUESDAY_10 + 24 * HOUR,
        now=DUE_24H + timedelta(minutes=5),
    )
    outbox_send_due(now=DUE_24H + timedelta(minutes=6))
    old = OutboxMessage.objects.filter(notification__kind="visit_reminder_24h")
    assert {r.status for r in old} == {"skipped"}  # the old time's reminders
    assert reminders_enqueue(now=DUE_24H + timedelta(hours=24, minutes=1)) == 2
    keys = set(visit_reminders("visit_reminder_24h").values_list("dedupe_key", flat=True))
    assert len(keys) == 4 and sum(":s1" in key for key in keys) == 2


# --------------------------------------------------------------------------- hostile text

HOSTILE_NAME = "Evil Garage\r\nBcc: spy@evil.test"
HOSTILE_ADDRESS = "1 Main St\r\nATTENDEE:mailto:spy@evil.test"
HOSTILE_NOTES = "Done.\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:pwned"


def test_hostile_workshop_text_cannot_inject_headers_or_calendar_lines(confirmed, workshop, clock):
    workshop.name, workshop.address = HOSTILE_NAME, HOSTILE_ADDRESS
    workshop.save()
    services.visit_reschedule(
        user=workshop.staff_user, visit_id=confirmed.pk, starts_at=TUESDAY_10 + HOUR, now=NOW
    )
    services.visit_check_in(user=workshop.staff_user, visit_id=confirmed.pk, now=TUESDAY_10 + HOUR)
    services.visit_complete(
        user=workshop.staff_user, visit_id=confirmed.pk, notes=HOSTILE_NOTES, now=TUESDAY_10 + HOUR
    )
    outbox_send_due(now=NOW + timedelta(minutes=1))
    moved = [m for m in mail.outbox if m.subject.startswith("Moved")]
    assert moved
    for message in mail.outbox:
        parsed = message.message()
        assert parsed.get_all("Bcc") is None
        assert "\r" not in message.subject and "\n" not in message.subject
        assert "spy@evil.test" not in set(message.recipients())
    for message in moved:
        [ics] = [a for a in message.attachments if a.get_filename() == "appointment.ics"]
        raw = ics.get_payload(decode=True).decode()
        lines = raw.replace("\r\n ", "").split("\r\n")
        assert not any(line.startswith("ATTENDEE:mailto:spy") for line in lines)
        assert sum(line == "END:VEVENT" for line in lines) == 1
        [event] = Calendar.from_ical(raw).events
        assert "spy@evil.test" in str(event["LOCATION"])  # kept as text, inside
        assert all("spy" not in str(a) for a in event.attendees)
    completed = [m for m in mail.outbox if m.subject.startswith("Done")]
    assert completed and "SUMMARY:pwned" in completed[0].body  # plain text, no calendar
    assert not [a for a in completed[0].attachments if a.get_filename() == "appointment.ics"]


def test_someone_outside_the_workshop_hears_nothing(requested):
    outsider = UserFactory()
    requested()
    assert not Notification.objects.filter(recipient=outsider).exists()
