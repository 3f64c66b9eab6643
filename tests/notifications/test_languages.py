"""Notifications go out in the RECIPIENT's language (User.language), never the actor's:
subject, body, SMS and the calendar file, with French day and month names and the zone
still named."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import translation
from icalendar import Calendar

from autodoctor.booking import services as booking
from autodoctor.notifications.models import Notification
from autodoctor.notifications.outbox import outbox_send_due
from autodoctor.notifications.rendering import message_render

from .conftest import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """A request activates its user's language for the thread; later tests expect none."""
    yield
    translation.deactivate()


def _speaks(user, language):
    user.language = language
    user.save(update_fields=["language"])


def test_a_french_customer_and_an_english_mechanic_each_get_their_own_language(
    book, booking_customer, available_mechanic
):
    _speaks(booking_customer, "fr-ca")
    _speaks(available_mechanic.user, "en-ca")
    # The customer books with French active (their request): the mechanic still reads English.
    with translation.override("fr-ca"):
        book(booking_customer, available_mechanic)
    outbox_send_due(now=NOW + timedelta(minutes=2))
    customer_mail = next(m for m in mail.outbox if booking_customer.email in m.to[0])
    mechanic_mail = next(m for m in mail.outbox if available_mechanic.user.email in m.to[0])

    assert customer_mail.subject.startswith("Confirmée : séance")
    assert "mar 1 déc 2026, 10:00 EST (America/Toronto)" in customer_mail.subject
    assert "Bonjour" in customer_mail.body and "est confirmée." in customer_mail.body
    assert "Quand :    mar 1 déc 2026, 10:00 EST (America/Toronto)" in customer_mail.body
    assert "fuseau horaire, America/Toronto" in customer_mail.body
    assert "Hello" not in customer_mail.body and "Tue 1 Dec" not in customer_mail.body

    assert mechanic_mail.subject.startswith("Confirmed: ")
    assert "Tue 1 Dec 2026, 10:00 EST (America/Toronto)" in mechanic_mail.subject
    assert "You have a new booking" in mechanic_mail.body
    assert "Bonjour" not in mechanic_mail.body and "déc" not in mechanic_mail.body


def test_the_calendar_file_is_worded_in_the_recipients_language(
    book, booking_customer, available_mechanic
):
    _speaks(booking_customer, "fr-ca")
    book(booking_customer, available_mechanic)
    french = Notification.objects.get(kind="confirmation", recipient=booking_customer)
    english = Notification.objects.get(kind="confirmation", recipient=available_mechanic.user)

    def event(notification):
        method, data = message_render(notification).calendar
        assert method == "REQUEST"
        return next(c for c in Calendar.from_ical(data).walk("VEVENT"))

    fr, en = event(french), event(english)
    assert str(fr["SUMMARY"]).startswith("Séance Auto Doctor")
    assert "Problème : " in str(fr["DESCRIPTION"]) and "Se joindre : " in str(fr["DESCRIPTION"])
    assert str(en["SUMMARY"]).startswith("Auto Doctor ") and "session with" in str(en["SUMMARY"])
    assert "Concern: " in str(en["DESCRIPTION"])
    # Same event for both: only the words differ.
    assert fr["UID"] == en["UID"] and fr["SEQUENCE"] == en["SEQUENCE"]


def test_an_sms_text_is_in_the_recipients_language(book, booking_customer, available_mechanic):
    _speaks(booking_customer, "fr-ca")
    session = book(booking_customer, available_mechanic)
    booking.session_cancel(
        session_id=session.pk, user=available_mechanic.user, reason="Malade", now=NOW
    )
    to_customer = Notification.objects.get(kind="cancelled", recipient=booking_customer)
    to_mechanic = Notification.objects.get(kind="cancelled", recipient=available_mechanic.user)
    french, english = message_render(to_customer).sms, message_render(to_mechanic).sms
    assert french.startswith("Auto Doctor : votre séance") and "est annulée." in french
    assert "du mar 1 déc 2026, 10:00 EST" in french and "Motif : Malade" in french
    assert english.startswith("Auto Doctor: your ") and "is cancelled." in english


def test_the_notification_centre_shows_messages_in_the_viewers_language(
    login, book, booking_customer, available_mechanic
):
    _speaks(booking_customer, "fr-ca")
    book(booking_customer, available_mechanic)
    page = login(booking_customer).get("/notifications/").content.decode()
    assert "Confirmée : séance" in page and "mar 1 déc 2026" in page
    assert "Marquer les" in page or "Marquer comme lu" in page


def test_the_preferences_page_is_in_french(login, booking_customer):
    _speaks(booking_customer, "fr-ca")
    page = login(booking_customer).get("/notifications/settings/").content.decode()
    assert "Préférences de notification" in page and "Flux de calendrier" in page
    assert "Enregistrer les préférences" in page


def test_labels_in_the_facts_are_stored_in_english_whoever_acted(
    book, booking_customer, available_mechanic
):
    """The snapshot is shared by every recipient: it must not carry the actor's language."""
    _speaks(booking_customer, "fr-ca")
    with translation.override("fr-ca"):
        session = book(booking_customer, available_mechanic)
    notification = Notification.objects.get(kind="confirmation", recipient=available_mechanic.user)
    with translation.override(None):
        assert notification.context["type"] == session.get_type_display()
