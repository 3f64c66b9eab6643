"""The availability API: each route's happy path, its validation errors (naming the
field, writing nothing) and who may call it."""

from datetime import date, timedelta

import pytest
from django.test import Client

from autodoctor.availability.models import (
    DateOverride,
    MechanicSettings,
    TimeOff,
    WeeklyBlock,
    WorkshopHours,
)
from autodoctor.availability.services import MAX_BLOCKS
from tests.availability.conftest import NOW
from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    UserFactory,
    WorkshopFactory,
    weekly_hours,
    workshop_hours,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


def send(client: Client, method: str, path: str, body: dict | None = None):
    kwargs = {"content_type": "application/json"} if body is not None else {}
    return (
        getattr(client, method)(path, body, **kwargs)
        if body is not None
        else getattr(client, method)(path)
    )


def assert_error(response, status: int, field: str | None = None, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"]
    if field is not None:
        assert body["field"] == field, body
    if code is not None:
        assert body["code"] == code, body


@pytest.fixture
def virtual(login):
    mechanic = MechanicFactory(settings__min_notice_minutes=0, settings__buffer_minutes=0)
    return mechanic, login(mechanic.user)


@pytest.fixture
def affiliated(login):
    mechanic = MechanicFactory(affiliated=True)
    workshop_hours(mechanic.workshop, days=[1], open_=9 * 60, close=17 * 60, break_=(720, 780))
    return mechanic, login(mechanic.user)


@pytest.fixture
def staff(login):
    workshop = WorkshopFactory()
    return workshop, login(workshop.owner)


# ---------------------------------------------------------------- anonymous


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/mechanic/availability"),
        ("put", "/api/mechanic/availability"),
        ("get", "/api/mechanic/time-off"),
        ("post", "/api/mechanic/time-off"),
        ("delete", "/api/mechanic/time-off/1"),
        ("get", "/api/workshop/time-off"),
        ("post", "/api/workshop/time-off/1/approve"),
        ("post", "/api/workshop/time-off/1/decline"),
        ("get", "/api/mechanic/settings"),
        ("put", "/api/mechanic/settings"),
        ("get", "/api/workshop/availability"),
        ("put", "/api/workshop/availability"),
        ("get", "/api/mechanic/overrides"),
        ("post", "/api/mechanic/overrides"),
        ("delete", "/api/mechanic/overrides/1"),
        ("get", "/api/workshop/overrides"),
        ("post", "/api/workshop/overrides"),
        ("delete", "/api/workshop/overrides/1"),
        ("get", "/api/mechanics/1/available-slots?from=2026-03-02&to=2026-03-03&plan=quick"),
        ("get", "/api/mechanics/available?start=2026-03-02T10:00&end=2026-03-02T11:00"),
        ("get", "/api/slots/earliest?plan=quick"),
    ],
)
def test_every_route_needs_a_signed_in_user(method, path):
    response = send(Client(), method, path, {} if method in ("put", "post") else None)
    assert_error(response, 401, code="unauthenticated")


# ---------------------------------------------------------------- weekly hours


def test_mechanic_reads_their_week_in_their_zone(virtual):
    mechanic, client = virtual
    weekly_hours(mechanic, days=[1], start=9 * 60, end=24 * 60)
    body = client.get("/api/mechanic/availability").json()
    assert body["time_zone"] == "America/Toronto"
    assert body["editable"] is True
    assert body["blocks"] == [
        {"day_of_week": 1, "day_name": "Monday", "start": "09:00", "end": "24:00"}
    ]


def test_putting_the_week_replaces_every_block(virtual):
    mechanic, client = virtual
    weekly_hours(mechanic, days=[2])
    week = {
        "blocks": [
            {"day_of_week": 1, "start": "09:00", "end": "12:00"},
            {"day_of_week": 1, "start": "12:00", "end": "24:00"},
        ]
    }
    response = send(client, "put", "/api/mechanic/availability", week)
    assert response.status_code == 200
    assert [
        (b.day_of_week, b.start_minute, b.end_minute)
        for b in WeeklyBlock.objects.filter(mechanic=mechanic)
    ] == [
        (1, 540, 720),
        (1, 720, 1440),
    ]


