"""External calendars through the JSON API and the mechanic's page: only the owner, the
address never shown again, the state (error, when it last worked) visible."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import time_machine
from django_tasks_db.models import DBTaskResult

from autodoctor.availability.external import external_calendar_refresh
from autodoctor.availability.models import ExternalCalendar
from tests.factories import CustomerFactory, MechanicFactory

from .feeds import LUNCH, NOW, Route

pytestmark = pytest.mark.django_db

SECRET = "/calendar/ical/me%40gmail.com/private-5ecret5ecret/basic.ics"
TASK = "autodoctor.availability.tasks.external_calendar_refresh"


@pytest.fixture(autouse=True)
def clock() -> Iterator[datetime]:
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def mechanic():
    return MechanicFactory()


@pytest.fixture
def client(login, mechanic):
    return login(mechanic.user)


def add(client, url: str, label: str = "Family"):
    return client.post(
        "/api/mechanic/calendars", {"url": url, "label": label}, content_type="application/json"
    )


def queued() -> int:
    return DBTaskResult.objects.filter(task_path=TASK).count()


def test_connecting_a_calendar_answers_without_the_address_and_queues_a_fetch(
    client, feeds, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = add(client, feeds.serve(SECRET, LUNCH))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["url_hint"] == "http://127.0.0.1/…"
    assert "5ecret" not in response.content.decode()
    assert (body["label"], body["last_ok_at"], body["busy_count"]) == ("Family", None, 0)
    assert queued() == 1

    external_calendar_refresh(calendar_id=body["id"], now=NOW)
    listed = client.get("/api/mechanic/calendars").json()
    assert [(c["id"], c["busy_count"], c["last_error"]) for c in listed] == [(body["id"], 1, "")]
    assert "5ecret" not in str(listed)


def test_a_bad_address_is_a_422_naming_the_field(client):
    response = add(client, "file:///etc/passwd")
    assert response.status_code == 422
    assert response.json()["field"] == "url"


def test_a_private_server_is_refused_in_production(client, settings):
    settings.EXTERNAL_CALENDARS_ALLOW_PRIVATE = False
    response = add(client, "http://169.254.169.254/latest/meta-data")
    assert response.status_code == 422
    assert "private network" in response.json()["detail"]


def test_the_same_calendar_twice_is_a_409(client, feeds):
    url = feeds.serve("/a.ics", LUNCH)
    assert add(client, url).status_code == 201
    assert add(client, url).status_code == 409


def test_refresh_now_queues_a_fetch_and_shows_the_last_error(
    client, feeds, mechanic, django_capture_on_commit_callbacks
):
    calendar_id = add(client, feeds.serve("/a.ics", Route(b"", status=500))).json()["id"]
    external_calendar_refresh(calendar_id=calendar_id, now=NOW)
    before = queued()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/mechanic/calendars/{calendar_id}/refresh")
    assert response.status_code == 202
    assert response.json()["last_error"] == "The calendar server answered 500."
    assert queued() == before + 1


def test_removing_a_calendar(client, feeds):
    calendar_id = add(client, feeds.serve("/a.ics", LUNCH)).json()["id"]
    assert client.delete(f"/api/mechanic/calendars/{calendar_id}").status_code == 204
    assert not ExternalCalendar.objects.exists()


def test_only_the_owner_sees_refreshes_or_removes_a_calendar(client, feeds, login):
    calendar_id = add(client, feeds.serve("/a.ics", LUNCH)).json()["id"]
    other = login(MechanicFactory().user)
    assert other.get("/api/mechanic/calendars").json() == []
    assert other.post(f"/api/mechanic/calendars/{calendar_id}/refresh").status_code == 404
    assert other.delete(f"/api/mechanic/calendars/{calendar_id}").status_code == 404
    profile = CustomerFactory()
    customer = login(getattr(profile, "user", profile))
    assert customer.get("/api/mechanic/calendars").status_code == 403
    assert ExternalCalendar.objects.filter(pk=calendar_id).exists()


# ---------------------------------------------------------------- the page


def test_the_page_connects_a_calendar_and_shows_its_state(client, feeds):
    page = client.get("/availability/calendars/")
    assert page.status_code == 200
    assert "No calendar connected." in page.content.decode()

    url = feeds.serve(SECRET, Route(LUNCH.encode()))
    answer = client.post(
        "/availability/calendars/", {"url": url, "label": "Family"}, headers={"HX-Request": "true"}
    )
    text = answer.content.decode()
    assert answer.status_code == 200
    assert "Calendar connected" in text and "Family" in text and "Not fetched yet" in text
    assert "5ecret" not in text

    calendar = ExternalCalendar.objects.get()
    external_calendar_refresh(calendar_id=calendar.pk, now=NOW)
    text = client.get("/availability/calendars/").content.decode()
    assert "Working" in text and "1 busy time ahead" in text
    assert "Mon 1 Mar 2027 10:00 EST" in text  # when it last worked, in the mechanic's zone
    assert "5ecret" not in text

    feeds.serve(SECRET, Route(b"nope", status=503))
    external_calendar_refresh(calendar_id=calendar.pk, now=NOW + timedelta(minutes=20))
    text = client.get("/availability/calendars/").content.decode()
    assert "Problem" in text and "The calendar server answered 503." in text
    assert "We keep using the copy from the last time it worked." in text
    assert "Mon 1 Mar 2027 10:00 EST" in text


def test_the_page_shows_a_refused_address_to_the_mechanic(client):
    answer = client.post(
        "/availability/calendars/",
        {"url": "ftp://example.com/cal.ics"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 422
    assert "https://" in answer.content.decode()


def test_refresh_and_remove_buttons(client, feeds):
    add(client, feeds.serve("/a.ics", LUNCH))
    calendar = ExternalCalendar.objects.get()
    answer = client.post(f"/availability/calendars/{calendar.pk}/refresh/")
    assert answer.status_code == 302
    assert "Refreshing" in client.get(answer["Location"]).content.decode()
    answer = client.post(
        f"/availability/calendars/{calendar.pk}/remove/", headers={"HX-Request": "true"}
    )
    assert "Calendar disconnected" in answer.content.decode()
    assert not ExternalCalendar.objects.exists()
