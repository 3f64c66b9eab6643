"""Photos and short videos of the problem, sent with the intake (issue 18).

Owns what a file may be, where it is kept and who may see it:

- **What**: JPEG, PNG, WebP (opened and checked by Pillow, then re-encoded so their
  metadata — the phone's GPS position among it — is dropped), HEIC (recognised by its
  ISO-BMFF `ftyp` brand: Pillow cannot decode it without a plugin, so it is stored as
  sent), MP4 / QuickTime (`ftyp` brands) and WebM (EBML header with the `webm` doc
  type). The content decides, never the name or the browser's declared type. At most
  INTAKE_PHOTO_MAX_MB a photo, INTAKE_VIDEO_MAX_MB a video, INTAKE_ATTACHMENTS_MAX files a
  session.
- **Where**: Django's default storage (`STORAGES["default"]`: the file system by
  default, any S3-compatible bucket by setting), under a random name.
- **Who**: the customer who sent them and the mechanic assigned to the session — not
  mechanics who are only offered it, not admins, never through a public URL: files
  are streamed by `attachment_open` after `attachment_for_viewer` said yes. Missing and
  forbidden both answer "not found".

A batch is all or nothing: every file is checked before any is stored, and the files
written are deleted again if the transaction that records them fails.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.errors import Conflict, DomainError, NotAllowed, NotFound

from .models import AttachmentKind, IntakeAttachment, Session, SessionStatus, status_in_words

HEAD_BYTES = 64
MAX_PIXELS = 50_000_000  # a phone photo is 12-48 MP; more is a decompression bomb
IMAGE_TYPES = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
}
HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"M4V ", b"M4VP", b"mmp4", b"MSNV", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"dash",
}  # fmt: skip
QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide"}  # QuickTime files older than the ftyp box
CONTENT_TYPES = (
    "image/jpeg", "image/png", "image/webp", "image/heic",
    "video/mp4", "video/quicktime", "video/webm",
)  # fmt: skip
ACCEPT = ",".join(CONTENT_TYPES)
OPEN_STATUSES = {SessionStatus.PENDING, SessionStatus.SCHEDULED, SessionStatus.WAITING, SessionStatus.LIVE}  # fmt: skip


class AttachmentRefused(DomainError):
    """A file that is not a photo or video we take, or too large, or one too many: 400
    naming the file and the problem."""

    status = 400
    code = "bad_attachment"


@dataclass(frozen=True)
class Checked:
    """A file that passed: what it is and the content to store."""

    kind: str
    content_type: str
    extension: str
    content: File
    size: int
    original_name: str


def _megabytes(n: int) -> int:
    return n * 1024 * 1024


def _ftyp_brands(head: bytes) -> list[bytes]:
    """The major and compatible brands of an ISO-BMFF `ftyp` box at the start, or []."""
    if head[4:8] != b"ftyp":
        return []
    size = min(int.from_bytes(head[:4], "big"), len(head))
    return [head[8:12]] + [head[i : i + 4] for i in range(16, size - 3, 4)]


def _sniff(head: bytes) -> tuple[str, str, str] | None:
    """(kind, content type, extension) of what the first bytes say, for the formats
    Pillow does not read; None: leave it to Pillow."""
    brands = _ftyp_brands(head)
    if brands:
        major = brands[0]
        if major in HEIC_BRANDS or (major in {b"mif1", b"msf1"} and HEIC_BRANDS & set(brands)):
            return AttachmentKind.PHOTO, "image/heic", ".heic"
        if major == b"qt  ":
            return AttachmentKind.VIDEO, "video/quicktime", ".mov"
        if MP4_BRANDS & set(brands):
            return AttachmentKind.VIDEO, "video/mp4", ".mp4"
        return None
    if head[4:8] in QUICKTIME_ATOMS:
        return AttachmentKind.VIDEO, "video/quicktime", ".mov"
    if head[:4] == b"\x1a\x45\xdf\xa3" and b"\x42\x82" in head and b"webm" in head:
        return AttachmentKind.VIDEO, "video/webm", ".webm"
    return None


def _display_name(upload: UploadedFile) -> str:
    name = PurePosixPath((upload.name or "").replace("\\", "/")).name
    return "".join(c for c in name if c.isprintable() and c not in '"\x00')[:200]


def attachment_check(upload: UploadedFile) -> Checked:
    """What this upload is, or AttachmentRefused naming it and the problem."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    name = _display_name(upload) or "the file"
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    size = upload.size or 0
    sniffed = _sniff(head)
    photo_limit = _megabytes(settings.INTAKE_PHOTO_MAX_MB)
    video_limit = _megabytes(settings.INTAKE_VIDEO_MAX_MB)
    if sniffed is not None:
        kind, content_type, extension = sniffed
        limit = video_limit if kind == AttachmentKind.VIDEO else photo_limit
        if size > limit:
            too_large = (
                _("%(name)s: a video may be at most %(limit)s MB; this one is %(size).1f MB.")
                if kind == AttachmentKind.VIDEO
                else _("%(name)s: a photo may be at most %(limit)s MB; this one is %(size).1f MB.")
            )
            raise AttachmentRefused(
                too_large
                % {"name": name, "limit": limit // (1024 * 1024), "size": size / (1024 * 1024)},
                field="files",
                file=name,
                problem="too_large",
            )
        return Checked(kind, content_type, extension, File(upload), size, name)
    if size > photo_limit:
        raise AttachmentRefused(
            _("%(name)s: a photo may be at most %(limit)s MB; this one is %(size).1f MB.")
            % {"name": name, "limit": settings.INTAKE_PHOTO_MAX_MB, "size": size / (1024 * 1024)},
            field="files",
            file=name,
            problem="too_large",
        )
    data = upload.read(photo_limit + 1)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size
            if fmt in IMAGE_TYPES and width * height <= MAX_PIXELS:
                probe.verify()
        if fmt in IMAGE_TYPES and width * height <= MAX_PIXELS:
            # Re-encode: the picture stays, its metadata (GPS position, camera) goes.
            with Image.open(io.BytesIO(data)) as image:
                image = ImageOps.exif_transpose(image)
                out = io.BytesIO()
                if fmt == "JPEG":
                    image.convert("RGB").save(out, "JPEG", quality=90)
                elif fmt == "WEBP":
                    image.save(out, "WEBP", quality=90)
                else:
                    image.save(out, "PNG", optimize=True)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        fmt = None
    if fmt not in IMAGE_TYPES:
        raise AttachmentRefused(
            _(
                "%(name)s: not a photo or video we can take; send JPEG, PNG, WebP or HEIC "
                "photos, or an MP4, MOV or WebM video."
            )
            % {"name": name},
            field="files",
            file=name,
            problem="unsupported_type",
        )
    if width * height > MAX_PIXELS:
        raise AttachmentRefused(
            _("%(name)s: the image is too large (over %(megapixels)s megapixels).")
            % {"name": name, "megapixels": MAX_PIXELS // 1_000_000},
            field="files",
            file=name,
            problem="too_many_pixels",
        )
    content_type, extension = IMAGE_TYPES[fmt]
    stored = out.getvalue()
    return Checked(
        AttachmentKind.PHOTO, content_type, extension, ContentFile(stored), len(stored), name
    )


def attachments_check(files: Sequence[UploadedFile], *, already: int = 0) -> list[Checked]:
    """Check a batch before anything is stored (all or nothing): at least one file, no
    more than INTAKE_ATTACHMENTS_MAX with the `already` sent, each a photo or video."""
    if not files:
        raise AttachmentRefused(_("Choose at least one photo or video."), field="files")
    _within_limit(already, len(files))
    return [attachment_check(upload) for upload in files]


def _within_limit(already: int, adding: int) -> None:
    limit = settings.INTAKE_ATTACHMENTS_MAX
    if already + adding > limit:
        raise AttachmentRefused(
            _(
                "At most %(limit)s photos or videos per session; "
                "%(already)s already sent, %(adding)s more chosen."
            )
            % {"limit": limit, "already": already, "adding": adding},
            field="files",
            problem="too_many",
        )


def _store(
    checked: list[Checked], *, customer: User, session_id: int | None, now: datetime
) -> list[IntakeAttachment]:
    """Write the files, then their rows, in one durable transaction. Storage is not
    transactional: if anything fails, the files written are deleted again."""
    rows: list[IntakeAttachment] = []
    try:
        with transaction.atomic(durable=True):
            session = None
            if session_id is not None:
                # Count under the session's lock: two uploads at once cannot pass the limit.
                session = Session.objects.select_for_update().get(pk=session_id)
                if session.status not in OPEN_STATUSES:
                    raise Conflict(
                        _("This session is %(status)s; it takes no more files.")
                        % {"status": status_in_words(session.status)},
                        code="session_closed",
                    )
                _within_limit(
                    IntakeAttachment.objects.filter(session=session).count(), len(checked)
                )
            for item in checked:
                row = IntakeAttachment(
                    customer=customer,
                    session=session,
                    kind=item.kind,
                    content_type=item.content_type,
                    size_bytes=item.size,
                    original_name=item.original_name,
                    created_at=now,
                )
                rows.append(row)
                item.content.seek(0)
                row.file.save(f"upload{item.extension}", item.content, save=False)
            IntakeAttachment.objects.bulk_create(rows)
    except BaseException:
        for row in rows:
            if row.file.name:
                default_storage.delete(row.file.name)
        raise
    return rows


# --------------------------------------------------------------------------- writes


def attachments_add_pending(
    *,
    customer: User,
    files: Sequence[UploadedFile],
    pending_ids: Sequence[int] = (),
    now: datetime | None = None,
) -> list[IntakeAttachment]:
    """The wizard's uploads, before the session exists: stored unattached; the wizard
    keeps their ids and the session it creates claims them (`attachments_claim`).
    Unclaimed ones are deleted after INTAKE_PENDING_HOURS (`attachments_pending_sweep`)."""
    if not customer.is_customer:
        raise NotAllowed(_("Only customers send photos of their car."))
    checked = attachments_check(files, already=pending_for(customer, pending_ids).count())
    return _store(checked, customer=customer, session_id=None, now=now or timezone.now())


def attachments_add(
    *,
    session_id: int,
    user: User,
    files: Sequence[UploadedFile],
    now: datetime | None = None,
) -> list[IntakeAttachment]:
    """More photos or video for one of the customer's own sessions while it is open
    (pending, scheduled, waiting or live). 404 for anyone else's session."""
    session = Session.objects.filter(pk=session_id, customer=user).first()
    if session is None:
        raise NotFound(_("No such session."))
    checked = attachments_check(files, already=session.attachments.count())
    return _store(checked, customer=user, session_id=session.pk, now=now or timezone.now())


def attachments_claim(*, session: Session, ids: Sequence[int]) -> int:
    """The new session takes the wizard's pending uploads. Caller holds the transaction
    that creates the session; `intake_validate` checked the ids and their number."""
    if not ids:
        return 0
    return pending_for(session.customer, ids).update(session=session)


def attachment_remove_pending(*, customer: User, attachment_id: int) -> None:
    """The customer takes back an upload the wizard has not sent yet."""
    row = pending_for(customer, [attachment_id]).first()
    if row is None:
        raise NotFound(_("No such upload."))
    name = row.file.name
    with transaction.atomic(durable=True):
        row.delete()
    default_storage.delete(name)  # after the commit: a row never points at a lost file


def attachments_pending_sweep(*, now: datetime | None = None) -> int:
    """Periodic: delete uploads no session claimed within INTAKE_PENDING_HOURS (a wizard
    left half-way): the rows under lock (a claim at that moment either wins first or
    finds them gone), then their files."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.INTAKE_PENDING_HOURS)
    with transaction.atomic(durable=True):
        doomed = dict(
            IntakeAttachment.objects.select_for_update()
            .filter(session__isnull=True, created_at__lt=cutoff)
            .values_list("pk", "file")[:500]
        )
        IntakeAttachment.objects.filter(pk__in=list(doomed)).delete()
    for name in doomed.values():
        default_storage.delete(name)
    return len(doomed)


# --------------------------------------------------------------------------- reads


def pending_for(customer: User, ids: Sequence[int]) -> QuerySet[IntakeAttachment]:
    """The customer's own uploads among `ids` that no session has claimed yet."""
    return IntakeAttachment.objects.filter(
        customer=customer, session__isnull=True, pk__in=list(ids)
    )


def _viewer_scope(user: User) -> Q:
    """Security decision: the customer who sent them and the mechanic assigned to the
    session, nobody else (not offered mechanics, not admins)."""
    return Q(customer=user) | Q(session__mechanic__user=user)


def session_for_attachments(session_id: int, user: User) -> Session:
    """The session, if the user is its customer or its assigned mechanic."""
    session = (
        Session.objects.filter(pk=session_id)
        .filter(Q(customer=user) | Q(mechanic__user=user))
        .first()
    )
    if session is None:
        raise NotFound(_("No such session."))
    return session


def session_attachments(session: Session, user: User) -> list[IntakeAttachment]:
    if user.pk != session.customer_id and not (
        session.mechanic_id and session.mechanic.user_id == user.pk
    ):
        return []
    return list(session.attachments.all())


def attachment_for_viewer(
    attachment_id: int, user: User, *, session_id: int | None = None
) -> IntakeAttachment:
    row = IntakeAttachment.objects.filter(_viewer_scope(user), pk=attachment_id).first()
    # The session compared here, not in SQL: a foreign-key lookup with an id beyond 64
    # bits overflows SQLite's driver (a 500) where a primary-key lookup finds nothing.
    if row is not None and session_id is not None and row.session_id != session_id:
        row = None
    if row is None or not row.file.name:
        raise NotFound(_("No such photo or video."))
    return row


def attachment_open(row: IntakeAttachment) -> File:
    """The stored file, opened for streaming (caller checked the viewer)."""
    try:
        return default_storage.open(row.file.name, "rb")
    except FileNotFoundError as exc:
        raise NotFound(_("No such photo or video.")) from exc


def download_name(row: IntakeAttachment) -> str:
    suffix = PurePosixPath(row.file.name).suffix
    return f"session-{row.session_id or 'new'}-{row.kind}-{row.pk}{suffix}"


def attachment_response(row: IntakeAttachment) -> FileResponse:
    """Stream the file to a viewer `attachment_for_viewer` let in (the page and the API):
    its recognised type only, never sniffed, never cached by a shared cache."""
    response = FileResponse(
        attachment_open(row), content_type=row.content_type, filename=download_name(row)
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