def test_overlapping_blocks_are_refused_naming_both_and_nothing_changes(virtual):
    mechanic, client = virtual
    weekly_hours(mechanic, days=[3])
    week = {
        "blocks": [
            {"day_of_week": 1, "start": "09:00", "end": "12:00"},
            {"day_of_week": 1, "start": "11:00", "end": "13:00"},
        ]
    }
    response = send(client, "put", "/api/mechanic/availability", week)
    assert_error(response, 422, field="blocks.1")
    assert response.json()["detail"] == "Monday 09:00–12:00 overlaps Monday 11:00–13:00."
    assert list(
        WeeklyBlock.objects.filter(mechanic=mechanic).values_list("day_of_week", flat=True)
    ) == [3]


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"day_of_week": 1, "start": "9am", "end": "12:00"}, "blocks.0.start"),
        ({"day_of_week": 1, "start": "24:00", "end": "24:00"}, "blocks.0.start"),
        ({"day_of_week": 1, "start": "10:00", "end": "10:00"}, "blocks.0"),
        ({"day_of_week": 1, "start": "10:00", "end": "25:00"}, "blocks.0.end"),
        ({"day_of_week": 7, "start": "10:00", "end": "11:00"}, "blocks.0.day_of_week"),
    ],
    ids=["malformed", "start_at_24", "zero_length", "end_past_midnight", "no_such_day"],
)
def test_bad_blocks_are_refused_naming_the_field(virtual, block, field):
    mechanic, client = virtual
    response = send(client, "put", "/api/mechanic/availability", {"blocks": [block]})
    assert_error(response, 422, field=field)
    assert not WeeklyBlock.objects.filter(mechanic=mechanic).exists()


def test_a_week_holds_at_most_max_blocks(virtual):
    mechanic, client = virtual
    blocks = [
        {"day_of_week": i % 7, "start": f"{i // 7:02d}:00", "end": f"{i // 7:02d}:30"}
        for i in range(MAX_BLOCKS + 1)
    ]
    full = send(client, "put", "/api/mechanic/availability", {"blocks": blocks[:MAX_BLOCKS]})
    assert full.status_code == 200
    response = send(client, "put", "/api/mechanic/availability", {"blocks": blocks})
    assert_error(response, 422, field="blocks")
    assert response.json()["detail"] == f"At most {MAX_BLOCKS} blocks a week."
    assert WeeklyBlock.objects.filter(mechanic=mechanic).count() == MAX_BLOCKS


def test_affiliated_mechanic_sees_workshop_hours_and_cannot_put_a_week(affiliated):
    _mechanic, client = affiliated
    body = client.get("/api/mechanic/availability").json()
    assert body["editable"] is False
    assert body["workshop_hours"][1]["break_start"] == "12:00"
    response = send(client, "put", "/api/mechanic/availability", {"blocks": []})
    assert_error(response, 403, code="forbidden")
    assert "workshop manages your hours" in response.json()["detail"]


def test_customers_have_no_weekly_hours_to_manage(login):
    client = login(CustomerFactory().user)
    assert_error(client.get("/api/mechanic/availability"), 403)
    assert_error(send(client, "put", "/api/mechanic/availability", {"blocks": []}), 403)


# ---------------------------------------------------------------- time off


def test_virtual_mechanic_time_off_is_approved_at_once(virtual):
    _mechanic, client = virtual
    response = send(
        client,
        "post",
        "/api/mechanic/time-off",
        {"start_date": "2026-03-06", "end_date": "2026-03-08", "reason": "family"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "approved" and body["all_day"] is True
    # Whole local days in Toronto: from midnight EST to the midnight (EDT) ending the 8th.
    assert body["starts_at"] == "2026-03-06T05:00:00Z"
    assert body["ends_at"] == "2026-03-09T04:00:00Z"
    assert client.get("/api/mechanic/time-off").json()[0]["id"] == body["id"]


def test_affiliated_mechanic_requests_time_off_that_waits_for_the_workshop(affiliated):
    _, client = affiliated
    response = send(
        client,
        "post",
        "/api/mechanic/time-off",
        {"starts_at": "2026-03-03T13:00:00-05:00", "ends_at": "2026-03-03T15:00:00-05:00"},
    )
    assert response.status_code == 201
    assert response.json()["status"] == "pending"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start_date": "2026-03-10"}, "end_date"),
        ({"start_date": "2026-03-10", "end_date": "2026-03-09"}, "end"),
        ({"starts_at": "2026-03-01T10:00:00Z", "ends_at": "2026-03-01T11:00:00Z"}, "end"),
        ({"start_date": "2026-13-10", "end_date": "2026-03-11"}, "start_date"),
        ({}, "start_date"),
    ],
    ids=["missing_end", "end_before_start", "already_over", "malformed_date", "empty"],
)
def test_bad_time_off_is_refused_naming_the_field(virtual, body, field):
    mechanic, client = virtual
    assert_error(send(client, "post", "/api/mechanic/time-off", body), 422, field=field)
    assert not TimeOff.objects.filter(mechanic=mechanic).exists()


