"""Sign-up, email verification and "book only after verifying" (issue 14 item 1)."""

from datetime import timedelta

import pytest
from django.test import Client

from autodoctor.accounts import registration
from autodoctor.accounts.models import CustomerProfile, EmailVerification, MechanicProfile, User
from autodoctor.accounts.services import token_digest
from autodoctor.booking import services as booking
from autodoctor.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound
from autodoctor.notifications.models import Notification

from .conftest import NOW, STRONG, deliver, link_in, path_of

pytestmark = pytest.mark.django_db


def signup(email="casey@example.test", **extra):
    return registration.account_signup(
        email=email, password=STRONG, full_name="Casey Car", now=NOW, **extra
    )


def verification_link() -> str:
    (message,) = [m for m in deliver() if "Confirm your email" in m.subject]
    return link_in(message, "/accounts/verify/")


def test_signup_creates_an_unverified_customer_and_emails_a_confirmation_link():
    outcome = signup(email="  Casey@Example.TEST ", time_zone="America/Vancouver")
    user = outcome.user
    assert outcome.created
    assert user.email == "casey@example.test"
    assert user.time_zone == "America/Vancouver"
    assert user.is_customer and not user.email_verified
    assert CustomerProfile.objects.filter(user=user).exists()
    (message,) = deliver()
    assert message.to == ["Casey Car <casey@example.test>"]
    assert "works once and for 48 hours" in message.body
    assert "/accounts/verify/" in message.body


def test_a_mechanic_signs_up_with_a_pending_profile():
    user = signup(role="mechanic").user
    profile = MechanicProfile.objects.get(user=user)
    assert profile.approval_status == "pending" and profile.applied_at is None
    assert profile.settings is not None


def test_the_link_secret_is_stored_only_hashed():
    signup()
    raw = verification_link().rstrip("/").rsplit("/", 1)[1]
    verification = EmailVerification.objects.get()
    assert verification.token_hash == token_digest(raw)
    every_stored_text = str(list(Notification.objects.values())) + str(
        list(EmailVerification.objects.values())
    )
    assert raw not in every_stored_text


def test_verifying_confirms_the_address_once():
    user = signup().user
    raw = verification_link().rstrip("/").rsplit("/", 1)[1]
    registration.email_verify(token=raw, now=NOW + timedelta(hours=1))
    user.refresh_from_db()
    assert user.email_verified_at == NOW + timedelta(hours=1)
    with pytest.raises(Conflict) as reused:
        registration.email_verify(token=raw, now=NOW + timedelta(hours=2))
    assert reused.value.code == "link_used"


def test_a_link_expires_after_48_hours():
    signup()
    raw = verification_link().rstrip("/").rsplit("/", 1)[1]
    with pytest.raises(DomainError) as expired:
        registration.email_verify(token=raw, now=NOW + timedelta(hours=48))
    assert (expired.value.status, expired.value.code) == (410, "link_expired")
    assert not User.objects.get().email_verified


def test_an_unknown_link_is_not_found():
    with pytest.raises(NotFound):
        registration.email_verify(token="nope", now=NOW)


def test_resend_is_throttled_and_sends_a_new_working_link():
    user = signup().user
    with pytest.raises(DomainError) as too_soon:
        registration.verification_resend(user=user, now=NOW + timedelta(seconds=10))
    assert too_soon.value.status == 429 and too_soon.value.data["retry_after"] == 51
    registration.verification_resend(user=user, now=NOW + timedelta(minutes=2))
    links = [link_in(m, "/accounts/verify/") for m in deliver(NOW + timedelta(minutes=2))]
    assert len(set(links)) == 2
    registration.email_verify(
        token=links[1].rstrip("/").rsplit("/", 1)[1], now=NOW + timedelta(minutes=3)
    )
    user.refresh_from_db()
    assert user.email_verified
    with pytest.raises(Conflict):
        registration.verification_resend(user=user, now=NOW + timedelta(minutes=5))


@pytest.mark.parametrize(
    "variant", ["casey@example.test", "CASEY@example.test", "Casey@EXAMPLE.test"]
)
def test_a_second_signup_with_the_same_email_in_any_case_creates_nothing(variant):
    first = signup().user
    User.objects.filter(pk=first.pk).update(email_verified_at=NOW)
    deliver()
    again = signup(email=variant)
    assert not again.created and again.user.pk == first.pk
    assert User.objects.count() == 1
    notice = deliver()[-1]
    assert notice.subject == "Someone tried to sign up with your email address"
    assert "/accounts/password/reset/" in notice.body


def test_signing_up_again_before_confirming_sends_a_fresh_link_not_a_second_account():
    signup()
    signup(
        email="CASEY@example.test",
    )
    assert User.objects.count() == 1
    assert EmailVerification.objects.count() == 1  # within a minute: no second link
    registration.account_signup(
        email="casey@example.test",
        password=STRONG,
        full_name="Casey",
        now=NOW + timedelta(minutes=5),
    )
    assert EmailVerification.objects.count() == 2


