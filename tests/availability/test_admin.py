"""Admin changelists of the availability models: related rows are joined
(``list_select_related``), so a page of rows costs the same few queries however many
mechanics and workshops it shows."""

from datetime import date, timedelta

import pytest

from autodoctor.availability.models import DateOverride, TimeOff, WeeklyBlock, WorkshopHours
from tests.availability.conftest import NOW
from tests.factories import MechanicFactory, WorkshopFactory

pytestmark = pytest.mark.django_db

ROWS = 20


def _date_overrides() -> None:
    for i in range(ROWS // 2):
        DateOverride.objects.create(mechanic=MechanicFactory(), day=date(2026, 3, 10 + i))
        DateOverride.objects.create(workshop=WorkshopFactory(), day=date(2026, 3, 10 + i))


def _time_off() -> None:
    for i in range(ROWS):
        start = NOW + timedelta(days=i)
        TimeOff.objects.create(
            mechanic=MechanicFactory(), starts_at=start, ends_at=start + timedelta(hours=2)
        )


def _settings() -> None:
    for _ in range(ROWS):
        MechanicFactory()  # with its settings row


def _workshop_hours() -> None:
    for _ in range(ROWS):
        WorkshopHours.objects.create(workshop=WorkshopFactory(), day_of_week=1)


def _weekly_blocks() -> None:
    for _ in range(ROWS):
        WeeklyBlock.objects.create(
            mechanic=MechanicFactory(), day_of_week=1, start_minute=540, end_minute=600
        )


CHANGELISTS = {
    "dateoverride": _date_overrides,
    "timeoff": _time_off,
    "mechanicsettings": _settings,
    "workshophours": _workshop_hours,
    "weeklyblock": _weekly_blocks,
}


@pytest.mark.parametrize("model", CHANGELISTS)
def test_a_changelist_of_twenty_rows_uses_a_fixed_number_of_queries(
    model, login, admin_user, django_assert_max_num_queries
):
    CHANGELISTS[model]()
    client = login(admin_user)
    # Session, user, counts, filters, the page: about seven. Without the joins, each row's
    # mechanic and user cost two more queries (15–27 here).
    with django_assert_max_num_queries(8):
        response = client.get(f"/admin/availability/{model}/")
    assert response.status_code == 200
    assert response.content.decode().count('class="action-select"') == ROWS
