"""Who may call each account API route: anonymous, a customer, a mechanic, the workshop's
owner and staff, another workshop's owner, a platform admin. Non-owners get 401/403/404
and never the owner's data."""

import pytest

from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    UserFactory,
    VehicleFactory,
    WorkshopFactory,
)

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "customer", "mechanic", "owner", "staff", "other_owner", "admin"]


@pytest.fixture
def world(db):
    shop = WorkshopFactory(payout_account_id="acct_secret_owner")
    staff = UserFactory(role="workshop_staff")
    shop.staff.add(staff)
    customer = CustomerFactory()
    vehicle = VehicleFactory(customer=customer, vin="1M8GDM9AXKP042788")
    mechanic = MechanicFactory(approval_status="pending")
    return {
        "shop": shop,
        "vehicle": vehicle,
        "users": {
            "anonymous": None,
            "customer": customer.user,
            "mechanic": mechanic.user,
            "owner": shop.owner,
            "staff": staff,
            "other_owner": WorkshopFactory().owner,
            "admin": UserFactory(role="admin", is_staff=True, is_superuser=True),
        },
    }


def call(client_for, world, role, method, path, body=None):
    from django.test import Client

    user = world["users"][role]
    client = Client() if user is None else client_for(user)
    kwargs = {"content_type": "application/json"} if body is not None else {}
    return getattr(client, method)(path, body if body is not None else None, **kwargs)


# (method, path, body, {role: expected status}); a role left out expects the default.
MATRIX = [
    ("get", "/api/me", None, {"anonymous": 401}, 200),
    ("get", "/api/me/export", None, {"anonymous": 401}, 200),
    ("get", "/api/me/vehicles", None, {"anonymous": 401}, 200),
    ("delete", "/api/me/vehicles/{vehicle}", None, {"anonymous": 401, "customer": 204}, 404),
    ("get", "/api/mechanic/application", None, {"anonymous": 401, "mechanic": 200}, 403),
    ("get", "/api/mechanic-applications", None, {"anonymous": 401, "admin": 200}, 403),
    (
        "get",
        "/api/workshops/{shop}/profile",
        None,
        {"anonymous": 401, "owner": 200, "staff": 200, "admin": 200},
        404,
    ),
    (
        "put",
        "/api/workshops/{shop}/profile",
        {"bays": 2},
        {"anonymous": 401, "owner": 200, "admin": 200, "staff": 403},
        404,
    ),
    (
        "get",
        "/api/workshops/{shop}/people",
        None,
        {"anonymous": 401, "owner": 200, "staff": 200, "admin": 200},
        404,
    ),
    (
        "post",
        "/api/workshops/{shop}/invitations",
        {"email": "n@example.test", "kind": "staff"},
        {"anonymous": 401, "owner": 201, "admin": 201, "staff": 403},
        404,
    ),
    ("post", "/api/mechanic/affiliation/leave", None, {"anonymous": 401, "mechanic": 409}, 403),
]


@pytest.mark.parametrize(("method", "template", "body", "expected", "default"), MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_every_account_route_answers_each_role(
    world, login, role, method, template, body, expected, default
):
    from autodoctor.accounts.models import Invitation

    Invitation.objects.all().delete()  # an admin's and an owner's invite must not collide
    path = template.format(shop=world["shop"].pk, vehicle=world["vehicle"].pk)
    response = call(login, world, role, method, path, body)
    assert response.status_code == expected.get(role, default), response.content
    if response.status_code >= 400 and role not in ("owner", "admin", "staff"):
        text = response.content.decode()
        assert "acct_secret_owner" not in text and "1M8GDM9AXKP042788" not in text