def test_time_off_longer_than_a_year_is_refused(virtual):
    mechanic, client = virtual
    body = {"start_date": "2026-03-10", "end_date": "2027-06-01"}
    response = send(client, "post", "/api/mechanic/time-off", body)
    assert_error(response, 422, field="end")
    assert "at most a year" in response.json()["detail"]
    assert not TimeOff.objects.filter(mechanic=mechanic).exists()


def test_a_time_off_reason_over_200_characters_is_refused(virtual):
    mechanic, client = virtual
    body = {"start_date": "2026-03-10", "end_date": "2026-03-11", "reason": "x" * 201}
    response = send(client, "post", "/api/mechanic/time-off", body)
    assert_error(response, 422, field="reason")
    assert "at most 200 characters" in response.json()["detail"]
    assert not TimeOff.objects.filter(mechanic=mechanic).exists()


def test_a_mechanic_cancels_only_their_own_time_off(virtual, login):
    mechanic, client = virtual
    mine = TimeOff.objects.create(
        mechanic=mechanic, starts_at=NOW, ends_at=NOW + timedelta(days=1), status="approved"
    )
    theirs = TimeOff.objects.create(
        mechanic=MechanicFactory(), starts_at=NOW, ends_at=NOW + timedelta(days=1)
    )
    assert_error(client.delete(f"/api/mechanic/time-off/{theirs.pk}"), 404)
    assert client.delete(f"/api/mechanic/time-off/{mine.pk}").status_code == 204
    assert list(TimeOff.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_workshop_staff_list_and_approve_their_mechanics_requests(pending_request, login):
    owner = pending_request.mechanic.workshop.owner
    client = login(owner)
    listed = client.get("/api/workshop/time-off?status=pending").json()
    assert [r["id"] for r in listed] == [pending_request.pk]
    response = client.post(f"/api/workshop/time-off/{pending_request.pk}/approve")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    pending_request.refresh_from_db()
    assert pending_request.decided_by == owner


def test_a_decided_request_cannot_be_decided_again(pending_request, login):
    client = login(pending_request.mechanic.workshop.owner)
    url = f"/api/workshop/time-off/{pending_request.pk}"
    assert client.post(f"{url}/decline").json()["status"] == "declined"
    assert_error(client.post(f"{url}/approve"), 409, code="invalid_transition")


def test_other_workshops_staff_cannot_see_or_decide_a_request(pending_request, staff):
    _, stranger = staff
    assert stranger.get("/api/workshop/time-off").json() == []
    assert_error(stranger.post(f"/api/workshop/time-off/{pending_request.pk}/approve"), 404)
    pending_request.refresh_from_db()
    assert pending_request.status == "pending"


def test_mechanics_cannot_decide_time_off(pending_request, login):
    client = login(pending_request.mechanic.user)
    assert_error(client.post(f"/api/workshop/time-off/{pending_request.pk}/approve"), 404)
    assert_error(client.get("/api/workshop/time-off"), 403)


def test_an_unknown_status_filter_is_refused(staff):
    _, client = staff
    assert_error(client.get("/api/workshop/time-off?status=maybe"), 422, field="status")


# ---------------------------------------------------------------- settings


def test_settings_read_and_partial_update(virtual):
    _mechanic, client = virtual
    assert client.get("/api/mechanic/settings").json()["buffer_minutes"] == 0
    response = send(
        client,
        "put",
        "/api/mechanic/settings",
        {"buffer_minutes": 30, "allow_instant_booking": False},
    )
    assert response.json() == {
        "buffer_minutes": 30,
        "min_notice_minutes": 0,
        "max_advance_days": 30,
        "slot_step_minutes": 15,
        "allow_instant_booking": False,
    }


def test_a_mechanic_without_a_settings_row_reads_the_defaults(virtual):
    mechanic, client = virtual
    MechanicSettings.objects.filter(mechanic=mechanic).delete()
    assert client.get("/api/mechanic/settings").json()["min_notice_minutes"] == 120


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"buffer_minutes": -5}, "buffer_minutes"),
        ({"buffer_minutes": 241}, "buffer_minutes"),
        ({"min_notice_minutes": -1}, "min_notice_minutes"),
        ({"max_advance_days": 0}, "max_advance_days"),
        ({"max_advance_days": 366}, "max_advance_days"),
        ({"slot_step_minutes": 4}, "slot_step_minutes"),
        ({"buffer_minutes": "lots"}, "buffer_minutes"),
    ],
)
def test_bad_settings_are_refused_naming_the_field_and_nothing_changes(virtual, body, field):
    mechanic, client = virtual
    assert_error(
        send(client, "put", "/api/mechanic/settings", {"slot_step_minutes": 30, **body}),
        422,
        field=field,
    )
    assert MechanicSettings.objects.get(mechanic=mechanic).slot_step_minutes == 15


