"""PIPEDA rights of access and deletion: download my data, delete my account.

The export is one JSON document (`personal_data_export`); the ZIP download
(`personal_data_archive`) holds that document plus the files the customer sent with their
intakes (photos, video) under `attachments/<session id>/`, read through the storage API so
an S3-compatible bucket works the same. Only the files the person uploaded themselves: a
mechanic's export lists the sessions they took, never their customers' files (PIPEDA
gives access to one's own information, not to other people's).

Deletion anonymises instead of erasing rows: the booking history and the financial
ledger (payments, refunds, credits, payouts) must be kept, so the person's row stays as
"Deleted user" with every personal field emptied, and cannot log in again. Future
bookings are cancelled first through booking's normal cancel (refunds and notices as
for any cancellation); a live session blocks deletion until it ends.
"""

import contextlib
import io
import json
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from autodoctor.errors import Conflict, InvalidInput, NotFound

from .mechanic_types import mechanic_type
from .models import (
    ApprovalStatus,
    EmailVerification,
    Invitation,
    InvitationStatus,
    MechanicProfile,
    User,
    Vehicle,
    Workshop,
)
from .search_terms import mechanic_search_terms_sync

log = logging.getLogger("autodoctor.accounts")

EXPORT_VERSION = 1
ARCHIVE_JSON_NAME = "my-data.json"
ARCHIVE_SPOOL_BYTES = 8 * 1024 * 1024  # a bigger archive is built on disk, not in memory
COPY_CHUNK_BYTES = 1024 * 1024


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, whatever zone the value came in."""
    return value.astimezone(UTC).isoformat() if value else None


def _sessions_of(user: User):  # -> QuerySet[Session]
    from autodoctor.booking.models import Session

    return Session.objects.filter(Q(customer=user) | Q(mechanic__user=user))


# --------------------------------------------------------------------------- export


def personal_data_export(user: User) -> dict[str, Any]:
    """Everything we hold about `user`, as JSON-safe data (GET /api/me/export and the
    profile page's download). Secrets (password hash, token hashes, link seeds) are left
    out: they are not personal data and would only help an attacker."""
    from autodoctor.notifications.models import Notification, NotificationPreference
    from autodoctor.payments.models import CreditEntry, Payment, PayoutEntry

    data: dict[str, Any] = {
        "format": f"autodoctor-personal-data/{EXPORT_VERSION}",
        "account": {
            "id": user.pk,
            "email": user.email,
            "full_name": user.full_name,
            "role": user.role,
            "time_zone": user.time_zone,
            "date_joined": _iso(user.date_joined),
            "last_login": _iso(user.last_login),
            "email_verified_at": _iso(user.email_verified_at),
        },
    }
    customer = getattr(user, "customer_profile", None)
    if customer is not None:
        data["customer_profile"] = {
            "phone": customer.phone,
            "city": customer.city,
            "postal_code": customer.postal_code,
        }
        data["vehicles"] = [
            {"id": v.pk, "year": v.year, "make": v.make, "model": v.model, "vin": v.vin}
            for v in customer.vehicles.all()
        ]
    mechanic = MechanicProfile.objects.filter(user=user).select_related("workshop").first()
    if mechanic is not None:
        data["mechanic_profile"] = {
            "id": mechanic.pk,
            "mechanic_type": mechanic_type(mechanic).value,
            "workshop": mechanic.workshop.name if mechanic.workshop else None,
            "city": mechanic.city,
            "postal_code": mechanic.postal_code,
            "years_experience": mechanic.years_experience,
            "brands": mechanic.brands,
            "specialties": mechanic.specialty_keywords,
            "bio": mechanic.bio,
            "has_photo": bool(mechanic.photo),
            "approval_status": mechanic.approval_status,
            "applied_at": _iso(mechanic.applied_at),
            "reviewed_at": _iso(mechanic.reviewed_at),
            "payout_account_id": mechanic.payout_account_id,
        }
    data["workshops"] = [
        {
            "id": w.pk,
            "name": w.name,
            "relation": "owner" if w.owner_id == user.pk else "staff",
            "address": w.address,
            "city": w.city,
            "postal_code": w.postal_code,
        }
        for w in Workshop.objects.filter(Q(owner=user) | Q(staff=user)).distinct()
    ]
    data["intake_attachments"] = [_attachment_facts(row) for row in _attachments_of(user)]
    data["sessions"] = [
        {
            "id": s.pk,
            "as": "customer" if s.customer_id == user.pk else "mechanic",
            "status": s.status,
            "type": s.type,
            "plan": s.plan.code,
            "scheduled_for": _iso(s.scheduled_for),
            "duration_minutes": s.duration_minutes,
            "vehicle": s.vehicle_label,
            "concern": s.concern,
            "created_at": _iso(s.created_at),
            "started_at": _iso(s.started_at),
            "ended_at": _iso(s.ended_at),
            "cancelled_by": s.cancelled_by,
            "cancellation_reason": s.cancellation_reason,
        }
        for s in _sessions_of(user).select_related("plan").order_by("created_at")
    ]
    data["payments"] = [
        {
            "id": p.pk,
            "session_id": p.session_id,
            "method": p.method,
            "status": p.status,
            "amount_cents": p.amount_cents,
            "refunded_cents": p.refunded_cents,
            "currency": p.currency,
            "created_at": _iso(p.created_at),
            "paid_at": _iso(p.paid_at),
        }
        for p in Payment.objects.filter(customer=user).order_by("created_at")
    ]
    data["credits"] = [
        {
            "kind": e.kind,
            "delta_cents": e.delta_cents,
            "balance_after_cents": e.balance_after_cents,
            "note": e.note,
            "created_at": _iso(e.created_at),
        }
        for e in CreditEntry.objects.filter(account__customer=user).order_by("created_at")
    ]
    if mechanic is not None:
        data["earnings"] = [
            {
                "session_id": e.session_id,
                "kind": e.kind,
                "payee": e.payee_kind,
                "gross_cents": e.gross_cents,
                "payee_cents": e.payee_cents,
                "currency": e.currency,
                "created_at": _iso(e.created_at),
            }
            for e in PayoutEntry.objects.filter(mechanic=mechanic).order_by("created_at")
        ]
    prefs = NotificationPreference.objects.filter(user=user).first()
    data["notification_preferences"] = (
        {
            "email": prefs.email_enabled,
            "sms": prefs.sms_enabled,
            "remind_24h": prefs.remind_24h,
            "remind_1h": prefs.remind_1h,
            "calendar_feed_on": bool(prefs.feed_key),
        }
        if prefs
        else None
    )
    data["notifications"] = [
        {
            "kind": n.kind,
            "session_id": n.session_id,
            "created_at": _iso(n.created_at),
            "read_at": _iso(n.read_at),
            "facts": {k: v for k, v in n.context.items() if k != "account_link"},
        }
        for n in Notification.objects.filter(recipient=user).order_by("created_at")
    ]
    data["api_tokens"] = [
        {
            "name": t.name,
            "prefix": t.prefix,
            "created_at": _iso(t.created_at),
            "last_used_at": _iso(t.last_used_at),
            "revoked_at": _iso(t.revoked_at),
        }
        for t in user.api_tokens.all()
    ]
    return data


def _attachments_of(user: User):  # -> QuerySet[IntakeAttachment]
    """Security decision: the files this person uploaded, and only those (not the ones
    of the sessions they took as a mechanic)."""
    from autodoctor.booking.models import IntakeAttachment

    return IntakeAttachment.objects.filter(customer=user).order_by("created_at", "pk")


def _archive_path(row) -> str:  # row: IntakeAttachment
    """Where the file sits in the ZIP: attachments/<session id>/<id>-<kind><extension>
    (an upload no session claimed yet goes under attachments/pending/). Our own names,
    not the customer's file name: it may repeat within a session."""
    folder = row.session_id or "pending"
    return f"attachments/{folder}/{row.pk}-{row.kind}{PurePosixPath(row.file.name).suffix}"


def _attachment_facts(row) -> dict[str, Any]:  # row: IntakeAttachment
    return {
        "id": row.pk,
        "session_id": row.session_id,
        "kind": row.kind,
        "content_type": row.content_type,
        "size_bytes": row.size_bytes,
        "original_name": row.original_name,
        "uploaded_at": _iso(row.created_at),
        "file_in_archive": _archive_path(row),
    }


def personal_data_archive(user: User) -> IO[bytes]:
    """The ZIP download: `my-data.json` (the export above) and the customer's intake
    files, read through the storage API. A file missing from storage does not fail the
    export: its entry says so (`file_in_archive` null, a `note`). Returns a temporary file
    positioned at the start; the caller streams it and closes it. Media is stored as is
    (already compressed), the JSON deflated."""
    from autodoctor.booking.attachments import attachment_open

    data = personal_data_export(user)
    rows = {row.pk: row for row in _attachments_of(user)}
    out = tempfile.SpooledTemporaryFile(max_size=ARCHIVE_SPOOL_BYTES)  # noqa: SIM115
    missing = 0
    with zipfile.ZipFile(out, "w") as archive:
        for entry in data["intake_attachments"]:
            row = rows.get(entry["id"])  # None: deleted since the export was read
            source = None
            if row is not None and row.file.name:
                with contextlib.suppress(NotFound):  # gone from storage: noted below
                    source = attachment_open(row)
            if source is None:
                missing += 1
                entry["file_in_archive"] = None
                entry["note"] = _(
                    "This file is no longer in our storage: only its details are kept."
                )
                continue
            with source, archive.open(entry["file_in_archive"], "w") as target:
                shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)
        archive.writestr(
            ARCHIVE_JSON_NAME,
            json.dumps(data, indent=2, ensure_ascii=False),
            compress_type=zipfile.ZIP_DEFLATED,
        )
    if missing:
        log.warning("accounts.export.files_missing user=%s missing=%s", user.pk, missing)
    out.seek(0)
    return out


