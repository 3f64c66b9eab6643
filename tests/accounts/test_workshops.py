"""Workshop owners (issue 14 item 4): edit the workshop, invite staff and mechanics by
email, answers, leaving a workshop for future bookings only, staff see only their own."""

from datetime import timedelta

import pytest
from django.test import Client

from autodoctor.accounts import mechanics, workshops
from autodoctor.accounts.mechanic_types import MechanicType, mechanic_type
from autodoctor.accounts.models import Invitation, MechanicProfile, User
from autodoctor.booking import services as booking
from autodoctor.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound
from tests.factories import CustomerFactory, MechanicFactory, UserFactory, WorkshopFactory

from .conftest import NOW, SLOT, STRONG, deliver, link_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    return WorkshopFactory(name="Queen Street Auto")


@pytest.fixture
def owner(shop):
    return shop.owner


def invite(owner, shop, email, kind="staff", partnership="", now=NOW):
    invitation = workshops.invitation_send(
        user=owner,
        workshop_id=shop.pk,
        kind=kind,
        email=email,
        partnership_type=partnership,
        now=now,
    )
    message = [m for m in deliver(now) if "invites you" in m.subject][-1]
    url = link_in(message, "/accounts/invitations/")
    return invitation, url.rstrip("/").rsplit("/", 1)[1], message


