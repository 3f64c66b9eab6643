"""Accounts in the Django admin: API tokens are revoked through the service and can
never be brought back; list pages load their related rows in one query."""

import pytest

from autodoctor.accounts import admin as accounts_admin
from autodoctor.accounts.models import ApiToken
from autodoctor.accounts.services import api_token_create, api_token_revoke
from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory, WorkshopFactory

pytestmark = pytest.mark.django_db


def test_an_admin_cannot_un_revoke_a_token_or_give_it_to_someone_else(login, admin_user):
    owner = CustomerFactory().user
    token = api_token_create(user=owner, name="ci").token
    revoked_at = api_token_revoke(user=owner, token_id=token.pk).revoked_at
    client = login(admin_user)
    url = f"/admin/accounts/apitoken/{token.pk}/change/"
    form = client.get(url).content.decode()
    assert 'name="name"' in form
    for field in ("revoked_at", "user", "token_hash"):
        assert f'name="{field}' not in form  # read-only: shown, not editable
    response = client.post(
        url,
        {
            "name": "ci renamed",
            "revoked_at_0": "",
            "revoked_at_1": "",
            "user": admin_user.pk,
            "token_hash": "0" * 64,
        },
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.name == "ci renamed"  # the one editable field
    assert token.revoked_at == revoked_at and token.user == owner
    assert token.token_hash != "0" * 64


def test_the_revoke_action_revokes_through_the_service(login, admin_user, monkeypatch):
    owners = [CustomerFactory().user for _ in range(2)]
    tokens = [api_token_create(user=owner, name="ci").token for owner in owners]
    calls = []

    def spy(*, user, token_id):
        calls.append((user, token_id))
        return api_token_revoke(user=user, token_id=token_id)

    monkeypatch.setattr(accounts_admin, "api_token_revoke", spy)
    response = login(admin_user).post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [t.pk for t in tokens]},
        follow=True,
    )
    assert "Revoked 2 token(s)." in response.content.decode()
    assert sorted(calls, key=lambda c: c[1]) == [
        (o, t.pk) for o, t in zip(owners, tokens, strict=True)
    ]
    assert not ApiToken.objects.filter(revoked_at__isnull=True).exists()


@pytest.mark.parametrize(
    "url", ["workshop", "customerprofile", "vehicle", "apitoken", "mechanicprofile"]
)
def test_account_list_pages_take_a_fixed_number_of_queries(
    login, admin_user, url, django_assert_max_num_queries
):
    for _ in range(20):
        customer = CustomerFactory()
        VehicleFactory(customer=customer)
        api_token_create(user=customer.user, name="ci")
        MechanicFactory(workshop=WorkshopFactory())
    client = login(admin_user)
    client.get(f"/admin/accounts/{url}/")  # warm caches (content types, session)
    with django_assert_max_num_queries(12):
        response = client.get(f"/admin/accounts/{url}/")
    assert response.status_code == 200
