"""The analytics pages as each role sees them, and the admin page's query count."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from autodoctor.accounts.models import Role
from autodoctor.analytics import facts
from autodoctor.analytics.services import rating_save
from tests.factories import MechanicFactory, UserFactory, WorkshopFactory, weekly_hours

from .conftest import NOW, booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(completed_session):
    ada = MechanicFactory(user__full_name="Ada Visible")
    bo = MechanicFactory(user__full_name="Bo Elsewhere")
    for mechanic in (ada, bo):
        weekly_hours(mechanic, days=range(7), start=9 * 60, end=17 * 60)
        booking(mechanic, created=NOW - timedelta(days=3), scheduled_for=NOW - timedelta(days=2))
    session = completed_session(mechanic=ada)
    rating_save(session_id=session.pk, user=session.customer, score=4, comment="Clear-7q", now=NOW)
    return {"ada": ada, "bo": bo}


def test_the_admin_dashboard_shows_every_metric_with_its_zone(history, admin_user, login):
    with time_machine.travel(NOW, tick=False):
        page = login(admin_user).get("/analytics/?days=7").content.decode()
    for section in (
        "Utilization",
        "Booked in advance",
        "Booking lead time",
        "Peak times",
        "No-shows",
        "Start-now requests",
        "Revenue",
        "Satisfaction",
    ):
        assert section in page, section
    assert "Ada Visible" in page and "Bo Elsewhere" in page
    assert "America/Toronto" in page  # the viewer's zone, labelled


def test_a_mechanic_sees_only_their_own_numbers(history, login):
    with time_machine.travel(NOW, tick=False):
        page = login(history["ada"].user).get("/analytics/mine/").content.decode()
    assert "My numbers" in page and "Clear-7q" in page
    assert "Bo Elsewhere" not in page
    # plan §5.3: nothing about offers accepted or declined, no start-now wait.
    for word in ("acceptance", "declin", "Start-now requests"):
        assert word.lower() not in page.lower(), word


def test_workshop_staff_see_their_workshops_mechanics_only(history, login):
    shop = WorkshopFactory()
    MechanicFactory(workshop=shop, account_type="workshop_mechanic", user__full_name="Cy Shop")
    with time_machine.travel(NOW, tick=False):
        client = login(shop.owner)
        assert client.get("/analytics/workshop/")["Location"] == f"/analytics/workshops/{shop.pk}/"
        page = client.get(f"/analytics/workshops/{shop.pk}/").content.decode()
        assert "Cy Shop" in page and "Ada Visible" not in page
        assert "Response to visit requests" in page
        other = WorkshopFactory()
        assert client.get(f"/analytics/workshops/{other.pk}/").status_code == 404


def test_the_dashboard_is_refused_to_everyone_but_admins(history, login):
    for user in (history["ada"].user, UserFactory(role=Role.CUSTOMER)):
        assert login(user).get("/analytics/").status_code == 404


def test_the_api_answers_each_scope(history, admin_user, login):
    with time_machine.travel(NOW, tick=False):
        body = login(admin_user).get("/api/analytics/platform?days=7").json()
        assert body["start_now"] is not None and body["zone"] == "America/Toronto"
        mine = login(history["ada"].user).get("/api/analytics/mine").json()
    assert mine["start_now"] is None
    assert [m["name"] for m in mine["utilization"]["mechanics"]] == ["Ada Visible"]


def test_the_admin_dashboard_runs_a_fixed_number_of_queries(history, admin_user, login):
    """More mechanics and sessions must not add queries (no per-row reads)."""

    def count() -> int:
        # The page's fact refresh costs a fixed handful of statements a 500 dirty
        # sessions (tests/analytics/test_facts.py); counted here: the dashboard's own.
        facts.facts_refresh()
        with time_machine.travel(NOW, tick=False):
            client = login(admin_user)
            with CaptureQueriesContext(connection) as ctx:
                assert client.get("/analytics/?days=30").status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for _ in range(5):
        mechanic = MechanicFactory()
        weekly_hours(mechanic, days=range(5))
        booking(mechanic, created=NOW - timedelta(days=5), scheduled_for=NOW - timedelta(days=4))
        booking(
            mechanic,
            created=NOW - timedelta(days=2),
            offered_at=NOW - timedelta(days=2),
            status="completed",
        )
    after = count()
    assert after == before
    assert after <= 40, after


def test_bay_utilization_shows_on_the_workshop_and_admin_pages(history, admin_user, login):
    from autodoctor.workshops.models import Visit
    from tests.factories import CustomerFactory, workshop_hours

    shop = WorkshopFactory(name="Gamma Garage", max_concurrent_appointments=2)
    workshop_hours(shop, days=range(7), open_=8 * 60, close=18 * 60)  # 600 min a day
    start = NOW - timedelta(days=2)
    Visit.objects.create(
        workshop=shop,
        customer=CustomerFactory().user,
        service_type="brakes",
        duration_minutes=120,
        starts_at=start,
        ends_at=start + timedelta(minutes=120),
        bay=1,
        status="completed",
        confirmed_at=start - timedelta(days=1),
    )
    with time_machine.travel(NOW, tick=False):
        page = login(shop.owner).get(f"/analytics/workshops/{shop.pk}/?days=7").content.decode()
        admin_page = login(admin_user).get("/analytics/?days=7").content.decode()
    # 7 days × 600 open min × 2 bays = 8400 bay-minutes; 120 booked = 1.4 %.
    assert "Workshop bays" in page and "120 booked of 8400 bay-minutes" in page
    assert "1.4 %" in page
    assert "Completed</th><td>1</td>" in page
    assert f'href="/analytics/workshops/{shop.pk}/">Gamma Garage</a>' in admin_page
    mine = login(history["ada"].user).get("/analytics/mine/").content.decode()
    assert "Workshop bays" not in mine


def test_each_table_downloads_as_csv_with_the_same_authorization(history, admin_user, login):
    with time_machine.travel(NOW, tick=False):
        admin = login(admin_user)
        page = admin.get("/analytics/?days=7").content.decode()
        assert "?days=7&amp;format=csv&amp;table=utilization" in page
        response = admin.get("/analytics/?days=7&format=csv&table=utilization")
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith(
            'attachment; filename="analytics-utilization-'
        )
        lines = response.content.decode().splitlines()
        assert lines[0] == "mechanic,booked_minutes,offered_minutes,utilization"
        assert {line.split(",")[0] for line in lines[1:]} == {"Ada Visible", "Bo Elsewhere"}
        assert admin.get("/analytics/?format=csv&table=nope").status_code == 404
        ada = login(history["ada"].user)
        # A mechanic's page has no mechanic table; the platform's CSV is refused like its page.
        assert ada.get("/analytics/mine/?format=csv&table=utilization").status_code == 404
        assert ada.get("/analytics/?format=csv&table=utilization").status_code == 404
        lead = ada.get("/analytics/mine/?format=csv&table=lead-time").content.decode()
    assert lead.splitlines()[0] == "lead_time,bookings"


def test_a_custom_range_is_validated_and_its_errors_shown(history, admin_user, login):
    with time_machine.travel(NOW, tick=False):
        admin = login(admin_user)
        page = admin.get("/analytics/?from=2031-03-01&to=2031-03-11").content.decode()
        # Local midnight to local midnight in Toronto: EST before the 9 March change.
        assert "Sat 1 Mar 2031, 00:00 EST – Wed 12 Mar 2031, 00:00 EDT" in page
        too_long = admin.get("/analytics/?from=2030-01-01&to=2031-03-11").content.decode()
        assert "A custom range is at most 400 days; this one has 435." in too_long
        backwards = admin.get("/analytics/?from=2031-03-11&to=2031-03-01").content.decode()
        assert "The range must end on or after its first day." in backwards
        half = admin.get("/analytics/?from=2031-03-01").content.decode()
        assert "Give both dates of a custom range, or neither." in half
        junk = admin.get("/analytics/?from=soon&to=later").content.decode()
        assert "Enter a valid date." in junk


def test_the_custom_range_runs_from_local_midnight_to_local_midnight():
    from datetime import UTC, datetime

    from autodoctor.analytics.forms import PeriodForm
    from autodoctor.analytics.views import period_from

    form = PeriodForm({"from": "2031-03-08", "to": "2031-03-09"})
    period = period_from(form, now=NOW, zone="America/Toronto")
    # Sat 8 March 00:00 EST = 05:00 UTC; Mon 10 March 00:00 EDT = 04:00 UTC (DST Sunday).
    assert period.start == datetime(2031, 3, 8, 5, 0, tzinfo=UTC)
    assert period.end == datetime(2031, 3, 10, 4, 0, tzinfo=UTC)


def test_admins_drill_down_to_one_mechanic_and_nobody_else_may(history, admin_user, login):
    ada = history["ada"]
    with time_machine.travel(NOW, tick=False):
        board = login(admin_user).get("/analytics/?days=7").content.decode()
        assert f'href="/analytics/mechanics/{ada.pk}/">Ada Visible</a>' in board
        page = login(admin_user).get(f"/analytics/mechanics/{ada.pk}/").content.decode()
        assert "Ada Visible: analytics" in page and "Clear-7q" in page
        assert "Bo Elsewhere" not in page
        assert login(admin_user).get("/analytics/mechanics/999999/").status_code == 404
        for user in (ada.user, history["bo"].user):
            assert login(user).get(f"/analytics/mechanics/{ada.pk}/").status_code == 404