def test_settings_belong_to_mechanics_only(staff):
    _, client = staff
    assert_error(client.get("/api/mechanic/settings"), 403)


# ---------------------------------------------------------------- workshop hours


def test_staff_read_and_replace_their_workshop_week_with_breaks_and_bays(staff):
    _workshop, client = staff
    body = {
        "days": [
            {
                "day_of_week": 1,
                "is_open": True,
                "open": "08:00",
                "close": "17:00",
                "break_start": "12:00",
                "break_end": "13:00",
            }
        ],
        "bays": 4,
    }
    response = send(client, "put", "/api/workshop/availability", body)
    assert response.status_code == 200
    week = response.json()
    assert week["bays"] == 4 and week["time_zone"] == "America/Toronto"
    assert week["days"][1] == {
        "day_of_week": 1,
        "day_name": "Monday",
        "is_open": True,
        "open": "08:00",
        "close": "17:00",
        "break_start": "12:00",
        "break_end": "13:00",
    }
    assert week["days"][0]["is_open"] is False  # not listed = closed
    assert client.get("/api/workshop/availability").json() == week


@pytest.mark.parametrize(
    ("day", "field"),
    [
        ({"open": "17:00", "close": "09:00"}, "days.0.close"),
        (
            {"open": "09:00", "close": "17:00", "break_start": "08:00", "break_end": "10:00"},
            "days.0.break_start",
        ),
        ({"open": "09:00", "close": "17:00", "break_start": "12:00"}, "days.0.break_end"),
        ({"open": "nine", "close": "17:00"}, "days.0.open"),
        ({"close": "17:00"}, "days.0.open"),
    ],
    ids=["close_before_open", "break_outside", "half_a_break", "malformed", "no_open_time"],
)
def test_bad_workshop_hours_are_refused_naming_the_field_and_nothing_changes(staff, day, field):
    workshop, client = staff
    workshop_hours(workshop, days=[2])
    body = {"days": [{"day_of_week": 1, "is_open": True, **day}]}
    assert_error(send(client, "put", "/api/workshop/availability", body), 422, field=field)
    assert list(
        WorkshopHours.objects.filter(workshop=workshop).values_list("day_of_week", flat=True)
    ) == [2]


def test_an_open_day_without_times_is_refused_naming_the_day(staff):
    workshop, client = staff
    body = {"days": [{"day_of_week": 1, "is_open": True, "open": "09:00"}]}
    response = send(client, "put", "/api/workshop/availability", body)
    assert_error(response, 422, field="days.0.open")
    assert response.json()["detail"] == "Monday: give opening and closing times."
    assert not WorkshopHours.objects.filter(workshop=workshop).exists()


def test_a_closed_day_without_times_is_saved_closed(staff):
    workshop, client = staff
    response = send(
        client,
        "put",
        "/api/workshop/availability",
        {"days": [{"day_of_week": 0, "is_open": False}]},
    )
    assert response.status_code == 200
    assert response.json()["days"][0]["is_open"] is False
    sunday = WorkshopHours.objects.get(workshop=workshop, day_of_week=0)
    # The row keeps the model's default times, ready if the day opens again.
    assert (sunday.is_open, sunday.open_minute, sunday.close_minute) == (False, 540, 1020)


def test_a_closed_day_sent_with_backwards_times_is_saved_closed_not_a_500(staff):
    workshop, client = staff
    day = {"day_of_week": 0, "is_open": False, "open": "17:00", "close": "09:00"}
    response = send(client, "put", "/api/workshop/availability", {"days": [day]})
    assert response.status_code == 200
    sunday = WorkshopHours.objects.get(workshop=workshop, day_of_week=0)
    assert (sunday.is_open, sunday.open_minute, sunday.close_minute) == (False, 540, 1020)


