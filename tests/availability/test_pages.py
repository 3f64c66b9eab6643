"""Availability pages: each renders for its role, refuses the others, and its htmx
actions answer with the named partial."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client

from autodoctor.availability.models import (
    DateOverride,
    MechanicSettings,
    TimeOff,
    WeeklyBlock,
    WorkshopHours,
)
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

HTMX = {"HX-Request": "true"}


def page(client: Client, url: str, **headers):
    response = client.get(url, headers=headers)
    return response, response.content.decode()


def htmx_get(client: Client, url: str, target: str) -> str:
    """What htmx receives when it asks ``url`` to fill the element ``#target``."""
    return client.get(url, headers={**HTMX, "HX-Target": target}).content.decode()


MECHANIC_PAGES = ["/availability/", "/availability/time-off/", "/availability/settings/"]
WORKSHOP_PAGES = ["/availability/workshop/hours/", "/availability/workshop/time-off/"]


@pytest.mark.parametrize("url", [*MECHANIC_PAGES, *WORKSHOP_PAGES, "/availability/mechanics/1/"])
def test_anonymous_visitors_are_sent_to_log_in(url):
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


REFUSALS = [
    # (page, roles that may not see it, what they are told)
    *[(url, ("customer", "workshop"), "Only mechanics") for url in MECHANIC_PAGES],
    *[(url, ("mechanic", "customer"), "You do not manage a workshop") for url in WORKSHOP_PAGES],
]
MAKE_USER = {
    "customer": lambda: CustomerFactory().user,
    "mechanic": lambda: MechanicFactory().user,
    "workshop": lambda: WorkshopFactory().owner,
}


@pytest.mark.parametrize(("url", "roles", "message"), REFUSALS)
def test_role_pages_refuse_the_other_roles(login, url, roles, message):
    for role in roles:
        response, body = page(login(MAKE_USER[role]()), url)
        assert response.status_code == 403
        assert message in body


# ---------------------------------------------------------------- weekly hours


def test_week_editor_shows_blocks_and_the_zone(login):
    mechanic = MechanicFactory(user__time_zone="America/Halifax")
    weekly_hours(mechanic, days=[1], start=9 * 60, end=24 * 60)
    response, body = page(login(mechanic.user), "/availability/")
    assert response.status_code == 200
    assert "America/Halifax" in body and "09:00–24:00" in body


