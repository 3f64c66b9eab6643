"""Mechanic type (plan §2.2): the one place every caller asks "what kind of mechanic?".

The type decides where availability comes from (§2.3), who controls the
schedule and who is paid (§2.4). `mechanic_type` works on one profile;
`mechanic_type_expression` is the same rule as SQL for set-based queries.
Keep the two in step: tests run both over the same cases.
"""

from typing import Protocol

from django.db import models
from django.db.models import Case, Q, Value, When
from django.utils.translation import gettext_lazy


class MechanicType(models.TextChoices):
    VIRTUAL_ONLY = "virtual_only", gettext_lazy("Virtual-only")
    INDEPENDENT_WORKSHOP = "independent_workshop", gettext_lazy("Independent workshop owner")
    WORKSHOP_AFFILIATED = "workshop_affiliated", gettext_lazy("Workshop-affiliated")


class MechanicTypeData(Protocol):
    workshop_id: int | None
    account_type: str
    partnership_type: str


def mechanic_type(mechanic: MechanicTypeData) -> MechanicType:
    # No workshop affiliation = virtual only.
    if not mechanic.workshop_id:
        return MechanicType.VIRTUAL_ONLY
    # Has a workshop and is employed/contracted by it.
    if mechanic.account_type == "workshop_mechanic":
        return MechanicType.WORKSHOP_AFFILIATED
    # Has a workshop and owns it (owner/operator).
    if mechanic.account_type == "individual_mechanic":
        return MechanicType.INDEPENDENT_WORKSHOP
    # Fallback 1: the partnership type says employee or contractor.
    if mechanic.partnership_type in ("employee", "contractor"):
        return MechanicType.WORKSHOP_AFFILIATED
    # Fallback 2: unclear -> virtual only.
    return MechanicType.VIRTUAL_ONLY


def mechanic_type_expression(prefix: str = "") -> Case:
    """SQL CASE with the same branches, for annotate()/filter() on MechanicProfile.

    `prefix` is the lookup path to the profile, e.g. "mechanic__" from a related model.
    """
    workshop_missing = Q(**{f"{prefix}workshop__isnull": True})
    return Case(
        When(workshop_missing, then=Value(MechanicType.VIRTUAL_ONLY)),
        When(
            Q(**{f"{prefix}account_type": "workshop_mechanic"}),
            then=Value(MechanicType.WORKSHOP_AFFILIATED),
        ),
        When(
            Q(**{f"{prefix}account_type": "individual_mechanic"}),
            then=Value(MechanicType.INDEPENDENT_WORKSHOP),
        ),
        When(
            Q(**{f"{prefix}partnership_type__in": ["employee", "contractor"]}),
            then=Value(MechanicType.WORKSHOP_AFFILIATED),
        ),
        default=Value(MechanicType.VIRTUAL_ONLY),
        output_field=models.CharField(max_length=30),
    )
