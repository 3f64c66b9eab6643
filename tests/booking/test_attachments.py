"""Photos and short videos of the problem with the intake (issue 18): what is taken (by
content, within size and count), where it is kept (the default storage, never a public
URL), who sees it (the customer and the mechanic assigned to the session, nobody else),
and that a bad batch stores nothing."""

import io
import re
from datetime import timedelta
from pathlib import PurePosixPath

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from autodoctor.accounts.services import api_token_create
from autodoctor.booking import attachments, services
from autodoctor.booking.models import IntakeAttachment, SessionStatus
from autodoctor.errors import Conflict, InvalidInput
from tests.factories import CustomerFactory, MechanicFactory, UserFactory, start_now_published

from .conftest import NOW, later

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.INTAKE_PHOTO_MAX_MB = 1
    settings.INTAKE_VIDEO_MAX_MB = 2
    settings.INTAKE_ATTACHMENTS_MAX = 5
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def image(fmt: str = "JPEG", name: str = "brake.jpg", exif_make: str = "") -> SimpleUploadedFile:
    out = io.BytesIO()
    picture = Image.new("RGB", (64, 48), (200, 30, 30))
    if exif_make:
        exif = Image.Exif()
        exif[0x010F] = exif_make  # Make: stands for the GPS position a phone writes
        picture.save(out, fmt, exif=exif.tobytes())
    else:
        picture.save(out, fmt)
    return SimpleUploadedFile(name, out.getvalue(), content_type="application/octet-stream")


