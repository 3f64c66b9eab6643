"""Login, logout, the role-aware home page, error pages."""

import pytest
from django.test import Client

from autodoctor.accounts.models import Role
from tests.factories import PASSWORD, CustomerFactory, MechanicFactory, UserFactory, WorkshopFactory

pytestmark = pytest.mark.django_db


def test_login_with_correct_password_lands_on_home():
    user = CustomerFactory().user
    response = Client().post("/login/", {"username": user.email, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert response.context["user"] == user


def test_wrong_password_shows_a_clear_message_and_stays_logged_out():
    user = CustomerFactory().user
    response = Client().post("/login/", {"username": user.email, "password": "nope"})
    assert response.status_code == 200
    assert "That email and password do not match an account" in response.content.decode()
    assert not response.context["user"].is_authenticated


def test_anonymous_home_redirects_to_login():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("make_user", "expected"),
    [
        (lambda: CustomerFactory().user, "Book a mechanic"),
        (lambda: MechanicFactory().user, "My schedule"),
        (lambda: WorkshopFactory().owner, "Appointments"),
        (lambda: UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True), "Django admin"),
    ],
    ids=["customer", "mechanic", "workshop", "admin"],
)
def test_each_role_lands_on_its_own_home(login, make_user, expected):
    body = login(make_user()).get("/").content.decode()
    assert expected in body


def test_workshop_home_lists_the_users_workshop(login):
    shop = WorkshopFactory(name="Harbour Garage")
    assert "Harbour Garage" in login(shop.owner).get("/").content.decode()


def test_customer_home_does_not_show_the_admin_link(login):
    body = login(CustomerFactory().user).get("/").content.decode()
    assert "/admin/" not in body


def test_logout_ends_the_session(login):
    client = login(CustomerFactory().user)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_unknown_page_renders_the_friendly_404(login):
    response = login(CustomerFactory().user).get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_profile_page_creates_and_revokes_an_api_token(login):
    user = CustomerFactory().user
    client = login(user)
    page = client.post("/profile/tokens/", {"name": "my integration"}, follow=True).content.decode()
    assert "adt_" in page and "my integration" in page
    token = user.api_tokens.get()
    client.post(f"/profile/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_revoking_someone_elses_token_is_refused_with_a_message(login):
    other = CustomerFactory().user
    from autodoctor.accounts.services import api_token_create

    issued = api_token_create(user=other, name="theirs")
    response = login(CustomerFactory().user).post(
        f"/profile/tokens/{issued.token.pk}/revoke/", follow=True
    )
    assert "No such token." in response.content.decode()
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None
