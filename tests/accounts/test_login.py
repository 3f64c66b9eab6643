"""Log in / out / recover (issue 14 item 2, issue 17 §4): django-axes lockout by account
and by address counted in the database, the same answers for unknown emails, safe
?next=, password reset through the outbox, password change, log out everywhere."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client

from autodoctor.accounts.models import User
from autodoctor.notifications.models import Notification
from tests.factories import PASSWORD, CustomerFactory

from .conftest import NOW, STRONG, deliver, link_in, path_of

pytestmark = pytest.mark.django_db

LIMIT = 3  # AXES_FAILURE_LIMIT in the accounts tests


@pytest.fixture
def casey(db):
    return CustomerFactory(user__email="casey@example.test").user


def attempt(email: str, password: str, ip: str = "203.0.113.7", next_url: str = ""):
    data = {"username": email, "password": password}
    if next_url:
        data["next"] = next_url
    return Client(REMOTE_ADDR=ip).post("/login/", data)


def page_text(response, *names: str) -> str:
    """The page as a person sees it, without the per-request CSRF token."""
    text = re.sub(
        r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+',
        r"\1",
        response.content.decode(),
    )
    for name in names:
        text = text.replace(name, "X")
    return text


def test_a_right_password_logs_in_and_a_wrong_one_says_so_without_naming_the_account(casey):
    wrong = attempt("casey@example.test", "nope")
    unknown = attempt("nobody@example.test", "nope")
    assert wrong.status_code == unknown.status_code == 200
    assert "do not match an account" in wrong.content.decode()
    assert wrong.content.decode().count("do not match") == unknown.content.decode().count(
        "do not match"
    )
    assert attempt("casey@example.test", PASSWORD).status_code == 302


def test_after_n_failures_the_account_is_locked_even_with_the_right_password(casey):
    for i in range(LIMIT):
        attempt("Casey@Example.test", "wrong", ip=f"198.51.100.{i}")  # any case, any address
    locked = attempt("casey@example.test", PASSWORD, ip="192.0.2.99")
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Too many failed attempts" in text and "15 minutes" in text
    assert "sessionid" not in locked.cookies  # not logged in
    # Counted in the database, so every web process sees it.
    assert AccessAttempt.objects.filter(username="casey@example.test").count() >= LIMIT


def test_after_n_failures_from_one_address_it_is_locked_for_any_account(casey):
    for i in range(LIMIT):
        attempt(f"guess{i}@example.test", "wrong", ip="203.0.113.50")
    assert attempt("casey@example.test", PASSWORD, ip="203.0.113.50").status_code == 429
    assert attempt("casey@example.test", PASSWORD, ip="203.0.113.51").status_code == 302


def test_an_unknown_email_is_locked_out_the_same_way(casey):
    for _ in range(LIMIT):
        attempt("nobody@example.test", "wrong", ip="198.51.100.1")
    unknown = attempt("nobody@example.test", "wrong", ip="198.51.100.2")
    for _ in range(LIMIT):
        attempt("casey@example.test", "wrong", ip="198.51.100.3")
    known = attempt("casey@example.test", "wrong", ip="198.51.100.4")
    assert unknown.status_code == known.status_code == 429
    assert page_text(unknown, "nobody") == page_text(known, "casey")


def test_the_lock_lifts_after_the_cool_off(casey, clock):
    for _ in range(LIMIT):
        attempt("casey@example.test", "wrong")
    assert attempt("casey@example.test", PASSWORD).status_code == 429
    clock.move_to(NOW + timedelta(minutes=14))
    assert attempt("casey@example.test", PASSWORD, ip="192.0.2.1").status_code == 429
    clock.move_to(NOW + timedelta(minutes=30))
    assert attempt("casey@example.test", PASSWORD, ip="192.0.2.1").status_code == 302


def test_next_redirects_only_to_this_site(casey):
    inside = attempt("casey@example.test", PASSWORD, next_url="/booking/sessions/")
    assert inside.url == "/booking/sessions/"
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        outside = attempt("casey@example.test", PASSWORD, next_url=evil, ip="192.0.2.5")
        assert outside.url == "/", evil


def test_password_reset_emails_a_single_use_link_through_the_outbox(casey, clock):
    client = Client()
    page = client.post("/accounts/password/reset/", {"email": "CASEY@example.test"}, follow=True)
    assert "Check your inbox" in page.content.decode()
    assert Notification.objects.get().kind == "password_reset"
    (message,) = deliver()
    assert message.subject == "Reset your password"
    url = link_in(message, "/accounts/password/reset/")
    form = client.get(path_of(url), follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": STRONG, "new_password2": STRONG},
        follow=True,
    )
    assert "Password saved" in done.content.decode()
    casey.refresh_from_db()
    assert casey.check_password(STRONG)
    again = Client().get(path_of(url), follow=True)
    assert "This link does not work" in again.content.decode()
    changed = deliver()[-1]
    assert changed.subject == "Your password was changed"


def test_a_reset_link_expires(casey, clock):
    Client().post("/accounts/password/reset/", {"email": "casey@example.test"})
    url = link_in(deliver()[0], "/accounts/password/reset/")
    clock.move_to(NOW + timedelta(minutes=61))
    assert "This link does not work" in Client().get(path_of(url), follow=True).content.decode()


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(casey):
    known = Client().post("/accounts/password/reset/", {"email": "casey@example.test"}, follow=True)
    unknown = Client().post(
        "/accounts/password/reset/", {"email": "nobody@example.test"}, follow=True
    )
    assert page_text(known) == page_text(unknown)
    assert len(deliver()) == 1


def test_a_reset_lifts_a_login_lock(casey, clock):
    for _ in range(LIMIT):
        attempt("casey@example.test", "wrong")
    client = Client()
    client.post("/accounts/password/reset/", {"email": "casey@example.test"})
    form = client.get(path_of(link_in(deliver()[0], "/reset/")), follow=True)
    client.post(form.redirect_chain[-1][0], {"new_password1": STRONG, "new_password2": STRONG})
    assert attempt("casey@example.test", STRONG).status_code == 302


def test_changing_the_password_keeps_this_session_and_ends_the_others(casey, login):
    here, elsewhere = login(casey), login(casey)
    page = here.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": STRONG, "new_password2": STRONG},
        follow=True,
    )
    assert "Password changed" in page.content.decode()
    assert here.get("/profile/").status_code == 200
    assert elsewhere.get("/profile/").status_code == 302


def test_a_weak_new_password_is_refused_with_the_reason(casey, login):
    response = login(casey).post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert "too common" in response.content.decode() or "entirely numeric" in (
        response.content.decode()
    )


def test_log_out_everywhere_ends_every_session_including_this_one(casey, login):
    here, elsewhere = login(casey), login(casey)
    response = here.post("/accounts/logout-everywhere/", follow=True)
    assert "logged out on every device" in response.content.decode()
    for client in (here, elsewhere):
        assert client.get("/profile/").status_code == 302
    assert User.objects.get(pk=casey.pk).session_epoch == 1
    assert Client().login(email="casey@example.test", password=PASSWORD)


def test_the_login_page_links_to_signup_and_reset():
    text = Client().get("/login/").content.decode()
    assert "Forgot your password?" in text and "Create an account" in text
