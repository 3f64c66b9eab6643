"""The contractor-law rules (plan §5.3, §5.5), proved from the code and the data for the
admins' compliance page (issue 12).

Each check returns what it looked at and whether the rule held. None of them counts
declines or acceptances per mechanic, or ranks anyone: the page shows platform totals of
what *should* be zero and the names of what matching reads, never a responsiveness figure.

* ``no_responsiveness_metric``: no model field and no analytics metric is an acceptance
  rate, a decline count or a penalty (the words searched are ``FIELD_WORDS`` and
  ``METRIC_WORDS``; `tests/booking/test_lifecycle.py` and `tests/analytics` assert the same
  through these functions).
* ``matching_reads``: the fields a match score is computed from (`booking.matching`):
  presence, specialties, brands, experience, area and rating; it fails if one of them is
  named like an offer or a response.
  That declining leaves every rank as it was is proved by a test (ranks before and after
  a decline), not by data.
* ``accepted_before_assigned``: every start-now session of the period that has a mechanic
  has an accepted offer from that mechanic (nobody is assigned without saying yes).
* ``own_hours``: the weekly-hour blocks mechanics wrote in the period and how many
  mechanics wrote them, and that the hours of anyone but a workshop-affiliated
  mechanic have no approval step (their time off is approved as they enter it; only an
  affiliated mechanic's waits for their workshop, plan §2.3).
* ``affiliated_pay``: every earning of a workshop-affiliated mechanic's session in the
  period was paid to their workshop, not to them (plan §5.5).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from django.apps import apps
from django.db.models import Count, Exists, OuterRef, Q
from django.utils.translation import gettext_lazy

from autodoctor.accounts.mechanic_types import MechanicType, mechanic_type_expression

from .metrics import Period

FIELD_WORDS = ("acceptance", "accept_rate", "decline_count", "declines", "penalty", "strike")
METRIC_WORDS = ("acceptance_rate", "decline_count", "declined_count", "offerstatus.declined")


@dataclass(frozen=True)
class Check:
    key: str
    held: bool
    evidence: dict


def forbidden_fields() -> list[str]:
    """``Model.field`` for every model field whose name is a responsiveness metric."""
    return [
        f"{model.__name__}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if any(word in field.name.lower() for word in FIELD_WORDS)
    ]


def forbidden_metric_terms() -> list[str]:
    """The words of METRIC_WORDS found in the analytics metrics' code."""
    from . import metrics, visits

    source = (inspect.getsource(metrics) + inspect.getsource(visits)).lower()
    return [word for word in METRIC_WORDS if word in source]


# What the page calls the fields a match score reads; a field added to the score and
# not named here shows its model name.
MATCHING_FIELD_NAMES = {
    "is_online": gettext_lazy("their availability switch"),
    "last_seen_at": gettext_lazy("when they were last seen"),
    "specialty_keywords": gettext_lazy("specialties"),
    "brands": gettext_lazy("brands"),
    "years_experience": gettext_lazy("years of experience"),
    "fsa": gettext_lazy("postal area"),
    "city": gettext_lazy("city"),
    "rating": gettext_lazy("rating"),
}


def matching_reads() -> list[str]:
    """The names of the profile fields a match score is computed from (the owner's
    time zone decides "online today")."""
    from autodoctor.accounts.models import MechanicProfile
    from autodoctor.booking.matching import _ScoreRow

    names = [name for name in _ScoreRow._fields if name not in ("pk", "user")]
    return [
        str(MATCHING_FIELD_NAMES.get(name) or MechanicProfile._meta.get_field(name).verbose_name)
        for name in names
    ] + [str(gettext_lazy("their time zone"))]


def _reads_offers() -> list[str]:
    """The fields a match score reads that are about offers or responsiveness (none)."""
    from autodoctor.booking.matching import _ScoreRow

    words = (*FIELD_WORDS, "offer", "declin", "respon")
    return [name for name in _ScoreRow._fields if any(word in name for word in words)]


def checks(period: Period) -> list[Check]:
    from autodoctor.availability.models import TimeOff, TimeOffStatus, WeeklyBlock
    from autodoctor.booking.models import Offer, OfferStatus, Session
    from autodoctor.payments.models import PayeeKind, PayoutEntry

    fields, terms = forbidden_fields(), forbidden_metric_terms()
    in_period = {"created_at__gte": period.start, "created_at__lt": period.end}

    assigned = Session.objects.filter(
        scheduled_for__isnull=True, mechanic__isnull=False, **in_period
    ).annotate(
        accepted=Exists(
            Offer.objects.filter(
                session=OuterRef("pk"),
                accepted_by=OuterRef("mechanic"),
                status=OfferStatus.ACCEPTED,
            )
        )
    )
    start_now = assigned.aggregate(
        total=Count("pk"), unaccepted=Count("pk", filter=Q(accepted=False))
    )

    written = WeeklyBlock.objects.filter(**in_period).aggregate(
        blocks=Count("pk"), mechanics=Count("mechanic_id", distinct=True)
    )
    own_time_off = (
        TimeOff.objects.filter(**in_period)
        .annotate(kind=mechanic_type_expression("mechanic__"))
        .exclude(kind=MechanicType.WORKSHOP_AFFILIATED)
    )
    waited = own_time_off.filter(status=TimeOffStatus.PENDING).count()

    affiliated = PayoutEntry.objects.filter(
        mechanic_type=MechanicType.WORKSHOP_AFFILIATED, **in_period
    )
    pay = affiliated.aggregate(
        total=Count("pk"),
        # a workshop row always names its workshop (payout_payee_matches_kind)
        elsewhere=Count("pk", filter=~Q(payee_kind=PayeeKind.WORKSHOP)),
    )
    return [
        Check("no_responsiveness_metric", not fields and not terms,
              {"fields": fields, "metric_terms": terms}),
        Check("matching_reads", not _reads_offers(), {"fields": matching_reads()}),
        Check("accepted_before_assigned", start_now["unaccepted"] == 0, start_now),
        Check("own_hours", waited == 0, {**written, "time_off_waiting": waited}),
        Check("affiliated_pay", pay["elsewhere"] == 0, pay),
    ]  # fmt: skip
