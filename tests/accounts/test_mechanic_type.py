"""plan §2.2: every branch of mechanic_type, in Python and as the SQL expression."""

from types import SimpleNamespace

import pytest

from autodoctor.accounts.mechanic_types import MechanicType, mechanic_type, mechanic_type_expression
from autodoctor.accounts.models import MechanicProfile
from tests.factories import MechanicFactory, WorkshopFactory

CASES = [
    # (has workshop, account_type, partnership_type, expected)
    (False, "", "", MechanicType.VIRTUAL_ONLY),
    (False, "workshop_mechanic", "employee", MechanicType.VIRTUAL_ONLY),
    (True, "workshop_mechanic", "", MechanicType.WORKSHOP_AFFILIATED),
    (True, "individual_mechanic", "employee", MechanicType.INDEPENDENT_WORKSHOP),
    (True, "", "employee", MechanicType.WORKSHOP_AFFILIATED),
    (True, "", "contractor", MechanicType.WORKSHOP_AFFILIATED),
    (True, "", "owner", MechanicType.VIRTUAL_ONLY),
    (True, "", "", MechanicType.VIRTUAL_ONLY),
]
IDS = [
    "no_workshop_is_virtual_only",
    "no_workshop_wins_over_account_type",
    "workshop_mechanic_is_affiliated",
    "individual_mechanic_with_workshop_is_independent",
    "fallback_employee_is_affiliated",
    "fallback_contractor_is_affiliated",
    "unclear_partnership_defaults_to_virtual_only",
    "nothing_known_defaults_to_virtual_only",
]


@pytest.mark.parametrize(
    ("has_workshop", "account_type", "partnership", "expected"), CASES, ids=IDS
)
def test_mechanic_type_branch(has_workshop, account_type, partnership, expected):
    data = SimpleNamespace(
        workshop_id=7 if has_workshop else None,
        account_type=account_type,
        partnership_type=partnership,
    )
    assert mechanic_type(data) is expected


@pytest.mark.django_db
def test_sql_expression_agrees_with_python_for_every_branch():
    shop = WorkshopFactory()
    for has_workshop, account_type, partnership, _ in CASES:
        MechanicFactory(
            workshop=shop if has_workshop else None,
            account_type=account_type,
            partnership_type=partnership,
        )
    rows = MechanicProfile.objects.annotate(kind=mechanic_type_expression()).order_by("pk")
    assert [r.kind for r in rows] == [c[3].value for c in CASES]
    assert [r.kind for r in rows] == [mechanic_type(r).value for r in rows]