def test_adding_a_block_with_htmx_returns_the_week_partial(login):
    mechanic = MechanicFactory()
    client = login(mechanic.user)
    response = client.post(
        "/availability/blocks/add/",
        {"day_of_week": 2, "start": "10:00", "end": "14:00"},
        headers=HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="card" id="week">')
    assert "<html" not in body and "10:00–14:00" in body and "Added Tuesday 10:00–14:00." in body
    assert WeeklyBlock.objects.filter(mechanic=mechanic, day_of_week=2, start_minute=600).exists()


def test_an_overlapping_block_is_refused_into_the_flash_area(login):
    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=[2], start=9 * 60, end=12 * 60)
    response = login(mechanic.user).post(
        "/availability/blocks/add/",
        {"day_of_week": 2, "start": "11:00", "end": "13:00"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#flash"
    assert "Tuesday 09:00–12:00 overlaps Tuesday 11:00–13:00." in response.content.decode()
    assert WeeklyBlock.objects.filter(mechanic=mechanic).count() == 1


def test_a_malformed_time_is_refused_naming_the_field(login):
    mechanic = MechanicFactory()
    response = login(mechanic.user).post(
        "/availability/blocks/add/",
        {"day_of_week": 2, "start": "ten", "end": "13:00"},
        headers=HTMX,
    )
    assert response.status_code == 422 and "From:" in response.content.decode()
    assert not WeeklyBlock.objects.exists()


def test_removing_a_block_without_htmx_redirects_back_with_a_message(login):
    mechanic = MechanicFactory()
    weekly_hours(mechanic, days=[1, 2])
    block = WeeklyBlock.objects.filter(mechanic=mechanic, day_of_week=1).get()
    response = login(mechanic.user).post(f"/availability/blocks/{block.pk}/remove/", follow=True)
    assert "Block removed." in response.content.decode()
    assert list(WeeklyBlock.objects.values_list("day_of_week", flat=True)) == [2]


def test_a_mechanic_cannot_remove_someone_elses_block(login):
    other = MechanicFactory()
    weekly_hours(other, days=[1])
    block = WeeklyBlock.objects.get()
    response = login(MechanicFactory().user).post(
        f"/availability/blocks/{block.pk}/remove/", headers=HTMX
    )
    assert response.status_code == 404
    assert WeeklyBlock.objects.filter(pk=block.pk).exists()


def test_affiliated_mechanic_sees_workshop_hours_read_only(login):
    mechanic = MechanicFactory(affiliated=True, workshop__name="Queen Street Auto")
    workshop_hours(mechanic.workshop, days=[1], break_=(720, 780))
    _response, body = page(login(mechanic.user), "/availability/")
    assert "Queen Street Auto manages your hours" in body
    assert "12:00–13:00" in body  # the break
    assert "Add hours" not in body


def test_affiliated_mechanic_cannot_add_blocks_by_posting(login):
    mechanic = MechanicFactory(affiliated=True)
    response = login(mechanic.user).post(
        "/availability/blocks/add/",
        {"day_of_week": 2, "start": "10:00", "end": "14:00"},
        headers=HTMX,
    )
    assert response.status_code == 403
    assert not WeeklyBlock.objects.exists()


def test_special_dates_are_added_and_removed_with_htmx(login):
    mechanic = MechanicFactory()
    client = login(mechanic.user)
    response = client.post(
        "/availability/dates/add/",
        {"day": "2026-03-07", "start": "10:00", "end": "14:00", "note": "shift"},
        headers=HTMX,
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="overrides">')
    assert "10:00–14:00" in body
    override = DateOverride.objects.get()
    closed = client.post(
        "/availability/dates/add/", {"day": "2026-03-09", "closed": "on"}, headers=HTMX
    )
    assert "closed" in closed.content.decode()
    client.post(f"/availability/dates/{override.pk}/remove/", headers=HTMX)
    assert list(DateOverride.objects.values_list("day", flat=True)) == [date(2026, 3, 9)]


def test_my_schedule_link_leads_to_a_calendar(login):
    response = login(MechanicFactory().user).get("/availability/calendar/")
    assert response.status_code == 302


# ---------------------------------------------------------------- time off


def test_time_off_page_lists_entries_in_the_mechanics_zone(login):
    mechanic = MechanicFactory()
    TimeOff.objects.create(
        mechanic=mechanic,
        starts_at=NOW + timedelta(days=1),
        ends_at=NOW + timedelta(days=2),
        status="approved",
        reason="dentist",
    )
    response, body = page(login(mechanic.user), "/availability/time-off/")
    assert response.status_code == 200
    assert "dentist" in body and "EST" in body


def test_requesting_whole_days_off_with_htmx_updates_the_list(login):
    mechanic = MechanicFactory(affiliated=True)
    response = login(mechanic.user).post(
        "/availability/time-off/",
        {"start_date": "2026-03-10", "end_date": "2026-03-11", "reason": "wedding"},
        headers=HTMX,
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="entries">')
    assert "your workshop will approve or decline it" in body and "Pending" in body
    entry = TimeOff.objects.get()
    assert entry.all_day and entry.status == "pending"
    assert entry.starts_at == datetime(2026, 3, 10, 4, tzinfo=UTC)  # midnight EDT


def test_part_day_time_off_uses_the_given_times(login):
    mechanic = MechanicFactory()
    login(mechanic.user).post(
        "/availability/time-off/",
        {
            "start_date": "2026-03-03",
            "end_date": "2026-03-03",
            "start_time": "13:00",
            "end_time": "15:30",
        },
    )
    entry = TimeOff.objects.get()
    assert (entry.starts_at, entry.ends_at, entry.all_day) == (
        datetime(2026, 3, 3, 18, tzinfo=UTC),
        datetime(2026, 3, 3, 20, 30, tzinfo=UTC),
        False,
    )
    assert entry.status == "approved"


def test_time_off_ending_before_it_starts_is_refused(login):
    mechanic = MechanicFactory()
    response = login(mechanic.user).post(
        "/availability/time-off/",
        {"start_date": "2026-03-10", "end_date": "2026-03-08"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert not TimeOff.objects.exists()


def test_cancelling_time_off_with_htmx(login):
    mechanic = MechanicFactory()
    entry = TimeOff.objects.create(
        mechanic=mechanic, starts_at=NOW, ends_at=NOW + timedelta(days=1), status="approved"
    )
    response = login(mechanic.user).post(f"/availability/time-off/{entry.pk}/cancel/", headers=HTMX)
    assert "Time off cancelled." in response.content.decode()
    assert not TimeOff.objects.exists()


# ---------------------------------------------------------------- settings


def test_settings_form_shows_and_saves_the_rules(login):
    mechanic = MechanicFactory()
    client = login(mechanic.user)
    response, body = page(client, "/availability/settings/")
    assert response.status_code == 200 and 'value="120"' in body
    saved = client.post(
        "/availability/settings/",
        {
            "buffer_minutes": 10,
            "min_notice_minutes": 60,
            "max_advance_days": 14,
            "slot_step_minutes": 30,
        },
        follow=True,
    )
    assert "Booking rules saved." in saved.content.decode()
    row = MechanicSettings.objects.get(mechanic=mechanic)
    assert (row.buffer_minutes, row.max_advance_days, row.allow_instant_booking) == (10, 14, False)


def test_the_instant_booking_setting_says_what_it_does(login):
    _, body = page(login(MechanicFactory().user), "/availability/settings/")
    # It decides whether scheduled bookings wait for the mechanic, not "start now".
    assert "Confirm bookings instantly (otherwise you review each request)" in body
    assert "Start-now requests are not affected." in body


def test_a_negative_buffer_is_refused_and_nothing_changes(login):
    mechanic = MechanicFactory()
    response = login(mechanic.user).post(
        "/availability/settings/",
        {
            "buffer_minutes": -5,
            "min_notice_minutes": 60,
            "max_advance_days": 14,
            "slot_step_minutes": 30,
        },
        follow=True,
    )
    assert "between 0 and 240" in response.content.decode()
    assert MechanicSettings.objects.get(mechanic=mechanic).buffer_minutes == 15


# ---------------------------------------------------------------- workshop hours


def _week_post(**overrides) -> dict:
    data = {
        "form-TOTAL_FORMS": 7,
        "form-INITIAL_FORMS": 7,
        "form-MIN_NUM_FORMS": 7,
        "form-MAX_NUM_FORMS": 7,
        "bays": 3,
    }
    for day in range(7):
        data[f"form-{day}-day_of_week"] = day
        if day in (1, 2):
            data.update(
                {
                    f"form-{day}-is_open": "on",
                    f"form-{day}-open": "08:00",
                    f"form-{day}-close": "17:00",
                }
            )
    data.update(overrides)
    return data


def test_workshop_hours_page_renders_for_its_staff(login):
    workshop = WorkshopFactory(name="Harbour Garage", time_zone="America/Halifax")
    workshop_hours(workshop, days=[1], break_=(720, 780))
    response, body = page(login(workshop.owner), "/availability/workshop/hours/")
    assert response.status_code == 200
    assert "Harbour Garage" in body and "America/Halifax" in body and 'value="12:00"' in body


def test_staff_save_hours_with_a_break_and_bays(login):
    workshop = WorkshopFactory()
    response = login(workshop.owner).post(
        f"/availability/workshop/hours/?workshop={workshop.pk}",
        _week_post(**{"form-1-break_start": "12:00", "form-1-break_end": "13:00"}),
        follow=True,
    )
    assert "Opening hours of" in response.content.decode()
    monday = WorkshopHours.objects.get(workshop=workshop, day_of_week=1)
    assert (monday.open_minute, monday.break_start_minute, monday.break_end_minute) == (
        480,
        720,
        780,
    )
    assert WorkshopHours.objects.filter(workshop=workshop, is_open=True).count() == 2
    workshop.refresh_from_db()
    assert workshop.max_concurrent_appointments == 3


def test_a_break_outside_opening_hours_is_refused_and_nothing_changes(login):
    workshop = WorkshopFactory()
    workshop_hours(workshop, days=[5])
    response = login(workshop.owner).post(
        f"/availability/workshop/hours/?workshop={workshop.pk}",
        _week_post(**{"form-1-break_start": "18:00", "form-1-break_end": "19:00"}),
        follow=True,
    )
    assert "must lie inside the opening hours" in response.content.decode()
    assert list(
        WorkshopHours.objects.filter(workshop=workshop).values_list("day_of_week", flat=True)
    ) == [5]


def test_an_open_day_without_times_is_refused_and_nothing_changes(login):
    workshop = WorkshopFactory()
    workshop_hours(workshop, days=[5])
    response = login(workshop.owner).post(
        f"/availability/workshop/hours/?workshop={workshop.pk}",
        _week_post(**{"form-1-close": ""}),
        follow=True,
    )
    assert "Monday: give opening and closing times." in response.content.decode()
    assert list(
        WorkshopHours.objects.filter(workshop=workshop).values_list("day_of_week", flat=True)
    ) == [5]


def test_staff_cannot_open_another_workshops_hours(login):
    mine, theirs = WorkshopFactory(), WorkshopFactory()
    response, _ = page(login(mine.owner), f"/availability/workshop/hours/?workshop={theirs.pk}")
    assert response.status_code == 404
    response = login(mine.owner).post(
        f"/availability/workshop/hours/?workshop={theirs.pk}", _week_post()
    )
    assert response.status_code == 302  # refused with a flash message
    assert not WorkshopHours.objects.filter(workshop=theirs).exists()


def test_staff_of_several_workshops_can_switch_between_them(login):
    owner = UserFactory(role="workshop_staff")
    WorkshopFactory(owner=owner, name="Alpha Auto")
    second = WorkshopFactory(owner=owner, name="Beta Brakes")
    client = login(owner)
    _, body = page(client, "/availability/workshop/hours/")
    assert "Alpha Auto: opening hours" in body and "Beta Brakes" in body
    _, body = page(client, f"/availability/workshop/hours/?workshop={second.pk}")
    assert "Beta Brakes: opening hours" in body


def test_workshop_special_dates_with_htmx(login):
    workshop = WorkshopFactory()
    response = login(workshop.owner).post(
        f"/availability/workshop/dates/add/?workshop={workshop.pk}",
        {"day": "2026-12-25", "closed": "on", "note": "Christmas"},
        headers=HTMX,
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="overrides">') and "Christmas" in body
    assert DateOverride.objects.get().workshop == workshop


# ---------------------------------------------------------------- workshop time off


def test_pending_requests_are_listed_and_approved_with_htmx(pending_request, login):
    client = login(pending_request.mechanic.workshop.owner)
    response, body = page(client, "/availability/workshop/time-off/")
    assert response.status_code == 200 and "Ana Affiliated" in body
    decided = client.post(
        f"/availability/workshop/time-off/{pending_request.pk}/approve/", headers=HTMX
    )
    body = decided.content.decode()
    assert body.lstrip().startswith('<div id="requests">')
    assert "Approved: Ana Affiliated" in body and "Nothing waiting." in body
    pending_request.refresh_from_db()
    assert pending_request.status == "approved"


@pytest.mark.parametrize(
    ("decider", "decision"),
    [("stranger", "decline"), ("owner", "maybe")],
    ids=["another_workshops_staff", "unknown_decision"],
)
def test_a_request_is_not_decided_by_strangers_or_unknown_decisions(
    pending_request, login, decider, decision
):
    user = (
        pending_request.mechanic.workshop.owner if decider == "owner" else WorkshopFactory().owner
    )
    response = login(user).post(
        f"/availability/workshop/time-off/{pending_request.pk}/{decision}/", headers=HTMX
    )
    assert response.status_code == 404
    pending_request.refresh_from_db()
    assert pending_request.status == "pending"


@pytest.mark.parametrize("workshop", ["999999", "abc"], ids=["unknown", "malformed"])
def test_a_bad_workshop_on_a_decision_is_404_and_decides_nothing(pending_request, login, workshop):
    client = login(pending_request.mechanic.workshop.owner)
    response = client.post(
        f"/availability/workshop/time-off/{pending_request.pk}/approve/?workshop={workshop}",
        headers=HTMX,
    )
    assert response.status_code == 404
    pending_request.refresh_from_db()
    assert pending_request.status == "pending"


# ---------------------------------------------------------------- a mechanic's public page


@pytest.fixture
def bookable():
    mechanic = MechanicFactory(user__full_name="Vera Virtual", settings__min_notice_minutes=0)
    weekly_hours(mechanic, days=[1, 3], start=9 * 60, end=10 * 60)
    return mechanic


def test_profile_shows_the_month_with_counts_and_the_first_days_slots_in_the_viewers_zone(
    login, bookable
):
    viewer = CustomerFactory(user__time_zone="America/Vancouver").user
    response, body = page(login(viewer), f"/availability/mechanics/{bookable.pk}/")
    assert response.status_code == 200
    assert "Vera Virtual" in body and "March 2026" in body and "America/Vancouver" in body
    # advice = 30 minutes on the 15-minute grid: 09:00, 09:15, 09:30.
    assert 'data-day="2026-03-02"' in body and "3 free" in body
    assert "06:00 PST" in body  # 09:00 in Toronto


def test_choosing_a_day_with_htmx_swaps_only_the_days_slots(login, bookable):
    url = f"/availability/mechanics/{bookable.pk}/?plan=quick&month=2026-03&day=2026-03-04"
    body = htmx_get(login(CustomerFactory().user), url, "day-slots")
    assert body.lstrip().startswith('<div id="day-slots">')
    assert "Wednesday 4 March 2026" in body
    assert body.count('class="slot"') == 4  # quick = 15 minutes: 09:00 to 09:45
    assert "09:45 EST" in body


def test_month_navigation_with_htmx_swaps_the_calendar(login, bookable):
    url = f"/availability/mechanics/{bookable.pk}/?plan=quick&month=2026-04"
    body = htmx_get(login(CustomerFactory().user), url, "calendar")
    assert body.lstrip().startswith('<div id="calendar">')
    assert "April 2026" in body and "<html" not in body


def test_any_signed_in_role_may_view_a_profile_but_unknown_ids_are_404(login, bookable):
    for user in (
        bookable.user,
        WorkshopFactory().owner,
        UserFactory(role="admin", is_superuser=True),
    ):
        assert login(user).get(f"/availability/mechanics/{bookable.pk}/").status_code == 200
    assert login(CustomerFactory().user).get("/availability/mechanics/999999/").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("month=2026-13", "Month must look like 2026-03."),
        ("month=March", "Month must look like 2026-03."),
        ("day=2026-03-32", "Day must look like 2026-03-08."),
        ("day=tomorrow", "Day must look like 2026-03-08."),
    ],
)
def test_a_malformed_month_or_day_on_the_profile_is_refused(login, bookable, query, message):
    response, body = page(
        login(CustomerFactory().user), f"/availability/mechanics/{bookable.pk}/?{query}"
    )
    assert response.status_code == 422
    assert message in body


def test_an_unknown_plan_on_the_profile_is_refused(login, bookable):
    response = login(CustomerFactory().user).get(
        f"/availability/mechanics/{bookable.pk}/?plan=gold"
    )
    assert response.status_code == 422
