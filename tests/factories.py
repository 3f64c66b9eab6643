"""Factories that build consistent object graphs (a mechanic always has settings)."""

from datetime import UTC, datetime

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from autodoctor.accounts.models import (
    AccountType,
    ApprovalStatus,
    CustomerProfile,
    MechanicProfile,
    Role,
    User,
    Vehicle,
    Workshop,
)
from autodoctor.accounts.search_terms import mechanic_search_terms_sync
from autodoctor.availability.models import MechanicSettings, WeeklyBlock, WorkshopHours

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    role = Role.CUSTOMER
    time_zone = "America/Toronto"
    password = _PASSWORD_HASH
    # Factory people have confirmed their address (sign-up tests make unconfirmed ones).
    email_verified_at = datetime(2026, 1, 1, tzinfo=UTC)


class WorkshopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workshop
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Workshop {n}")
    city = "Toronto"
    postal_code = "M5V 2T6"
    time_zone = "America/Toronto"
    owner = factory.SubFactory(UserFactory, role=Role.WORKSHOP_STAFF)
    payout_account_id = factory.Sequence(lambda n: f"acct_ws_{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerProfile
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, role=Role.CUSTOMER)
    phone = "+14165550100"
    city = "Toronto"
    postal_code = "M4C 1B5"


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    customer = factory.SubFactory(CustomerFactory)
    year = 2018
    make = "Honda"
    model = "Civic"


class MechanicFactory(factory.django.DjangoModelFactory):
    """A virtual-only mechanic by default; pass workshop + account_type for the others."""

    class Meta:
        model = MechanicProfile
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, role=Role.MECHANIC)
    city = "Toronto"
    postal_code = "M4C 1B5"
    brands = factory.LazyFunction(lambda: ["Honda"])
    specialty_keywords = factory.LazyFunction(lambda: ["brakes"])
    years_experience = 5
    payout_account_id = factory.Sequence(lambda n: f"acct_mech_{n}")
    approval_status = ApprovalStatus.APPROVED  # pass PENDING for an applicant
    is_online = False
    # Available mechanics are seen "now" (the clock the test froze, or the real one); a
    # test about presence tiers passes last_seen_at itself.
    last_seen_at = factory.LazyAttribute(lambda o: timezone.now() if o.is_online else None)

    @factory.post_generation
    def settings(obj, create, extracted, **kwargs):
        if create:
            MechanicSettings.objects.create(mechanic=obj, **kwargs)
            mechanic_search_terms_sync(profiles=[obj])

    class Params:
        affiliated = factory.Trait(
            workshop=factory.SubFactory(WorkshopFactory), account_type=AccountType.WORKSHOP_MECHANIC
        )
        independent = factory.Trait(
            workshop=factory.SubFactory(WorkshopFactory),
            account_type=AccountType.INDIVIDUAL_MECHANIC,
        )


def weekly_hours(
    mechanic: MechanicProfile,
    days: range | list[int] = range(7),
    start: int = 9 * 60,
    end: int = 17 * 60,
) -> None:
    WeeklyBlock.objects.bulk_create(
        WeeklyBlock(mechanic=mechanic, day_of_week=d, start_minute=start, end_minute=end)
        for d in days
    )


def workshop_hours(
    workshop: Workshop,
    days: range | list[int] = range(7),
    open_: int = 9 * 60,
    close: int = 17 * 60,
    break_: tuple[int, int] | None = None,
) -> None:
    WorkshopHours.objects.bulk_create(
        WorkshopHours(
            workshop=workshop,
            day_of_week=d,
            open_minute=open_,
            close_minute=close,
            break_start_minute=break_[0] if break_ else None,
            break_end_minute=break_[1] if break_ else None,
        )
        for d in days
    )


def start_now_published(customer, intake, *, now=None):
    """A start-now session sent out to mechanics the way customers do it: paid for (with
    credits an admin grants here, or the waiver for a free plan), which publishes it."""
    from autodoctor.booking import services
    from autodoctor.payments.services import checkout, credits

    session = services.session_create_immediate(customer=customer, intake=intake, now=now)
    if intake.plan.is_free:
        checkout.payment_with_waiver(
            customer=customer, accepted=True, session_id=session.pk, now=now
        )
    else:
        from django.utils import timezone

        from autodoctor.payments.tax import customer_tax_quote

        admin = UserFactory(role=Role.ADMIN, is_staff=True)
        price = customer_tax_quote(customer, intake.plan.price_cents, now=now or timezone.now())
        credits.credits_grant(
            customer=customer, amount_cents=price.total_cents, note="", granted_by=admin
        )
        checkout.payment_with_credits(customer=customer, session_id=session.pk, now=now)
    session.refresh_from_db()
    return session
