import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps as django_apps

from autodoctor.booking.models import Plan, Session, SessionStatus
from tests.factories import CustomerFactory, MechanicFactory

_plans_migration = importlib.import_module(
    "autodoctor.booking.migrations.0002_overlap_guard_and_plans"
)

# A fixed "now": Wednesday 2031-03-12 12:00 UTC.
NOW = datetime(2031, 3, 12, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def plans(db):
    # Transactional tests flush tables, data-migration rows included: recreate them.
    _plans_migration.create_plans(django_apps, None)


@pytest.fixture
def completed_session(db):
    """completed_session(customer=None, mechanic=None) -> a completed Session."""

    def _make(*, customer=None, mechanic=None, ended_at=NOW - timedelta(hours=1)):
        customer = customer or CustomerFactory().user
        mechanic = mechanic or MechanicFactory()
        return Session.objects.create(
            customer=customer,
            mechanic=mechanic,
            plan=Plan.objects.get(code="advice"),
            status=SessionStatus.COMPLETED,
            concern="Grinding noise when braking",
            duration_minutes=30,
            started_at=ended_at - timedelta(minutes=30),
            ended_at=ended_at,
        )

    return _make


def booking(
    mechanic,
    *,
    created,
    scheduled_for=None,
    offered_at=None,
    minutes=30,
    status=SessionStatus.SCHEDULED,
    confirmed=True,
    reservation_status="confirmed",
    cancelled_by="",
    reschedule_count=0,
    customer=None,
):
    """A hand-built session: advance when `scheduled_for` is given (with a reservation
    confirmed at `created` unless `confirmed=False`), start-now otherwise."""
    from autodoctor.booking.models import Reservation

    customer = customer or CustomerFactory().user
    session = Session.objects.create(
        customer=customer,
        mechanic=mechanic,
        plan=Plan.objects.get(code="advice"),
        status=status,
        concern="Grinding noise when braking",
        duration_minutes=minutes,
        scheduled_for=scheduled_for,
        offered_at=offered_at,
        cancelled_by=cancelled_by,
        reschedule_count=reschedule_count,
    )
    Session.objects.filter(pk=session.pk).update(created_at=created)
    if scheduled_for is not None and mechanic is not None:
        Reservation.objects.create(
            mechanic=mechanic,
            session=session,
            starts_at=scheduled_for,
            ends_at=scheduled_for + timedelta(minutes=minutes),
            blocked_until=scheduled_for + timedelta(minutes=minutes),
            status=reservation_status if confirmed else "expired",
            confirmed_at=created if confirmed else None,
        )
    session.refresh_from_db()
    return session


def earning(
    session,
    mechanic,
    *,
    gross,
    payee,
    created,
    workshop=None,
    refund=False,
    mechanic_type="virtual",
):
    """A payment of `gross` for `session` and its ledger rows at `created`: the payee's
    earning (to `workshop` when given), and its reversal when `refund`."""
    import time_machine

    from autodoctor.payments.models import Payment, PayoutEntry, Refund

    payment = Payment.objects.create(
        customer=session.customer,
        session=session,
        plan=session.plan,
        method="credits",
        status="succeeded",
        amount_cents=gross,
        subtotal_cents=gross,
    )
    kind = "workshop" if workshop else "mechanic"
    common = dict(
        payment=payment,
        session=session,
        mechanic=mechanic,
        mechanic_type=mechanic_type,
        payee_kind=kind,
        payee_mechanic=None if workshop else mechanic,
        payee_workshop=workshop,
    )
    with time_machine.travel(created, tick=False):
        PayoutEntry.objects.create(
            kind="earning",
            gross_cents=gross,
            payee_cents=payee,
            platform_cents=gross - payee,
            **common,
        )
        if refund:
            back = Refund.objects.create(
                payment=payment, amount_cents=gross, destination="credits", reason="test"
            )
            PayoutEntry.objects.create(
                kind="reversal",
                refund=back,
                gross_cents=-gross,
                payee_cents=-payee,
                platform_cents=-(gross - payee),
                **common,
            )