def test_a_workshop_day_listed_twice_is_refused(staff):
    workshop, client = staff
    monday = {"day_of_week": 1, "is_open": True, "open": "09:00", "close": "17:00"}
    body = {"days": [monday, {**monday, "open": "10:00"}]}
    response = send(client, "put", "/api/workshop/availability", body)
    assert_error(response, 422, field="days.1.day_of_week")
    assert response.json()["detail"] == "Monday is listed twice."
    assert not WorkshopHours.objects.filter(workshop=workshop).exists()


def test_bays_must_be_at_least_one(staff):
    workshop, client = staff
    assert_error(
        send(client, "put", "/api/workshop/availability", {"days": [], "bays": 0}),
        422,
        field="bays",
    )
    workshop.refresh_from_db()
    assert workshop.max_concurrent_appointments == 5


def test_staff_of_several_workshops_must_name_one(login):
    owner = UserFactory(role="workshop_staff")
    first, second = WorkshopFactory(owner=owner, name="A"), WorkshopFactory(owner=owner, name="B")
    client = login(owner)
    assert_error(client.get("/api/workshop/availability"), 422, field="workshop_id")
    assert client.get(f"/api/workshop/availability?workshop_id={second.pk}").json()["name"] == "B"
    assert first.pk != second.pk


def test_staff_cannot_reach_another_workshop(staff):
    _, client = staff
    other = WorkshopFactory()
    assert_error(client.get(f"/api/workshop/availability?workshop_id={other.pk}"), 404)
    assert_error(
        send(client, "put", f"/api/workshop/availability?workshop_id={other.pk}", {"days": []}), 404
    )


def test_mechanics_and_customers_do_not_manage_workshops(virtual, login):
    _, client = virtual
    assert_error(client.get("/api/workshop/availability"), 403)
    assert_error(login(CustomerFactory().user).get("/api/workshop/availability"), 403)


# ---------------------------------------------------------------- date overrides


def test_mechanic_adds_lists_and_removes_a_date_override(virtual):
    mechanic, client = virtual
    created = send(
        client,
        "post",
        "/api/mechanic/overrides",
        {"day": "2026-03-07", "start": "10:00", "end": "14:00", "note": "Saturday shift"},
    )
    assert created.status_code == 201
    assert created.json()["closed"] is False and created.json()["start"] == "10:00"
    closed = send(client, "post", "/api/mechanic/overrides", {"day": "2026-03-09"}).json()
    assert closed["closed"] is True
    assert [o["day"] for o in client.get("/api/mechanic/overrides").json()] == [
        "2026-03-07",
        "2026-03-09",
    ]
    assert client.delete(f"/api/mechanic/overrides/{closed['id']}").status_code == 204
    assert DateOverride.objects.filter(mechanic=mechanic).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"day": "2026-03-01"}, "day"),
        ({"day": "2026-03-07", "start": "10:00"}, "end"),
        ({"day": "2026-03-07", "start": "14:00", "end": "10:00"}, "start"),
        ({"day": "2026-03-07", "start": "1000", "end": "11:00"}, "start"),
    ],
    ids=["in_the_past", "half_given", "backwards", "malformed"],
)
def test_bad_overrides_are_refused_naming_the_field(virtual, body, field):
    _mechanic, client = virtual
    assert_error(send(client, "post", "/api/mechanic/overrides", body), 422, field=field)
    assert not DateOverride.objects.exists()


def test_overlapping_override_hours_are_refused(virtual):
    _, client = virtual
    send(
        client,
        "post",
        "/api/mechanic/overrides",
        {"day": "2026-03-07", "start": "10:00", "end": "14:00"},
    )
    response = send(
        client,
        "post",
        "/api/mechanic/overrides",
        {"day": "2026-03-07", "start": "13:00", "end": "15:00"},
    )
    assert_error(response, 422, field="start")
    assert "overlaps" in response.json()["detail"]


