"""Becoming a mechanic (issue 14 item 3): the application, the type that follows from
it, the photo, and admin approval gating offers, listings, search and holds."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from autodoctor.accounts import mechanics
from autodoctor.accounts.mechanic_types import MechanicType, mechanic_type
from autodoctor.accounts.models import ApprovalStatus, MechanicProfile, Workshop
from autodoctor.availability import service as availability
from autodoctor.booking import services as booking
from autodoctor.booking.matching import MatchCriteria, mechanics_ranked
from autodoctor.booking.models import Offer
from autodoctor.booking.selectors import offers_visible_to
from autodoctor.errors import Conflict, InvalidInput, NotAllowed, NotFound
from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    UserFactory,
    start_now_published,
    weekly_hours,
)

from .conftest import NOW, SLOT, deliver, link_in

pytestmark = pytest.mark.django_db


def image(size=(1200, 900), fmt="PNG") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, fmt)
    return SimpleUploadedFile(f"me.{fmt.lower()}", out.getvalue(), content_type="image/png")


def application(**changes) -> mechanics.Application:
    data = {
        "years_experience": 12,
        "city": "Toronto",
        "postal_code": "m4c1b5",
        "time_zone": "America/Toronto",
        "work_mode": "virtual",
        "brands": ["Honda", "honda", " Toyota "],
        "specialties": ["brakes"],
        "bio": "Red Seal technician.",
        **changes,
    }
    return mechanics.Application(**data)


@pytest.fixture
def applicant(db):
    """A mechanic who signed up and confirmed the address, not yet approved."""
    return MechanicFactory(approval_status=ApprovalStatus.PENDING).user


@pytest.fixture
def admin(db):
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


def test_a_virtual_only_application_waits_for_review(applicant):
    profile = mechanics.mechanic_application_submit(
        user=applicant, application=application(), photo=image(), now=NOW
    )
    assert profile.approval_status == "pending" and profile.applied_at == NOW
    assert profile.brands == ["Honda", "Toyota"] and profile.postal_code == "M4C 1B5"
    assert mechanic_type(profile) is MechanicType.VIRTUAL_ONLY
    with profile.photo.open("rb") as file, Image.open(file) as stored:
        assert stored.format == "JPEG" and max(stored.size) == 512


def test_an_independent_owner_creates_the_workshop_and_is_typed_by_the_one_rule(applicant):
    profile = mechanics.mechanic_application_submit(
        user=applicant,
        application=application(
            work_mode="independent",
            shop=mechanics.ShopFacts(
                name="Casey's Garage", address="1 King St", city="Toronto", postal_code="m5v2t6"
            ),
        ),
        now=NOW,
    )
    shop = Workshop.objects.get(owner=applicant)
    assert (profile.workshop, shop.postal_code) == (shop, "M5V 2T6")
    assert mechanic_type(profile) is MechanicType.INDEPENDENT_WORKSHOP


def test_working_with_a_workshop_needs_its_invitation(applicant):
    with pytest.raises(InvalidInput) as refused:
        mechanics.mechanic_application_submit(
            user=applicant, application=application(work_mode="affiliated"), now=NOW
        )
    assert refused.value.data["field"] == "invitation_token"


def test_an_affiliated_application_accepts_the_invitation(applicant):
    from autodoctor.accounts import workshops

    shop = Workshop.objects.create(name="Shop", owner=UserFactory(role="workshop_staff"))
    workshops.invitation_send(
        user=shop.owner,
        workshop_id=shop.pk,
        kind="mechanic",
        email=applicant.email,
        partnership_type="contractor",
        now=NOW,
    )
    token = link_in(deliver()[-1], "/accounts/invitations/").rstrip("/").rsplit("/", 1)[1]
    profile = mechanics.mechanic_application_submit(
        user=applicant,
        application=application(work_mode="affiliated", invitation_token=token),
        now=NOW,
    )
    assert profile.workshop == shop and profile.partnership_type == "contractor"
    assert mechanic_type(profile) is MechanicType.WORKSHOP_AFFILIATED


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"years_experience": 71}, "years_experience"),
        ({"postal_code": ""}, "postal_code"),
        ({"city": ""}, "city"),
        ({"work_mode": "robot"}, "work_mode"),
        ({"brands": [f"b{i}" for i in range(21)]}, "brands"),
        ({"work_mode": "independent"}, "shop_name"),
        ({"time_zone": "Moon/Base"}, "time_zone"),
    ],
)
def test_bad_applications_name_the_field_and_change_nothing(applicant, changes, field):
    with pytest.raises(InvalidInput) as refused:
        mechanics.mechanic_application_submit(
            user=applicant, application=application(**changes), now=NOW
        )
    assert refused.value.data["field"] == field
    assert MechanicProfile.objects.get(user=applicant).applied_at is None


@pytest.mark.parametrize(
    ("upload", "words"),
    [
        (SimpleUploadedFile("x.png", b"not an image at all"), "not an image"),
        (image(fmt="GIF"), "JPEG, PNG or WebP"),
    ],
)
def test_a_bad_photo_leaves_no_profile_change_and_no_file(applicant, upload, words, settings):
    with pytest.raises(InvalidInput, match=words) as refused:
        mechanics.mechanic_application_submit(
            user=applicant, application=application(bio="changed"), photo=upload, now=NOW
        )
    assert refused.value.data["field"] == "photo"
    profile = MechanicProfile.objects.get(user=applicant)
    assert profile.bio != "changed" and not profile.photo
    assert not (settings.MEDIA_ROOT / "mechanics").exists()


def test_a_photo_over_the_size_limit_is_refused(applicant, settings):
    settings.MECHANIC_PHOTO_MAX_BYTES = 1024 * 1024
    big = SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * (1024 * 1024 + 1))
    with pytest.raises(InvalidInput, match="larger than 1 MB"):
        mechanics.mechanic_application_submit(
            user=applicant, application=application(), photo=big, now=NOW
        )


def test_a_refused_application_after_a_stored_photo_removes_the_new_file(applicant, settings):
    """The photo is written before the transaction ends; a later refusal must not leave it."""
    with pytest.raises(NotFound):
        mechanics.mechanic_application_submit(
            user=applicant,
            application=application(work_mode="affiliated", invitation_token="bogus-token"),
            photo=image(),
            now=NOW,
        )
    files = list((settings.MEDIA_ROOT).rglob("*.jpg")) if settings.MEDIA_ROOT.exists() else []
    assert files == []


def test_an_unverified_mechanic_cannot_apply(db):
    user = MechanicFactory(approval_status="pending", user__email_verified_at=None).user
    with pytest.raises(NotAllowed):
        mechanics.mechanic_application_submit(user=user, application=application(), now=NOW)


# --------------------------------------------------------------------------- approval gate


@pytest.fixture
def pending_with_hours(applicant):
    profile = mechanics.mechanic_application_submit(
        user=applicant, application=application(), now=NOW
    )
    weekly_hours(profile, days=range(7), start=9 * 60, end=17 * 60)
    return profile


def test_an_unapproved_mechanic_is_in_no_search_listing_or_offer(pending_with_hours, intake):
    mechanic = pending_with_hours
    end = SLOT + timedelta(minutes=15)
    assert mechanic.pk not in availability.mechanics_free_between(SLOT, end, now=NOW)
    assert availability.earliest_slot(timedelta(minutes=15), now=NOW) is None
    ranked = mechanics_ranked(MatchCriteria(concern="brakes", scheduled_for=SLOT), now=NOW)
    assert mechanic.pk not in {m.mechanic_id for m in ranked}
    assert mechanic.pk not in {m.mechanic_id for m in mechanics_ranked(MatchCriteria(), now=NOW)}
    customer = CustomerFactory().user
    with pytest.raises(NotFound):
        booking.reservation_hold(
            customer=customer,
            intake=intake(customer),
            mechanic_id=mechanic.pk,
            starts_at=SLOT,
            now=NOW,
        )
    session = start_now_published(customer, intake(customer), now=NOW)
    assert Offer.objects.filter(session=session, kind="broadcast").exists()
    assert list(offers_visible_to(mechanic, now=NOW + timedelta(hours=1))) == []
    client = Client()
    client.force_login(customer)
    assert client.get(f"/availability/mechanics/{mechanic.pk}/").status_code == 404
    assert (
        client.get(
            f"/api/mechanics/{mechanic.pk}/available-slots?plan=advice&from=2026-12-01&to=2026-12-02"
        ).status_code
        == 404
    )


def test_approval_puts_the_mechanic_in_search_and_tells_them(pending_with_hours, admin):
    mechanics.mechanic_review(
        mechanic_id=pending_with_hours.pk, reviewer=admin, approve=True, now=NOW
    )
    end = SLOT + timedelta(minutes=15)
    assert pending_with_hours.pk in availability.mechanics_free_between(SLOT, end, now=NOW)
    message = deliver()[-1]
    assert message.subject == "You are approved: customers can now book you"
    assert "/availability/" in message.body
    with pytest.raises(Conflict):  # reviewed once
        mechanics.mechanic_review(mechanic_id=pending_with_hours.pk, reviewer=admin, approve=True)


def test_turning_down_needs_a_reason_that_the_mechanic_receives(pending_with_hours, admin):
    with pytest.raises(InvalidInput):
        mechanics.mechanic_review(mechanic_id=pending_with_hours.pk, reviewer=admin, approve=False)
    mechanics.mechanic_review(
        mechanic_id=pending_with_hours.pk, reviewer=admin, approve=False, note="Add your licence"
    )
    assert "Reason: Add your licence" in deliver()[-1].body
    again = mechanics.mechanic_application_submit(
        user=pending_with_hours.user, application=application(), now=NOW
    )
    assert again.approval_status == "pending"  # sent again: back in the queue


def test_only_admins_review(pending_with_hours):
    with pytest.raises(NotAllowed):
        mechanics.mechanic_review(
            mechanic_id=pending_with_hours.pk, reviewer=pending_with_hours.user, approve=True
        )


def test_the_review_page_lists_applications_for_admins_only(pending_with_hours, admin, login):
    page = login(admin).get("/accounts/review/")
    assert "waiting for review" in page.content.decode()
    assert str(pending_with_hours.user) in page.content.decode()
    approve = login(admin).post(
        f"/accounts/review/{pending_with_hours.pk}/", {"decision": "approve"}, follow=True
    )
    assert "approved; they were emailed" in approve.content.decode()
    assert login(pending_with_hours.user).get("/accounts/review/").status_code == 404


def test_the_admin_action_approves_through_the_service(pending_with_hours, admin, login):
    login(admin).post(
        "/admin/accounts/mechanicprofile/",
        {"action": "approve", "_selected_action": [pending_with_hours.pk]},
    )
    pending_with_hours.refresh_from_db()
    assert pending_with_hours.is_approved and pending_with_hours.reviewed_by == admin


def test_the_application_page_shows_status_type_and_errors(applicant, login):
    client = login(applicant)
    assert "Not sent yet" in client.get("/accounts/mechanic/").content.decode()
    response = client.post(
        "/accounts/mechanic/",
        {
            "years_experience": "8",
            "city": "Ottawa",
            "postal_code": "K1P 5J2",
            "time_zone": "America/Toronto",
            "work_mode": "virtual",
            "photo": image(),
        },
        follow=True,
    )
    text = response.content.decode()
    assert "Application sent" in text and "Waiting for review" in text and "Virtual-only" in text
    bad = client.post(
        "/accounts/mechanic/",
        {
            "years_experience": "8",
            "city": "Ottawa",
            "postal_code": "nope",
            "time_zone": "America/Toronto",
            "work_mode": "virtual",
        },
    )
    assert bad.status_code == 422 and "Canadian postal code" in bad.content.decode()


def test_the_photo_is_shown_to_others_only_once_approved(pending_with_hours, admin, login):
    mechanics.mechanic_photo_set(user=pending_with_hours.user, photo=image())
    url = f"/accounts/mechanics/{pending_with_hours.pk}/photo/"
    stranger = login(CustomerFactory().user)

    def fetch(client):
        return client.get(url)

    assert fetch(stranger).status_code == 404
    assert fetch(login(pending_with_hours.user))["Content-Type"] == "image/jpeg"
    mechanics.mechanic_review(mechanic_id=pending_with_hours.pk, reviewer=admin, approve=True)
    assert fetch(stranger).status_code == 200


def test_api_application_and_review(applicant, admin, login):
    client = login(applicant)
    body = {
        "years_experience": 3,
        "city": "Calgary",
        "postal_code": "T2P 1J9",
        "time_zone": "America/Edmonton",
        "work_mode": "virtual",
        "brands": ["Subaru"],
    }
    sent = client.put("/api/mechanic/application", body, content_type="application/json")
    assert sent.status_code == 200 and sent.json()["approval_status"] == "pending"
    photo = client.post("/api/mechanic/photo", {"photo": image()})
    assert photo.status_code == 200 and photo.json()["has_photo"]
    bad_photo = client.post("/api/mechanic/photo", {"photo": SimpleUploadedFile("a.png", b"x")})
    assert (bad_photo.status_code, bad_photo.json()["field"]) == (422, "photo")
    assert client.get("/api/mechanic-applications").status_code == 403
    queue = login(admin).get("/api/mechanic-applications").json()
    assert [row["id"] for row in queue] == [sent.json()["id"]]
    reviewed = login(admin).post(
        f"/api/mechanic-applications/{sent.json()['id']}/review",
        {"approve": True},
        content_type="application/json",
    )
    assert reviewed.json()["approval_status"] == "approved"
    customer = CustomerFactory().user
    assert login(customer).get("/api/mechanic/application").status_code == 403