def test_the_database_refuses_the_same_email_in_another_case():
    from django.db import IntegrityError, transaction

    signup()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="CASEY@example.test")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "password"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"password": "casey@example.test"}, "password"),
        ({"full_name": "  "}, "full_name"),
        ({"role": "admin"}, "role"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ],
)
def test_bad_signup_input_names_the_field_and_writes_nothing(changes, field):
    data = {"email": "casey@example.test", "password": STRONG, "full_name": "Casey", **changes}
    with pytest.raises(InvalidInput) as refused:
        registration.account_signup(now=NOW, **data)
    assert refused.value.data["field"] == field
    assert User.objects.count() == 0 and Notification.objects.count() == 0


# --------------------------------------------------------------------------- booking gate


def test_an_unverified_customer_cannot_book_until_the_email_is_confirmed():
    user = signup().user
    with pytest.raises(NotAllowed) as refused:
        booking.intake_validate(customer=user, plan="advice", concern="Brakes squeal loudly")
    assert refused.value.code == "email_unverified"
    raw = verification_link().rstrip("/").rsplit("/", 1)[1]
    registration.email_verify(token=raw, now=NOW)
    user.refresh_from_db()
    booking.intake_validate(customer=user, plan="advice", concern="Brakes squeal loudly")


def test_the_booking_wizard_sends_an_unverified_customer_to_the_verify_page(clock):
    user = signup().user
    client = Client()
    client.force_login(user)
    page = client.get("/booking/", follow=True)
    assert page.redirect_chain[-1][0] == "/accounts/verify/needed/"
    text = page.content.decode()
    assert "Confirm your email first" in text and "casey@example.test" in text
    assert client.get("/booking/new/vehicle/").url == "/accounts/verify/needed/"


def test_the_api_refuses_an_unverified_customer_with_a_clear_code(clock):
    user = signup().user
    client = Client()
    client.force_login(user)
    response = client.post(
        "/api/intake/start",
        {"plan": "advice", "concern": "Brakes squeal loudly"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "email_unverified"


# --------------------------------------------------------------------------- pages and API


def test_the_signup_page_then_the_link_from_the_email_confirms_the_address(clock):
    client = Client()
    form = client.get("/accounts/signup/").content.decode()
    assert "Create an account" in form and "data-suggest-zone" in form
    response = client.post(
        "/accounts/signup/",
        {
            "full_name": "Casey Car",
            "email": "casey@example.test",
            "password": STRONG,
            "role": "customer",
            "time_zone": "America/Halifax",
        },
        follow=True,
    )
    assert "Check your inbox" in response.content.decode()
    assert "casey@example.test" in response.content.decode()
    url = verification_link()
    page = client.get(path_of(url))
    assert "Confirm my email address" in page.content.decode()
    assert not User.objects.get().email_verified  # a GET (a mail scanner) changes nothing
    done = client.post(path_of(url), follow=True)
    assert "Your email address is confirmed" in done.content.decode()
    assert User.objects.get().email_verified
    again = client.post(path_of(url))
    assert again.status_code == 409 and "used already" in again.content.decode()


def test_the_signup_page_shows_the_field_error_and_keeps_the_answers():
    response = Client().post(
        "/accounts/signup/",
        {
            "full_name": "Casey",
            "email": "casey@example.test",
            "password": "short",
            "role": "customer",
            "time_zone": "America/Toronto",
        },
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert "too short" in text and 'value="casey@example.test"' in text
    assert User.objects.count() == 0


def test_the_signup_page_answers_the_same_for_an_existing_address():
    signup()
    data = {
        "full_name": "X",
        "email": "CASEY@example.test",
        "password": STRONG,
        "role": "customer",
        "time_zone": "America/Toronto",
    }
    response = Client().post("/accounts/signup/", data, follow=True)
    assert "Check your inbox" in response.content.decode()
    assert User.objects.count() == 1


def test_api_signup_answers_the_same_for_new_and_existing_addresses_and_verifies():
    client = Client()
    body = {"email": "casey@example.test", "password": STRONG, "full_name": "Casey"}
    first = client.post("/api/auth/signup", body, content_type="application/json")
    second = client.post(
        "/api/auth/signup", {**body, "email": "CASEY@EXAMPLE.TEST"}, content_type="application/json"
    )
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert User.objects.count() == 1
    raw = verification_link().rstrip("/").rsplit("/", 1)[1]
    ok = client.post("/api/auth/verify", {"token": raw}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["email"] == "casey@example.test"
    reused = client.post("/api/auth/verify", {"token": raw}, content_type="application/json")
    assert (reused.status_code, reused.json()["code"]) == (409, "link_used")
    bad = client.post(
        "/api/auth/signup", {**body, "email": "nope"}, content_type="application/json"
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "email")


def test_api_resend_needs_a_login_and_is_throttled():
    client = Client()
    assert client.post("/api/auth/verify/resend").status_code == 401
    user = signup().user
    client.force_login(user)
    response = client.post("/api/auth/verify/resend")
    assert response.status_code == 429 or response.status_code == 202