def test_a_date_is_either_closed_or_has_special_hours_never_both(virtual):
    mechanic, client = virtual
    hours = {"day": "2026-03-07", "start": "10:00", "end": "14:00"}
    assert send(client, "post", "/api/mechanic/overrides", hours).status_code == 201
    closing = send(client, "post", "/api/mechanic/overrides", {"day": "2026-03-07"})
    assert_error(closing, 422, field="day")
    assert "already has special hours" in closing.json()["detail"]

    assert send(client, "post", "/api/mechanic/overrides", {"day": "2026-03-09"}).status_code == 201
    opening = send(client, "post", "/api/mechanic/overrides", {**hours, "day": "2026-03-09"})
    assert_error(opening, 422, field="day")
    assert "already marked closed" in opening.json()["detail"]
    assert DateOverride.objects.filter(mechanic=mechanic).count() == 2


def test_an_override_note_over_200_characters_is_refused(virtual):
    _, client = virtual
    body = {"day": "2026-03-07", "note": "x" * 201}
    response = send(client, "post", "/api/mechanic/overrides", body)
    assert_error(response, 422, field="note")
    assert "at most 200 characters" in response.json()["detail"]
    assert not DateOverride.objects.exists()


def test_affiliated_mechanic_cannot_add_own_overrides(affiliated):
    _, client = affiliated
    assert_error(send(client, "post", "/api/mechanic/overrides", {"day": "2026-03-07"}), 403)


def test_workshop_overrides_are_managed_by_its_staff_only(staff, login):
    _workshop, client = staff
    created = send(
        client, "post", "/api/workshop/overrides", {"day": "2026-12-25", "note": "Christmas"}
    ).json()
    assert client.get("/api/workshop/overrides").json()[0]["note"] == "Christmas"
    stranger = login(WorkshopFactory().owner)
    assert_error(stranger.delete(f"/api/workshop/overrides/{created['id']}"), 404)
    assert client.delete(f"/api/workshop/overrides/{created['id']}").status_code == 204


def test_the_mechanic_route_does_not_delete_workshop_overrides(login):
    mechanic = MechanicFactory(independent=True)
    mechanic.workshop.owner = mechanic.user
    mechanic.workshop.save()
    row = DateOverride.objects.create(workshop=mechanic.workshop, day=date(2026, 12, 25))
    client = login(mechanic.user)
    assert_error(client.delete(f"/api/mechanic/overrides/{row.pk}"), 404)
    assert client.delete(f"/api/workshop/overrides/{row.pk}").status_code == 204


# ---------------------------------------------------------------- bookable time


def test_any_signed_in_user_reads_slots_in_utc_and_their_zone(virtual, login):
    mechanic, _ = virtual
    weekly_hours(mechanic, days=[1], start=9 * 60, end=10 * 60)
    customer = CustomerFactory(user__time_zone="Europe/London").user
    body = (
        login(customer)
        .get(
            f"/api/mechanics/{mechanic.pk}/available-slots?from=2026-03-02&to=2026-03-02&plan=advice"
        )
        .json()
    )
    assert body["time_zone"] == "Europe/London" and body["duration_minutes"] == 30
    assert body["slots"][0] == {
        "start": "2026-03-02T14:00:00Z",
        "end": "2026-03-02T14:30:00Z",
        "start_local": "2026-03-02T14:00:00+00:00",
        "end_local": "2026-03-02T14:30:00+00:00",
        "zone": "Europe/London",
    }
    assert len(body["slots"]) == 3  # 09:00, 09:15, 09:30 on the 15-minute grid


