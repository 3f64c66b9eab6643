"""Privacy (issue 14 item 5, PIPEDA): download my data; delete my account, which
anonymises, keeps the booking and payment records, cancels future bookings through the
normal cancel (refunds, notices) and is refused while a session is live."""

import json
from datetime import timedelta

import pytest
from django.test import Client

from autodoctor.accounts import privacy
from autodoctor.accounts.models import User
from autodoctor.booking import services as booking
from autodoctor.booking.models import Session
from autodoctor.errors import Conflict, InvalidInput
from autodoctor.notifications.models import Notification
from autodoctor.payments.models import CreditEntry, Payment
from autodoctor.payments.services import checkout, credits
from tests.factories import PASSWORD, CustomerFactory, UserFactory, VehicleFactory

from .conftest import NOW, SLOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def casey(db):
    customer = CustomerFactory(
        user__email="casey@example.test", user__full_name="Casey Car", phone="+14165550100"
    )
    VehicleFactory(customer=customer, vin="1M8GDM9AXKP042788")
    return customer.user


@pytest.fixture
def paid_booking(casey, available_mechanic, hold):
    """A scheduled, paid (with credits) session tomorrow."""
    admin = UserFactory(role="admin", is_staff=True)
    credits.credits_grant(customer=casey, amount_cents=5000, note="", granted_by=admin)
    reservation = hold(casey, available_mechanic, start=SLOT)
    checkout.payment_with_credits(customer=casey, reservation_id=reservation.pk, now=NOW)
    session = Session.objects.get(pk=reservation.session_id)
    assert session.status == "scheduled"
    return session


def test_my_data_holds_profile_vehicles_sessions_payments_and_notifications(casey, paid_booking):
    data = privacy.personal_data_export(casey)
    assert data["account"]["email"] == "casey@example.test"
    assert data["customer_profile"]["phone"] == "+14165550100"
    assert data["vehicles"][0]["vin"] == "1M8GDM9AXKP042788"
    assert [s["id"] for s in data["sessions"]] == [paid_booking.pk]
    assert data["payments"][0]["method"] == "credits"
    assert {e["kind"] for e in data["credits"]} == {"grant", "debit"}
    assert data["notifications"] and all(
        "account_link" not in n["facts"] for n in data["notifications"]
    )
    text = json.dumps(data)
    assert "password" not in text and "token_hash" not in text


def test_the_download_is_a_json_file_for_the_signed_in_person(casey, login):
    response = login(casey).get("/accounts/my-data/")
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    assert json.loads(response.content)["account"]["full_name"] == "Casey Car"
    api = login(casey).get("/api/me/export").json()
    assert api["account"]["id"] == casey.pk
    assert Client().get("/api/me/export").status_code == 401


def test_deleting_anonymises_and_keeps_the_records(casey, paid_booking):
    mechanic_user = paid_booking.mechanic.user
    privacy.account_delete(user=casey, password=PASSWORD, now=NOW)
    user = User.objects.get(pk=casey.pk)
    assert user.email == f"deleted-{casey.pk}@deleted.invalid"
    assert (user.full_name, user.is_active, user.has_usable_password()) == (
        "Deleted user",
        False,
        False,
    )
    assert user.customer_profile.phone == "" and not user.customer_profile.vehicles.exists()
    session = Session.objects.get(pk=paid_booking.pk)
    assert session.status == "cancelled" and session.customer_id == casey.pk
    assert Payment.objects.filter(customer=casey).exists()  # the ledger stays
    assert CreditEntry.objects.filter(account__customer=casey, kind="refund").exists()
    # The mechanic is told through the usual cancellation notice.
    assert Notification.objects.filter(recipient=mechanic_user, kind="cancelled").exists()
    assert not Notification.objects.filter(recipient=casey).exists()
    assert not Client().login(email="casey@example.test", password=PASSWORD)


def test_deleting_is_refused_while_a_session_is_live(casey, paid_booking, clock):
    clock.move_to(SLOT)
    booking.session_start(session_id=paid_booking.pk, user=casey, now=SLOT)
    with pytest.raises(Conflict, match="session in progress"):
        privacy.account_delete(user=casey, password=PASSWORD, now=SLOT)
    assert User.objects.get(pk=casey.pk).is_active
    assert Session.objects.get(pk=paid_booking.pk).status == "live"


def test_deleting_needs_the_password(casey):
    with pytest.raises(InvalidInput) as refused:
        privacy.account_delete(user=casey, password="wrong", now=NOW)
    assert refused.value.data["field"] == "password"
    assert User.objects.get(pk=casey.pk).is_active


def test_an_owner_with_staff_cannot_delete_before_handing_over(db):
    from tests.factories import WorkshopFactory

    shop = WorkshopFactory()
    shop.staff.add(UserFactory(role="workshop_staff"))
    with pytest.raises(Conflict, match="hand it over"):
        privacy.account_delete(user=shop.owner, password=PASSWORD, now=NOW)


def test_the_delete_page_lists_what_will_be_cancelled_then_deletes(casey, paid_booking, login):
    client = login(casey)
    page = client.get("/accounts/delete/").content.decode()
    assert "These bookings will be cancelled" in page and f"#{paid_booking.pk}" in page
    assert "(America/Toronto)" in page
    wrong = client.post("/accounts/delete/", {"password": "nope"})
    assert wrong.status_code == 422 and "not your password" in wrong.content.decode()
    done = client.post("/accounts/delete/", {"password": PASSWORD})
    assert "Your account is deleted" in done.content.decode()
    assert client.get("/profile/").status_code == 302


def test_the_delete_page_explains_a_refusal(casey, paid_booking, login, clock):
    clock.move_to(SLOT + timedelta(minutes=1))
    booking.session_start(session_id=paid_booking.pk, user=casey, now=SLOT + timedelta(minutes=1))
    page = login(casey).get("/accounts/delete/")
    assert page.status_code == 409 and "session in progress" in page.content.decode()


def test_api_delete(casey, login):
    client = login(casey)
    bad = client.post("/api/me/delete", {"password": "x"}, content_type="application/json")
    assert (bad.status_code, bad.json()["field"]) == (422, "password")
    ok = client.post("/api/me/delete", {"password": PASSWORD}, content_type="application/json")
    assert ok.status_code == 200
    assert not User.objects.get(pk=casey.pk).is_active