def raw(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")  # the browser's claim


HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 400
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00" * 400
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + b"\x00" * 400
MATROSKA = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska" + b"\x00" * 400


def stored_files(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def content_of(response) -> bytes:
    """A streamed file's bytes (the test client closes the file once it is read)."""
    return b"".join(response.streaming_content)


def api(client, user, method, path, **kwargs):
    token = api_token_create(user=user, name="test").raw
    return getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {token}", **kwargs)


@pytest.fixture
def booked(booking_customer, available_mechanic, hold):
    """A scheduled session of the customer's with `available_mechanic` assigned."""
    reservation = hold(booking_customer, available_mechanic)
    return reservation.session


def test_photos_and_videos_of_every_accepted_kind_are_stored_and_listed(client, booked, media):
    customer = booked.customer
    files = [
        image("JPEG", "a.jpg"),
        image("PNG", "b.png"),
        image("WEBP", "c.webp"),
        raw("d.heic", HEIC),
        raw("e.mp4", MP4),
    ]
    response = api(
        client, customer, "post", f"/api/sessions/{booked.pk}/attachments", data={"files": files}
    )
    assert response.status_code == 201, response.content
    assert [(a["kind"], a["content_type"]) for a in response.json()] == [
        ("photo", "image/jpeg"),
        ("photo", "image/png"),
        ("photo", "image/webp"),
        ("photo", "image/heic"),
        ("video", "video/mp4"),
    ]
    listed = api(client, customer, "get", f"/api/sessions/{booked.pk}/attachments").json()
    assert [a["name"] for a in listed] == ["a.jpg", "b.png", "c.webp", "d.heic", "e.mp4"]
    # Kept in the default storage under random names, never the customer's file name.
    names = [row.file.name for row in IntakeAttachment.objects.all()]
    assert all(name.startswith("intake/") and default_storage.exists(name) for name in names)
    # (a random hex name may end in "a", so "…a.jpg" says nothing: compare whole names)
    assert all(re.fullmatch(r"intake/[0-9a-f]{32}\.(jpg|png|webp|heic|mp4)", n) for n in names)
    assert not {PurePosixPath(n).name for n in names} & {a["name"] for a in listed}
    content = api(client, customer, "get", listed[4]["content_url"])
    assert content.status_code == 200 and content["Content-Type"] == "video/mp4"
    assert content_of(content) == MP4


def test_quicktime_and_webm_videos_are_recognised_by_their_bytes(booked):
    rows = attachments.attachments_add(
        session_id=booked.pk, user=booked.customer, files=[raw("a.bin", MOV), raw("b", WEBM)]
    )
    assert [r.content_type for r in rows] == ["video/quicktime", "video/webm"]
    assert [r.file.name.rsplit(".", 1)[1] for r in rows] == ["mov", "webm"]


@pytest.mark.parametrize(
    ("upload", "problem"),
    [
        (
            raw("notes.jpg", b"these are not the photos you are looking for" * 10),
            "unsupported_type",
        ),
        (image("GIF", "notes.jpg"), "unsupported_type"),  # Pillow reads it; we do not take it
        (raw("notes.jpg", MATROSKA), "unsupported_type"),
        (raw("notes.jpg", b"\xff\xd8\xff" + b"\x00" * (1024 * 1024 + 10)), "too_large"),
        (raw("notes.jpg", MP4[:40] + b"\x00" * (2 * 1024 * 1024 + 10)), "too_large"),
    ],
    ids=["text", "gif", "matroska", "photo-too-large", "video-too-large"],
)
def test_one_bad_file_refuses_the_whole_batch_naming_it(client, booked, media, upload, problem):
    files = [image("JPEG", "good.jpg"), upload]
    response = api(
        client,
        booked.customer,
        "post",
        f"/api/sessions/{booked.pk}/attachments",
        data={"files": files},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_attachment" and body["problem"] == problem
    assert body["file"] == "notes.jpg" and "notes.jpg" in body["detail"]
    assert not IntakeAttachment.objects.exists() and stored_files(media) == []


def test_a_sixth_file_is_refused_and_the_first_five_stay(client, booked, media):
    attachments.attachments_add(
        session_id=booked.pk, user=booked.customer, files=[image() for _ in range(4)]
    )
    response = api(
        client,
        booked.customer,
        "post",
        f"/api/sessions/{booked.pk}/attachments",
        data={"files": [image(), image()]},
    )
    assert response.status_code == 400 and response.json()["problem"] == "too_many"
    assert "At most 5" in response.json()["detail"]
    assert booked.attachments.count() == 4 and len(stored_files(media)) == 4


def test_a_failed_write_leaves_no_file_behind(booked, media, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(IntakeAttachment.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        attachments.attachments_add(
            session_id=booked.pk, user=booked.customer, files=[image(), image()]
        )
    assert stored_files(media) == []


def test_photo_metadata_is_dropped(booked):
    (row,) = attachments.attachments_add(
        session_id=booked.pk, user=booked.customer, files=[image(exif_make="SecretPhone")]
    )
    with default_storage.open(row.file.name, "rb") as stored:
        data = stored.read()
    assert b"SecretPhone" not in data
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.size == (64, 48) and picture.format == "JPEG"


def test_a_closed_session_takes_no_more_files(booked):
    services.session_cancel(session_id=booked.pk, user=booked.customer, reason="", now=later(1))
    with pytest.raises(Conflict) as err:
        attachments.attachments_add(session_id=booked.pk, user=booked.customer, files=[image()])
    assert err.value.code == "session_closed"


def test_only_the_customer_and_the_assigned_mechanic_see_them(client, booked):
    (row,) = attachments.attachments_add(
        session_id=booked.pk, user=booked.customer, files=[image()]
    )
    page = f"/booking/attachments/{row.pk}/"
    api_list = f"/api/sessions/{booked.pk}/attachments"
    api_file = f"{api_list}/{row.pk}/content"
    for viewer in (booked.customer, booked.mechanic.user):
        client.force_login(viewer)
        response = client.get(page)
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"] == "private, no-store"
        with default_storage.open(row.file.name, "rb") as stored:
            assert content_of(response) == stored.read()
        from_api = api(client, viewer, "get", api_file)
        assert from_api.status_code == 200 and content_of(from_api).startswith(b"\xff\xd8")
        assert len(api(client, viewer, "get", api_list).json()) == 1
        detail = client.get(f"/booking/sessions/{booked.pk}/").content.decode()
        assert f'src="{page}"' in detail
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    for outsider in (MechanicFactory().user, CustomerFactory().user, admin):
        client.force_login(outsider)
        assert client.get(page).status_code == 404
        assert api(client, outsider, "get", api_file).status_code == 404
        assert api(client, outsider, "get", api_list).status_code == 404
        upload = api(client, outsider, "post", api_list, data={"files": [image()]})
        assert upload.status_code == 404
    assert booked.attachments.count() == 1
    # The admin's session page (they see every session) shows no photo.
    client.force_login(admin)
    assert page not in client.get(f"/booking/sessions/{booked.pk}/").content.decode()


def test_offered_mechanics_see_them_only_once_one_accepted(booking_customer, intake):
    taker, other = MechanicFactory(), MechanicFactory()
    (pending,) = attachments.attachments_add_pending(customer=booking_customer, files=[image()])
    with_photo = services.intake_validate(
        customer=booking_customer,
        plan="advice",
        concern="Grinding noise when braking at low speed",
        attachment_ids=[pending.pk],
    )
    session = start_now_published(booking_customer, with_photo)
    assert list(session.attachments.all()) == [pending]
    for mechanic in (taker, other):
        with pytest.raises(attachments.NotFound):
            attachments.attachment_for_viewer(pending.pk, mechanic.user)
    services.offer_accept(offer_id=session.offers.get(mechanic=taker).pk, mechanic=taker)
    assert attachments.attachment_for_viewer(pending.pk, taker.user) == pending
    with pytest.raises(attachments.NotFound):
        attachments.attachment_for_viewer(pending.pk, other.user)


def _wizard_at_concern(client, customer):
    client.force_login(customer)
    session = client.session
    session["booking_wizard"] = {
        "plan": "advice",
        "vehicle_label": "2019 Honda Civic",
        "mode": "now",
        "done": ["vehicle", "plan", "when", "mechanic"],
    }
    session.save()


CONCERN = "Grinding noise when braking at low speed"


def test_the_wizard_takes_photos_and_the_new_session_gets_them(client, booking_customer, media):
    _wizard_at_concern(client, booking_customer)
    response = client.post(
        "/booking/new/concern/",
        {"concern": CONCERN, "attachments": [image(), raw("clip.mp4", MP4)], "upload": "more"},
    )
    assert response.status_code == 302 and response["Location"] == "/booking/new/concern/"
    page = client.get("/booking/new/concern/").content.decode()
    pending = list(IntakeAttachment.objects.filter(session__isnull=True))
    assert len(pending) == 2 and f"/booking/attachments/{pending[0].pk}/" in page
    assert "clip.mp4" in page and "Remove" in page

    client.post(f"/booking/new/attachments/{pending[1].pk}/remove/")  # changed their mind
    assert client.post("/booking/new/concern/", {"concern": CONCERN}).status_code == 302
    assert "1 file, for your mechanic only" in client.get("/booking/new/review/").content.decode()
    client.post("/booking/new/review/")

    session = booking_customer.sessions.get()
    assert list(session.attachments.all()) == [pending[0]]
    assert len(stored_files(media)) == 1  # the removed one's file went with it


def test_the_wizard_shows_a_bad_file_next_to_the_field_and_stores_nothing(
    client, booking_customer, media
):
    _wizard_at_concern(client, booking_customer)
    response = client.post(
        "/booking/new/concern/",
        {"concern": CONCERN, "attachments": [image(), raw("virus.exe", b"MZ" + b"\x00" * 300)]},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "virus.exe: not a photo or video we can take" in page
    assert CONCERN in page  # what was typed is kept
    assert not IntakeAttachment.objects.exists() and stored_files(media) == []


def test_the_customer_adds_photos_on_the_session_page(client, booked):
    client.force_login(booked.customer)
    page = client.get(f"/booking/sessions/{booked.pk}/").content.decode()
    assert "Add photos or a short video" in page
    response = client.post(
        f"/booking/sessions/{booked.pk}/attachments/", {"attachments": [image()]}, follow=True
    )
    assert "Added 1 file." in response.content.decode()
    assert booked.attachments.count() == 1
    refused = client.post(
        f"/booking/sessions/{booked.pk}/attachments/",
        {"attachments": [raw("x.jpg", b"nope" * 40)]},
        follow=True,
    )
    assert "x.jpg: not a photo or video we can take" in refused.content.decode()
    assert booked.attachments.count() == 1
    client.force_login(booked.mechanic.user)  # the mechanic sees them, adds none
    assert "Add photos" not in client.get(f"/booking/sessions/{booked.pk}/").content.decode()


def test_unclaimed_uploads_are_swept_after_a_day_and_claimed_ones_stay(
    booking_customer, booked, media, frozen
):
    (left,) = attachments.attachments_add_pending(customer=booking_customer, files=[image()])
    (kept,) = attachments.attachments_add(
        session_id=booked.pk, user=booked.customer, files=[image()]
    )
    assert attachments.attachments_pending_sweep(now=NOW + timedelta(hours=23)) == 0
    assert attachments.attachments_pending_sweep(now=NOW + timedelta(hours=25)) == 1
    assert list(IntakeAttachment.objects.all()) == [kept]
    assert not default_storage.exists(left.file.name) and default_storage.exists(kept.file.name)
    assert attachments.attachments_pending_sweep(now=NOW + timedelta(hours=26)) == 0


def test_an_intake_cannot_claim_someone_elses_upload(booking_customer):
    other = CustomerFactory().user
    (theirs,) = attachments.attachments_add_pending(customer=other, files=[image()])
    with pytest.raises(InvalidInput) as err:
        services.intake_validate(
            customer=booking_customer, plan="advice", concern=CONCERN, attachment_ids=[theirs.pk]
        )
    assert err.value.data["field"] == "attachment_ids"


def test_a_cancelled_session_keeps_its_files_for_its_two_parties(booked):
    (row,) = attachments.attachments_add(
        session_id=booked.pk, user=booked.customer, files=[image()]
    )
    booked.refresh_from_db()
    services.session_cancel(session_id=booked.pk, user=booked.customer, reason="", now=later(1))
    booked.refresh_from_db()
    assert booked.status == SessionStatus.CANCELLED
    assert attachments.attachment_for_viewer(row.pk, booked.mechanic.user) == row


def test_closing_the_account_deletes_the_photos_and_their_files(booked, media):
    from autodoctor.accounts import privacy
    from tests.factories import PASSWORD

    attachments.attachments_add(session_id=booked.pk, user=booked.customer, files=[image()])
    attachments.attachments_add_pending(customer=booked.customer, files=[image()])
    privacy.account_delete(user=booked.customer, password=PASSWORD, now=NOW)
    assert not IntakeAttachment.objects.exists() and stored_files(media) == []
