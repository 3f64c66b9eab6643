"""Privacy (issue 14 item 5, PIPEDA): download my data; delete my account, which
anonymises, keeps the booking and payment records, cancels future bookings through the
normal cancel (refunds, notices) and is refused while a session is live. The export
carries the customer's own intake photos and video: their details in the JSON, the files
in the ZIP download (issue 18)."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from autodoctor.accounts import privacy
from autodoctor.accounts.models import User
from autodoctor.booking import attachments
from autodoctor.booking import services as booking
from autodoctor.booking.models import Session
from autodoctor.errors import Conflict, InvalidInput
from autodoctor.notifications.models import Notification
from autodoctor.payments.models import CreditEntry, Payment
from autodoctor.payments.services import checkout, credits
from tests.factories import PASSWORD, CustomerFactory, UserFactory, VehicleFactory

from .conftest import NOW, SLOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def casey(db):
    customer = CustomerFactory(
        user__email="casey@example.test", user__full_name="Casey Car", phone="+14165550100"
    )
    VehicleFactory(customer=customer, vin="1M8GDM9AXKP042788")
    return customer.user


@pytest.fixture
def paid_booking(casey, available_mechanic, hold):
    """A scheduled, paid (with credits) session tomorrow."""
    admin = UserFactory(role="admin", is_staff=True)
    credits.credits_grant(customer=casey, amount_cents=5000, note="", granted_by=admin)
    reservation = hold(casey, available_mechanic, start=SLOT)
    checkout.payment_with_credits(customer=casey, reservation_id=reservation.pk, now=NOW)
    session = Session.objects.get(pk=reservation.session_id)
    assert session.status == "scheduled"
    return session


def test_my_data_holds_profile_vehicles_sessions_payments_and_notifications(casey, paid_booking):
    data = privacy.personal_data_export(casey)
    assert data["account"]["email"] == "casey@example.test"
    assert data["customer_profile"]["phone"] == "+14165550100"
    assert data["vehicles"][0]["vin"] == "1M8GDM9AXKP042788"
    assert [s["id"] for s in data["sessions"]] == [paid_booking.pk]
    assert data["payments"][0]["method"] == "credits"
    assert {e["kind"] for e in data["credits"]} == {"grant", "debit"}
    assert data["notifications"] and all(
        "account_link" not in n["facts"] for n in data["notifications"]
    )
    text = json.dumps(data)
    assert "password" not in text and "token_hash" not in text


def test_the_download_is_a_json_file_for_the_signed_in_person(casey, login):
    response = login(casey).get("/accounts/my-data/")
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    assert json.loads(response.content)["account"]["full_name"] == "Casey Car"
    api = login(casey).get("/api/me/export").json()
    assert api["account"]["id"] == casey.pk
    assert Client().get("/api/me/export").status_code == 401


def test_deleting_anonymises_and_keeps_the_records(casey, paid_booking):
    mechanic_user = paid_booking.mechanic.user
    privacy.account_delete(user=casey, password=PASSWORD, now=NOW)
    user = User.objects.get(pk=casey.pk)
    assert user.email == f"deleted-{casey.pk}@deleted.invalid"
    assert (user.full_name, user.is_active, user.has_usable_password()) == (
        "Deleted user",
        False,
        False,
    )
    assert user.customer_profile.phone == "" and not user.customer_profile.vehicles.exists()
    session = Session.objects.get(pk=paid_booking.pk)
    assert session.status == "cancelled" and session.customer_id == casey.pk
    assert Payment.objects.filter(customer=casey).exists()  # the ledger stays
    assert CreditEntry.objects.filter(account__customer=casey, kind="refund").exists()
    # The mechanic is told through the usual cancellation notice.
    assert Notification.objects.filter(recipient=mechanic_user, kind="cancelled").exists()
    assert not Notification.objects.filter(recipient=casey).exists()
    assert not Client().login(email="casey@example.test", password=PASSWORD)


def test_deleting_is_refused_while_a_session_is_live(casey, paid_booking, clock):
    clock.move_to(SLOT)
    booking.session_start(session_id=paid_booking.pk, user=casey, now=SLOT)
    with pytest.raises(Conflict, match="session in progress"):
        privacy.account_delete(user=casey, password=PASSWORD, now=SLOT)
    assert User.objects.get(pk=casey.pk).is_active
    assert Session.objects.get(pk=paid_booking.pk).status == "live"


def test_deleting_needs_the_password(casey):
    with pytest.raises(InvalidInput) as refused:
        privacy.account_delete(user=casey, password="wrong", now=NOW)
    assert refused.value.data["field"] == "password"
    assert User.objects.get(pk=casey.pk).is_active


def test_an_owner_with_staff_cannot_delete_before_handing_over(db):
    from tests.factories import WorkshopFactory

    shop = WorkshopFactory()
    shop.staff.add(UserFactory(role="workshop_staff"))
    with pytest.raises(Conflict, match="hand it over"):
        privacy.account_delete(user=shop.owner, password=PASSWORD, now=NOW)


def test_the_delete_page_lists_what_will_be_cancelled_then_deletes(casey, paid_booking, login):
    client = login(casey)
    page = client.get("/accounts/delete/").content.decode()
    assert "These bookings will be cancelled" in page and f"#{paid_booking.pk}" in page
    assert "(America/Toronto)" in page
    wrong = client.post("/accounts/delete/", {"password": "nope"})
    assert wrong.status_code == 422 and "not your password" in wrong.content.decode()
    done = client.post("/accounts/delete/", {"password": PASSWORD})
    assert "Your account is deleted" in done.content.decode()
    assert client.get("/profile/").status_code == 302


def test_the_delete_page_explains_a_refusal(casey, paid_booking, login, clock):
    clock.move_to(SLOT + timedelta(minutes=1))
    booking.session_start(session_id=paid_booking.pk, user=casey, now=SLOT + timedelta(minutes=1))
    page = login(casey).get("/accounts/delete/")
    assert page.status_code == 409 and "session in progress" in page.content.decode()


def test_api_delete(casey, login):
    client = login(casey)
    bad = client.post("/api/me/delete", {"password": "x"}, content_type="application/json")
    assert (bad.status_code, bad.json()["field"]) == (422, "password")
    ok = client.post("/api/me/delete", {"password": PASSWORD}, content_type="application/json")
    assert ok.status_code == 200
    assert not User.objects.get(pk=casey.pk).is_active


# --------------------------------------------------------------------------- intake files

# An MP4 is stored exactly as sent (photos are re-encoded to drop their metadata).
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"casey's brakes" * 40


def png(name: str = "rotor.png", colour=(200, 30, 30)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


@pytest.fixture
def casey_files(casey, paid_booking):
    """Casey sent a video and a photo with the booked session, and has one upload the
    wizard has not sent yet (no session)."""
    video, photo = attachments.attachments_add(
        session_id=paid_booking.pk,
        user=casey,
        files=[SimpleUploadedFile("brakes.mp4", MP4, content_type="video/mp4"), png()],
        now=NOW,
    )
    (pending,) = attachments.attachments_add_pending(
        customer=casey, files=[png("later.png", (0, 90, 200))], now=NOW + timedelta(minutes=5)
    )
    return video, photo, pending


@pytest.fixture
def other_customers_file(db):
    other = CustomerFactory(user__email="dana@example.test").user
    (row,) = attachments.attachments_add_pending(
        customer=other, files=[png("dana.png", (10, 200, 10))], now=NOW
    )
    return row


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def archive_of(user) -> dict[str, bytes]:
    with privacy.personal_data_archive(user) as out:
        return unzip(out.read())


def test_my_data_lists_my_intake_files_with_their_details_in_utc(casey, casey_files):
    video, photo, pending = casey_files
    session_id = video.session_id
    listed = privacy.personal_data_export(casey)["intake_attachments"]
    assert listed == [
        {
            "id": video.pk,
            "session_id": session_id,
            "kind": "video",
            "content_type": "video/mp4",
            "size_bytes": len(MP4),
            "original_name": "brakes.mp4",
            "uploaded_at": "2026-11-30T12:00:00+00:00",
            "file_in_archive": f"attachments/{session_id}/{video.pk}-video.mp4",
        },
        {
            "id": photo.pk,
            "session_id": session_id,
            "kind": "photo",
            "content_type": "image/png",
            "size_bytes": photo.size_bytes,
            "original_name": "rotor.png",
            "uploaded_at": "2026-11-30T12:00:00+00:00",
            "file_in_archive": f"attachments/{session_id}/{photo.pk}-photo.png",
        },
        {
            "id": pending.pk,
            "session_id": None,
            "kind": "photo",
            "content_type": "image/png",
            "size_bytes": pending.size_bytes,
            "original_name": "later.png",
            "uploaded_at": "2026-11-30T12:05:00+00:00",
            "file_in_archive": f"attachments/pending/{pending.pk}-photo.png",
        },
    ]


def test_the_zip_holds_the_json_and_the_exact_bytes_of_each_file(casey, casey_files):
    video, photo, pending = casey_files
    files = archive_of(casey)
    session_id = video.session_id
    assert set(files) == {
        "my-data.json",
        f"attachments/{session_id}/{video.pk}-video.mp4",
        f"attachments/{session_id}/{photo.pk}-photo.png",
        f"attachments/pending/{pending.pk}-photo.png",
    }
    assert files[f"attachments/{session_id}/{video.pk}-video.mp4"] == MP4
    with default_storage.open(photo.file.name, "rb") as stored:
        assert files[f"attachments/{session_id}/{photo.pk}-photo.png"] == stored.read()
    with Image.open(io.BytesIO(files[f"attachments/pending/{pending.pk}-photo.png"])) as image:
        assert image.getpixel((0, 0)) == (0, 90, 200)
    data = json.loads(files["my-data.json"])
    assert data["account"]["email"] == "casey@example.test"
    assert [a["id"] for a in data["intake_attachments"]] == [video.pk, photo.pk, pending.pk]
    assert all("note" not in a for a in data["intake_attachments"])


def test_another_customers_files_are_not_in_my_export(casey, casey_files, other_customers_file):
    with default_storage.open(other_customers_file.file.name, "rb") as stored:
        other_bytes = stored.read()
    ids = [a["id"] for a in privacy.personal_data_export(casey)["intake_attachments"]]
    assert other_customers_file.pk not in ids and len(ids) == 3
    files = archive_of(casey)
    assert other_bytes not in files.values()
    assert not any(str(other_customers_file.pk) + "-" in name for name in files)


def test_the_mechanic_of_the_session_gets_no_customer_files(casey, casey_files, paid_booking):
    mechanic = paid_booking.mechanic.user
    data = privacy.personal_data_export(mechanic)
    assert [s["id"] for s in data["sessions"]] == [paid_booking.pk]  # they took it
    assert data["intake_attachments"] == []
    assert list(archive_of(mechanic)) == ["my-data.json"]


def test_a_file_missing_from_storage_is_listed_with_a_note(casey, casey_files):
    video, photo, _pending = casey_files
    default_storage.delete(video.file.name)
    files = archive_of(casey)
    session_id = video.session_id
    assert f"attachments/{session_id}/{video.pk}-video.mp4" not in files
    assert f"attachments/{session_id}/{photo.pk}-photo.png" in files
    listed = {a["id"]: a for a in json.loads(files["my-data.json"])["intake_attachments"]}
    assert listed[video.pk]["file_in_archive"] is None
    assert "no longer in our storage" in listed[video.pk]["note"]
    assert listed[video.pk]["size_bytes"] == len(MP4)  # its details stay
    assert "note" not in listed[photo.pk]


def test_the_missing_file_note_is_in_the_persons_language(casey, casey_files):
    from django.utils import translation

    default_storage.delete(casey_files[0].file.name)
    with translation.override("fr-ca"):
        files = archive_of(casey)
    listed = json.loads(files["my-data.json"])["intake_attachments"]
    assert "n'est plus dans notre stockage" in listed[0]["note"]


def test_the_zip_downloads_from_the_page_and_the_api(casey, casey_files, login):
    client = login(casey)
    page = client.get("/accounts/my-data/?format=zip")
    assert page.status_code == 200 and page["Content-Type"] == "application/zip"
    assert 'filename="autodoctor-my-data-20261130.zip"' in page["Content-Disposition"]
    assert "no-store" in page["Cache-Control"]
    from_page = unzip(b"".join(page.streaming_content))
    api = client.get("/api/me/export/archive")
    assert api.status_code == 200 and api["Content-Type"] == "application/zip"
    from_api = unzip(b"".join(api.streaming_content))
    assert set(from_page) == set(from_api) and len(from_page) == 4
    video = casey_files[0]
    assert from_api[f"attachments/{video.session_id}/{video.pk}-video.mp4"] == MP4
    # The JSON route keeps its shape, now with the files' details.
    plain = client.get("/accounts/my-data/")
    assert plain["Content-Type"] == "application/json"
    assert len(json.loads(plain.content)["intake_attachments"]) == 3


def test_the_zip_needs_a_signed_in_person(casey_files):
    anonymous = Client()
    page = anonymous.get("/accounts/my-data/?format=zip")
    assert page.status_code == 302 and page["Location"].startswith("/login/?next=")
    assert anonymous.get("/api/me/export/archive").status_code == 401


def test_the_delete_page_offers_the_zip(casey, login):
    page = login(casey).get("/accounts/delete/").content.decode()
    assert 'href="/accounts/my-data/?format=zip"' in page
    assert "with the photos and videos I sent (ZIP)" in page


@pytest.mark.parametrize("role", ["customer", "mechanic"])
def test_the_profile_page_offers_the_json_and_the_zip(casey, mechanic, login, role):
    person = casey if role == "customer" else mechanic.user
    page = login(person).get("/profile/").content.decode()
    assert 'href="/accounts/my-data/"' in page
    assert 'href="/accounts/my-data/?format=zip"' in page
    assert "With my photos and videos (ZIP)" in page
