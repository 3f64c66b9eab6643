"""The layout: the menu by role (an independent owner reaches the workshop hours), a
refused form's error kept for the page it returns to, htmx errors naming their field,
and times in the viewer's zone with its label (the admin's lists)."""

import json
import re
from datetime import UTC, datetime

import pytest
import time_machine

from autodoctor.accounts.models import Role
from tests.factories import MechanicFactory, UserFactory, WorkshopFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def nav(page: str) -> list[str]:
    menu = page.split('<nav class="nav"')[1].split("</nav>")[0]
    return re.findall(r">([^<]+)</a>", menu)


def test_an_independent_workshop_owner_has_the_workshop_hours_in_the_menu(login):
    owner = UserFactory(role=Role.MECHANIC)
    MechanicFactory(independent=True, user=owner, workshop=WorkshopFactory(owner=owner))
    assert "Hours" in nav(login(owner).get("/").content.decode())
    virtual = MechanicFactory().user
    assert "Hours" not in nav(login(virtual).get("/").content.decode())


def test_every_role_gets_its_pages_and_the_phone_menu_button(login, admin_user):
    page = login(WorkshopFactory().owner).get("/").content.decode()
    assert nav(page)[:3] == ["Home", "Earnings", "Appointments"]
    assert 'class="menu-toggle"' in page and 'aria-controls="site-menu"' in page
    assert "Schedule" in nav(login(admin_user).get("/").content.decode())


def test_a_refused_plain_post_keeps_its_error_field_and_typed_values_for_the_next_page(login):
    client = login(MechanicFactory().user)
    response = client.post(
        "/availability/settings/",
        {
            "buffer_minutes": "999",
            "min_notice_minutes": "60",
            "max_advance_days": "30",
            "slot_step_minutes": "15",
        },
        HTTP_REFERER="/availability/settings/",
    )
    assert response.status_code == 302
    page = client.get("/availability/settings/").content.decode()
    data = json.loads(page.split('id="form-error" type="application/json">')[1].split("<")[0])
    assert data["field"] == "buffer_minutes" and data["action"] == "/availability/settings/"
    assert data["values"]["buffer_minutes"] == ["999"]
    assert "csrfmiddlewaretoken" not in data["values"]
    assert "form-error" not in client.get("/availability/settings/").content.decode()  # once


def test_an_htmx_error_names_its_field(login):
    response = login(MechanicFactory().user).post(
        "/availability/blocks/add/",
        {"day_of_week": 2, "start": "25:00", "end": "26:00"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert 'data-error-field="start"' in response.content.decode()


def test_admin_lists_show_times_in_the_admins_zone_with_its_label(login, admin_user):
    from autodoctor.accounts.services import api_token_create

    # A fixed creation time: Django's date format drops the zone name (T) for the one
    # ambiguous hour of a fall-back night, so a token made "now" then would show none.
    with time_machine.travel(datetime(2026, 11, 30, 15, 5, tzinfo=UTC), tick=False):
        api_token_create(user=admin_user, name="ci")
    page = login(admin_user).get("/admin/accounts/apitoken/").content.decode()
    assert re.search(r"\d{4}, \d{1,2}(:\d\d)? [ap]\.m\. E[SD]T", page), page[-3000:]
