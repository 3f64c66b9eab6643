import pytest
from django.core.management import call_command

from autodoctor.accounts.mechanic_types import MechanicType, mechanic_type
from autodoctor.accounts.models import MechanicProfile, User, Workshop
from autodoctor.availability.models import WeeklyBlock

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        MechanicProfile.objects.count(),
        Workshop.objects.count(),
        WeeklyBlock.objects.count(),
    )


def test_seed_demo_is_idempotent_and_covers_every_type():
    call_command("seed_demo", quiet=True)
    first = counts()
    call_command("seed_demo", quiet=True)
    assert counts() == first
    kinds = {mechanic_type(m) for m in MechanicProfile.objects.all()}
    assert kinds == set(MechanicType)
    assert MechanicProfile.objects.count() >= 20
    assert Workshop.objects.values("time_zone").distinct().count() >= 3


def test_seed_demo_generates_bench_mechanics_once():
    call_command("seed_demo", mechanics=50, quiet=True)
    total = MechanicProfile.objects.count()
    call_command("seed_demo", mechanics=50, quiet=True)
    assert MechanicProfile.objects.count() == total
    assert User.objects.filter(email__startswith="bench-mechanic-").count() == 50


def test_seed_demo_gives_the_workshop_visits_in_each_tab_once():
    from autodoctor.workshops.models import Visit
    from autodoctor.workshops.selectors import workshop_tab_counts

    call_command("seed_demo", quiet=True)
    call_command("seed_demo", quiet=True)
    shop = Workshop.objects.get(name="Queen Street Auto")
    tabs = workshop_tab_counts(shop.pk)
    assert (tabs["pending"], tabs["confirmed"], tabs["completed"]) == (1, 1, 1)
    confirmed = Visit.objects.get(workshop=shop, status="confirmed")
    assert confirmed.assigned_mechanic.user.email.startswith("mechanic.affiliated@")