def test_the_slot_list_written_directly_is_what_its_declared_schema_says(virtual, login):
    # The route writes its JSON without pydantic (issue 15): the body must still validate
    # against SlotsOut, the schema the OpenAPI document publishes for it.
    from autodoctor.availability.api import SlotsOut

    mechanic, client = virtual
    weekly_hours(mechanic, days=[1, 2], start=9 * 60, end=12 * 60)
    response = client.get(
        f"/api/mechanics/{mechanic.pk}/available-slots?from=2026-03-02&to=2026-03-03&plan=advice"
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    body = response.json()
    assert len(body["slots"]) == 2 * 11
    parsed = SlotsOut.model_validate(body)
    assert parsed.model_dump(mode="json")["slots"][0]["start"] == body["slots"][0]["start"]
    assert body["mechanic_id"] == mechanic.pk


def test_an_unapproved_or_unknown_mechanic_has_no_slot_list(virtual, login):
    mechanic, client = virtual
    weekly_hours(mechanic, days=[1], start=9 * 60, end=12 * 60)
    hidden = MechanicFactory(approval_status="pending")
    weekly_hours(hidden, days=[1], start=9 * 60, end=12 * 60)
    query = "available-slots?from=2026-03-02&to=2026-03-02&plan=advice"
    for mechanic_id in (hidden.pk, 10**6, 2**63):
        assert_error(client.get(f"/api/mechanics/{mechanic_id}/{query}"), 404)


def test_slots_can_be_shown_in_another_zone(virtual, login):
    mechanic, client = virtual
    weekly_hours(mechanic, days=[1], start=9 * 60, end=10 * 60)
    body = client.get(
        f"/api/mechanics/{mechanic.pk}/available-slots?from=2026-03-02T00:00:00-05:00&to=2026-03-03T00:00:00-05:00&duration=60&tz=Asia/Kolkata"
    ).json()
    assert [s["start_local"] for s in body["slots"]] == ["2026-03-02T19:30:00+05:30"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-05&to=2026-03-04&plan=quick", "to"),
        ("from=2026-03-01&to=2026-05-15&plan=quick", "to"),
        ("from=2026-03-01&to=2026-03-02&plan=quick&tz=Mars/Olympus", "tz"),
        ("from=yesterday&to=2026-03-02&plan=quick", "from"),
        ("from=2026-03-01&to=2026-03-02&plan=deluxe", "plan"),
        ("from=2026-03-01&to=2026-03-02", "plan"),
        ("from=2026-03-01&to=2026-03-02&duration=2", "duration"),
        ("to=2026-03-02&plan=quick", "from"),
    ],
    ids=[
        "end_before_start",
        "over_62_days",
        "unknown_zone",
        "malformed",
        "unknown_plan",
        "no_length",
        "too_short",
        "missing_from",
    ],
)
def test_bad_slot_queries_name_the_field(virtual, query, field):
    mechanic, client = virtual
    assert_error(
        client.get(f"/api/mechanics/{mechanic.pk}/available-slots?{query}"), 422, field=field
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/mechanics/{mechanic}/available-slots?from=2026-03-02&to=2026-03-03&",
        "/api/slots/earliest?",
    ],
    ids=["slots", "earliest"],
)
def test_plan_and_duration_together_are_refused(virtual, path):
    mechanic, client = virtual
    response = client.get(path.format(mechanic=mechanic.pk) + "plan=quick&duration=30")
    assert_error(response, 422, field="duration")
    assert response.json()["detail"] == "Give plan or duration, not both."


def test_slots_of_an_unknown_mechanic_are_404(virtual):
    _, client = virtual
    assert_error(
        client.get(
            "/api/mechanics/999999/available-slots?from=2026-03-02&to=2026-03-03&plan=quick"
        ),
        404,
    )


def test_who_is_free_lists_mechanic_ids(virtual, login):
    mechanic, _ = virtual
    weekly_hours(mechanic, days=[1])
    busy_one = MechanicFactory()
    client = login(CustomerFactory().user)
    body = client.get("/api/mechanics/available?start=2026-03-02T10:00&end=2026-03-02T11:00").json()
    assert body["mechanic_ids"] == [mechanic.pk] and body["count"] == 1
    assert busy_one.pk not in body["mechanic_ids"]
    assert_error(
        client.get("/api/mechanics/available?start=2026-03-02T10:00&end=2026-03-02T09:00"),
        422,
        field="end",
    )
    assert_error(
        client.get("/api/mechanics/available?start=2026-03-02&end=2026-03-05"), 422, field="end"
    )


def test_earliest_slot_by_plan(virtual, login):
    mechanic, _ = virtual
    weekly_hours(mechanic, days=[1], start=9 * 60, end=10 * 60)
    client = login(CustomerFactory().user)
    body = client.get("/api/slots/earliest?plan=premium").json()
    assert body["found"] is True and body["mechanic_id"] == mechanic.pk
    assert body["slot"]["start"] == "2026-03-02T14:00:00Z"
    assert (
        client.get("/api/slots/earliest?plan=premium&after=2026-03-02T09:30").json()["slot"][
            "start"
        ]
        == "2026-03-09T13:00:00Z"
    )
    assert_error(client.get("/api/slots/earliest?plan=gold"), 422, field="plan")


def test_earliest_slot_says_so_when_nobody_is_bookable(login):
    body = login(CustomerFactory().user).get("/api/slots/earliest?duration=30").json()
    assert body == {"found": False, "mechanic_id": None, "slot": None}