class _ChunksThenClose:
    """A file's bytes in chunks, the file closed once read to the end or when the
    response is closed, whichever comes first (a WSGI server calls close(); a client
    that only reads the body must not leave the temporary file open either)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.file.read(COPY_CHUNK_BYTES):
            yield chunk
        self.close()

    def close(self) -> None:
        self.file.close()


def personal_data_archive_response(
    user: User, *, now: datetime | None = None
) -> StreamingHttpResponse:
    """The ZIP as a download, for the page and the API alike: personal data, so never
    kept by a shared cache."""
    stamp = (now or timezone.now()).strftime("%Y%m%d")
    archive = personal_data_archive(user)
    size = archive.seek(0, io.SEEK_END)
    archive.seek(0)
    response = StreamingHttpResponse(_ChunksThenClose(archive), content_type="application/zip")
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition_header(
        True, f"autodoctor-my-data-{stamp}.zip"
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- deletion

FUTURE_STATUSES = ("pending", "waiting", "scheduled")


def deletion_refusal(user: User) -> str | None:
    """Why this account cannot be deleted right now, or None."""
    sessions = _sessions_of(user)
    if sessions.filter(status="live").exists():
        return "You have a session in progress; delete your account once it has ended."
    owned = Workshop.objects.filter(owner=user)
    for workshop in owned:
        others = workshop.staff.exclude(pk=user.pk).exists() or (
            MechanicProfile.objects.filter(workshop=workshop).exclude(user=user).exists()
        )
        if others:
            return (
                f"You own {workshop.name}, which has staff or mechanics: ask us to hand it "
                "over to someone else first."
            )
    return None


def account_delete(*, user: User, password: str, now: datetime | None = None) -> User:
    """Delete (anonymise) the account. Refused with the reason while a session is live.
    Future bookings are cancelled first, each through booking.services.session_cancel,
    so refunds and notices follow the usual policy."""
    from autodoctor.booking.services import session_cancel

    now = now or timezone.now()
    if not user.check_password(password or ""):
        raise InvalidInput(_("That is not your password."), field="password")
    refusal = deletion_refusal(user)
    if refusal:
        raise Conflict(refusal, code="deletion_refused")
    future = list(
        _sessions_of(user).filter(status__in=FUTURE_STATUSES).values_list("pk", flat=True)
    )
    for session_id in future:
        session_cancel(
            session_id=session_id,
            user=user,
            reason="The account that booked or took this session was closed.",
            now=now,
        )
    with transaction.atomic(durable=True):
        user = User.objects.select_for_update().get(pk=user.pk)
        # A booking made meanwhile (another tab) or a session that started: try again.
        if _sessions_of(user).filter(status__in=(*FUTURE_STATUSES, "live")).exists():
            raise Conflict(
                _("A session changed while we were closing your account; please try again."),
                code="deletion_refused",
            )
        photo = _anonymise(user, now=now)
        uploads = _intake_uploads_delete(user)
    if photo:
        MechanicProfile.photo.field.storage.delete(photo)
    for name in uploads:  # the photos and video of their car, after the commit
        default_storage.delete(name)
    log.info("accounts.user.deleted user=%s cancelled=%s", user.pk, len(future))
    return user


def _intake_uploads_delete(user: User) -> list[str]:
    """Delete the rows of the customer's intake photos and video (caller holds the
    transaction); returns their file names to remove once committed."""
    from autodoctor.booking.models import IntakeAttachment

    uploads = IntakeAttachment.objects.filter(customer=user)
    names = list(uploads.values_list("file", flat=True))
    uploads.delete()
    return names


def _anonymise(user: User, *, now: datetime) -> str:
    """Empty every personal field (caller holds the user's lock). Returns the photo file
    to remove once committed."""
    from axes.models import AccessAttempt

    from autodoctor.notifications.models import Notification, NotificationPreference

    old_email = user.email
    user.email = f"deleted-{user.pk}@deleted.invalid"
    user.full_name = "Deleted user"
    user.set_unusable_password()
    user.is_active = False
    user.is_staff = False
    user.deleted_at = now
    user.email_verified_at = None
    user.session_epoch += 1  # every browser signed in as them is logged out
    user.save()
    customer = getattr(user, "customer_profile", None)
    if customer is not None:
        customer.phone = customer.city = customer.postal_code = ""
        customer.save()
        # Sessions keep the vehicle's label ("2018 Honda Civic"), not its VIN.
        Vehicle.objects.filter(customer=customer).delete()
    photo = ""
    mechanic = MechanicProfile.objects.filter(user=user).first()
    if mechanic is not None:
        photo = mechanic.photo.name if mechanic.photo else ""
        mechanic.photo = ""
        mechanic.bio = mechanic.city = mechanic.postal_code = ""
        mechanic.brands = []
        mechanic.specialty_keywords = []
        mechanic.languages = []
        mechanic.is_online = False
        mechanic.last_seen_at = None
        mechanic.approval_status = ApprovalStatus.REJECTED
        mechanic.review_note = "Account deleted"
        mechanic.save()
        mechanic_search_terms_sync(profiles=[mechanic])
    for workshop in user.staff_workshops.all():
        workshop.staff.remove(user)
    Invitation.objects.filter(email__iexact=old_email, status=InvitationStatus.PENDING).update(
        status=InvitationStatus.REVOKED, responded_at=now
    )
    Invitation.objects.filter(email__iexact=old_email).update(email=user.email)
    EmailVerification.objects.filter(user=user).delete()
    Notification.objects.filter(recipient=user).delete()  # messages to them, and their outbox
    NotificationPreference.objects.filter(user=user).delete()
    user.api_tokens.all().delete()
    AccessAttempt.objects.filter(username=old_email).delete()
    return photo
