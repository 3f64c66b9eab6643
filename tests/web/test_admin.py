import pytest
from django.test import Client

from tests.factories import CustomerFactory, MechanicFactory

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "/admin/",
    "/admin/accounts/user/",
    "/admin/accounts/mechanicprofile/",
    "/admin/accounts/workshop/",
    "/admin/accounts/customerprofile/",
    "/admin/accounts/apitoken/",
    "/admin/availability/weeklyblock/",
    "/admin/availability/timeoff/",
]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_pages_load_for_platform_admin(login, admin_user, url):
    MechanicFactory()
    response = login(admin_user).get(url + ("?q=a" if url.count("/") > 3 else ""))
    assert response.status_code == 200


def test_admin_redirects_anonymous_to_admin_login():
    response = Client().get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_refuses_a_customer(login):
    response = login(CustomerFactory().user).get("/admin/")
    # Django admin sends non-staff users to its login page (302), never the index.
    assert response.status_code == 302