def test_the_owner_edits_the_workshop_and_bays_go_through_one_function(owner, shop, monkeypatch):
    seen = []
    real = workshops.workshop_bays_set
    monkeypatch.setattr(
        workshops, "workshop_bays_set", lambda **kw: (seen.append(kw["bays"]), real(**kw))
    )
    workshops.workshop_update(
        user=owner,
        workshop_id=shop.pk,
        changes=workshops.WorkshopChanges(
            address="12 Queen St W",
            postal_code="m5h2n2",
            time_zone="America/Toronto",
            bays=4,
            payout_account_id="acct_new",
        ),
        now=NOW,
    )
    shop.refresh_from_db()
    assert (shop.address, shop.postal_code, shop.max_concurrent_appointments) == (
        "12 Queen St W",
        "M5H 2N2",
        4,
    )
    assert shop.payout_account_id == "acct_new" and seen == [4]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"bays": 0}, "bays"),
        ({"bays": 51}, "bays"),
        ({"postal_code": "x"}, "postal_code"),
        ({"time_zone": "Nope"}, "time_zone"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_workshop_changes_name_the_field_and_change_nothing(owner, shop, changes, field):
    with pytest.raises(InvalidInput) as refused:
        workshops.workshop_update(
            user=owner,
            workshop_id=shop.pk,
            changes=workshops.WorkshopChanges(address="changed", **changes),
        )
    assert refused.value.data["field"] == field
    shop.refresh_from_db()
    assert shop.address != "changed"


def test_staff_see_their_workshop_but_cannot_change_it_and_others_see_nothing(owner, shop):
    staff = UserFactory(role="workshop_staff")
    shop.staff.add(staff)
    assert workshops.access_workshop(staff, shop.pk) == shop
    with pytest.raises(NotAllowed):
        workshops.workshop_update(
            user=staff, workshop_id=shop.pk, changes=workshops.WorkshopChanges(bays=2)
        )
    other_staff = WorkshopFactory().owner
    for outsider in (other_staff, CustomerFactory().user, MechanicFactory().user):
        with pytest.raises(NotFound):
            workshops.access_workshop(outsider, shop.pk)


def test_a_staff_invitation_to_a_new_address_creates_a_verified_staff_account(owner, shop):
    invitation, token, message = invite(owner, shop, "Sam@Example.test")
    assert message.to == ["sam@example.test"]
    assert "join the staff of Queen Street Auto" in message.body
    assert invitation.token_hash != token and token not in str(list(Invitation.objects.values()))
    client = Client()
    page = client.get(f"/accounts/invitations/{token}/")
    assert "Create your account to accept" in page.content.decode()
    done = client.post(
        f"/accounts/invitations/{token}/",
        {
            "answer": "signup",
            "full_name": "Sam Staff",
            "password": STRONG,
            "time_zone": "America/Toronto",
        },
        follow=True,
    )
    assert "Welcome to Queen Street Auto" in done.content.decode()
    sam = User.objects.get(email="sam@example.test")
    assert sam.role == "workshop_staff" and sam.email_verified
    assert shop.staff.filter(pk=sam.pk).exists()
    assert "accepted your invitation" in deliver()[-1].subject
    reused = Client().get(f"/accounts/invitations/{token}/")
    assert reused.status_code == 409 and "accepted already" in reused.content.decode()


def test_a_mechanic_accepts_an_affiliation_and_the_type_follows(owner, shop, login):
    mechanic = MechanicFactory(user__email="ana@example.test")
    _, token, message = invite(owner, shop, "ana@example.test", "mechanic", "employee")
    assert message.to[0].endswith("<ana@example.test>")
    page = login(mechanic.user).post(f"/accounts/invitations/{token}/", {"answer": "accept"})
    assert page.status_code == 302
    mechanic.refresh_from_db()
    assert mechanic.workshop == shop and mechanic_type(mechanic) is MechanicType.WORKSHOP_AFFILIATED


def test_declining_needs_only_the_link_and_tells_the_owner(owner, shop):
    invitation, token, _ = invite(owner, shop, "lee@example.test")
    response = Client().post(f"/accounts/invitations/{token}/", {"answer": "decline"}, follow=True)
    assert "You declined" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == "declined"
    assert deliver()[-1].subject == "lee@example.test declined your invitation"


def test_an_invitation_for_another_address_is_not_yours(owner, shop):
    _, token, _ = invite(owner, shop, "ana@example.test", "mechanic", "contractor")
    stranger = MechanicFactory().user
    with pytest.raises(NotFound):
        workshops.invitation_accept(token=token, user=stranger, now=NOW)


def test_an_invitation_of_another_workshop_cannot_be_withdrawn_here(owner, shop):
    other = WorkshopFactory()
    invitation, _, _ = invite(other.owner, other, "x@example.test")
    with pytest.raises(NotFound):
        workshops.invitation_revoke(user=owner, workshop_id=shop.pk, invitation_id=invitation.pk)
    with pytest.raises(NotFound):  # nor through their workshop id
        workshops.invitation_revoke(user=owner, workshop_id=other.pk, invitation_id=invitation.pk)


def test_expired_and_withdrawn_invitations_do_not_work(owner, shop):
    invitation, token, _ = invite(owner, shop, "x@example.test")
    with pytest.raises(DomainError) as expired:
        workshops.invitation_lookup(token=token, now=NOW + timedelta(days=8))
    assert expired.value.status == 410
    workshops.invitation_revoke(user=owner, workshop_id=shop.pk, invitation_id=invitation.pk)
    with pytest.raises(Conflict):
        workshops.invitation_decline(token=token, now=NOW)


def test_inviting_again_replaces_the_pending_invitation(owner, shop):
    first, first_token, _ = invite(owner, shop, "x@example.test")
    _, second_token, _ = invite(owner, shop, "X@example.test")
    first.refresh_from_db()
    assert first.status == "revoked"
    with pytest.raises(Conflict):
        workshops.invitation_lookup(token=first_token, now=NOW)
    assert workshops.invitation_lookup(token=second_token, now=NOW).email == "x@example.test"


def test_the_wrong_role_cannot_take_a_staff_invitation(owner, shop):
    customer = CustomerFactory(user__email="c@example.test").user
    _, token, _ = invite(owner, shop, "c@example.test")
    with pytest.raises(NotAllowed, match="customer account"):
        workshops.invitation_accept(token=token, user=customer, now=NOW)


def test_pointless_invitations_are_refused(owner, shop):
    with pytest.raises(Conflict):
        workshops.invitation_send(user=owner, workshop_id=shop.pk, kind="staff", email=owner.email)
    with pytest.raises(InvalidInput) as refused:
        workshops.invitation_send(
            user=owner, workshop_id=shop.pk, kind="mechanic", email="m@example.test"
        )
    assert refused.value.data["field"] == "partnership_type"


def test_leaving_a_workshop_keeps_booked_sessions_and_applies_to_new_ones(shop, hold, intake):
    from tests.factories import workshop_hours

    workshop_hours(shop)
    mechanic = MechanicFactory(workshop=shop, account_type="workshop_mechanic")
    customer = CustomerFactory().user
    reservation = hold(customer, mechanic, start=SLOT)
    booking.reservation_confirm(reservation_id=reservation.pk, customer=customer, now=NOW)
    outcome = mechanics.mechanic_affiliation_leave(user=mechanic.user, now=NOW)
    assert outcome.kept_session_ids == [reservation.session_id]
    mechanic.refresh_from_db()
    assert mechanic.workshop is None and mechanic_type(mechanic) is MechanicType.VIRTUAL_ONLY
    reservation.session.refresh_from_db()
    assert reservation.session.status == "scheduled"
    assert reservation.session.mechanic_id == mechanic.pk
    notice = deliver()[-1]
    assert "no longer works with Queen Street Auto" in notice.subject
    assert "1 session already booked stays as booked" in notice.body
    with pytest.raises(Conflict):
        mechanics.mechanic_affiliation_leave(user=mechanic.user, now=NOW)


def test_the_leave_page_shows_the_bookings_that_stay(shop, login):
    mechanic = MechanicFactory(workshop=shop, account_type="workshop_mechanic")
    client = login(mechanic.user)
    text = client.get("/accounts/mechanic/leave-workshop/").content.decode()
    assert "new bookings only" in text and "no upcoming sessions" in text
    done = client.post("/accounts/mechanic/leave-workshop/", follow=True)
    assert "You no longer work with Queen Street Auto" in done.content.decode()
    assert MechanicProfile.objects.get(pk=mechanic.pk).workshop is None


def test_the_workshop_page_for_owner_staff_and_strangers(owner, shop, login):
    staff = UserFactory(role="workshop_staff", full_name="Stan Staff")
    shop.staff.add(staff)
    owner_page = login(owner).get(f"/accounts/workshops/{shop.pk}/").content.decode()
    assert "Save workshop" in owner_page and "Send invitation" in owner_page
    assert "Stan Staff" in owner_page
    staff_page = login(staff).get("/accounts/workshops/", follow=True).content.decode()
    assert "Queen Street Auto" in staff_page and "Save workshop" not in staff_page
    other = WorkshopFactory().owner
    assert login(other).get(f"/accounts/workshops/{shop.pk}/").status_code == 404
    saved = login(owner).post(
        f"/accounts/workshops/{shop.pk}/edit/",
        {"name": "Queen Street Auto", "time_zone": "America/Toronto", "bays": "0"},
    )
    assert saved.status_code == 422 and "greater than or equal to 1" in saved.content.decode()
    sent = login(owner).post(
        f"/accounts/workshops/{shop.pk}/invite/",
        {"email": "new@example.test", "kind": "staff"},
        follow=True,
    )
    assert "Invitation sent to new@example.test" in sent.content.decode()
    assert login(staff).post(
        f"/accounts/workshops/{shop.pk}/invite/", {"email": "n@example.test", "kind": "staff"}
    ).status_code in (302, 403)
    assert not Invitation.objects.filter(email="n@example.test").exists()


def test_api_workshop_routes_by_role(owner, shop, login):
    staff = UserFactory(role="workshop_staff")
    shop.staff.add(staff)
    base = f"/api/workshops/{shop.pk}"
    assert (
        login(owner)
        .put(f"{base}/profile", {"bays": 3}, content_type="application/json")
        .json()["bays"]
        == 3
    )
    assert login(staff).get(f"{base}/profile").status_code == 200
    assert (
        login(staff)
        .put(f"{base}/profile", {"bays": 9}, content_type="application/json")
        .status_code
        == 403
    )
    for outsider in (WorkshopFactory().owner, CustomerFactory().user, MechanicFactory().user):
        assert login(outsider).get(f"{base}/people").status_code == 404
    sent = login(owner).post(
        f"{base}/invitations",
        {"email": "m@example.test", "kind": "mechanic", "partnership_type": "employee"},
        content_type="application/json",
    )
    assert sent.status_code == 201
    people = login(staff).get(f"{base}/people").json()
    assert [i["email"] for i in people["invitations"]] == ["m@example.test"]
    assert (
        login(owner).delete(f"{base}/invitations/{sent.json()['id']}").json()["status"] == "revoked"
    )
    assert login(owner).delete(f"{base}/staff/{staff.pk}").status_code == 204
    assert login(staff).get(f"{base}/profile").status_code == 404
