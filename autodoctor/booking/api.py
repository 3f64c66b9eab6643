"""Booking API (plan §1.3 and the scheduling endpoints). Handlers parse, call one
service, return a schema; errors are DomainErrors rendered by autodoctor/api.py."""

from datetime import date, datetime
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, Status, UploadedFile

from autodoctor.accounts.models import MechanicProfile, User
from autodoctor.errors import NotAllowed
from autodoctor.schemas import CODE_MAX, ErrorOut

from . import attachments, diagnosis, lifecycle, selectors, services, waitlist
from .models import (
    BRAND_MAX,
    CANCELLATION_REASON_MAX,
    CONCERN_MAX,
    FINDINGS_MAX,
    LABOUR_MINUTES_MAX,
    LABOUR_MINUTES_MIN,
    PARTS_MAX,
    VEHICLE_LABEL_MAX,
    Diagnosis,
    IntakeAttachment,
    Offer,
    Reservation,
    Session,
    WaitlistEntry,
)

router = Router(tags=["booking"])


class IntakeIn(Schema):
    plan: str = Field(examples=["advice"], max_length=CODE_MAX)
    concern: str = Field(examples=["Grinding noise when braking"], max_length=CONCERN_MAX)
    type: str = Field("video", max_length=CODE_MAX)
    vehicle_id: int | None = None
    vehicle_label: str = Field("", max_length=VEHICLE_LABEL_MAX)
    brand: str = Field("", max_length=BRAND_MAX)
    mode: Literal["now", "scheduled"] = "now"
    mechanic_id: int | None = Field(
        None, description="Scheduled: the chosen mechanic; omit with earliest=true"
    )
    start: datetime | None = Field(None, description="Scheduled: slot start, ISO 8601 with offset")
    earliest: bool = Field(False, description="Scheduled: take the earliest slot with any mechanic")


class ReserveIn(Schema):
    plan: str = Field(max_length=CODE_MAX)
    concern: str = Field(max_length=CONCERN_MAX)
    type: str = Field("video", max_length=CODE_MAX)
    vehicle_id: int | None = None
    vehicle_label: str = Field("", max_length=VEHICLE_LABEL_MAX)
    brand: str = Field("", max_length=BRAND_MAX)
    mechanic_id: int | None = None
    start: datetime | None = None
    earliest: bool = False


class ReservationRef(Schema):
    reservation_id: int


class RescheduleIn(Schema):
    start: datetime


class CancelIn(Schema):
    reason: str = Field("", max_length=CANCELLATION_REASON_MAX)


class ReservationOut(Schema):
    id: int
    session_id: int
    mechanic_id: int
    starts_at: datetime
    ends_at: datetime
    status: str
    expires_at: datetime | None


class SessionOut(Schema):
    id: int
    status: str
    type: str
    plan: str
    customer_id: int
    mechanic_id: int | None
    mechanic_name: str | None
    concern: str
    vehicle: str
    scheduled_for: datetime | None
    duration_minutes: int
    started_at: datetime | None
    ended_at: datetime | None
    reschedule_count: int
    cancelled_by: str
    cancellation_reason: str
    awaiting_payment: bool = Field(
        description="Start-now session not paid yet: pay with POST /api/payments/checkout "
        "{session_id, method}; it goes out to mechanics once paid"
    )
    hold: ReservationOut | None = None

    @staticmethod
    def resolve_plan(obj: Session) -> str:
        return obj.plan.code

    @staticmethod
    def resolve_mechanic_name(obj: Session) -> str | None:
        return str(obj.mechanic.user) if obj.mechanic_id else None

    @staticmethod
    def resolve_vehicle(obj: Session) -> str:
        return obj.vehicle_label

    @staticmethod
    def resolve_hold(obj: Session) -> Reservation | None:
        return selectors.current_hold(obj)


class OfferOut(Schema):
    id: int
    session_id: int
    kind: str
    status: str
    score: int
    reasons: list[str]
    offered_at: datetime
    plan: str
    concern: str
    vehicle: str
    scheduled_for: datetime | None

    @staticmethod
    def resolve_plan(obj: Offer) -> str:
        return obj.session.plan.code

    @staticmethod
    def resolve_concern(obj: Offer) -> str:
        return obj.session.concern

    @staticmethod
    def resolve_vehicle(obj: Offer) -> str:
        return obj.session.vehicle_label

    @staticmethod
    def resolve_scheduled_for(obj: Offer) -> datetime | None:
        return obj.session.scheduled_for


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,return-value]


def _mechanic(request: HttpRequest) -> MechanicProfile:
    profile = getattr(_user(request), "mechanic_profile", None)
    if profile is None:
        raise NotAllowed(_("Only mechanics have offers."))
    return profile


def _intake(user: User, payload: ReserveIn | IntakeIn) -> services.Intake:
    return services.intake_validate(
        customer=user,
        plan=payload.plan,
        concern=payload.concern,
        session_type=payload.type,
        vehicle_id=payload.vehicle_id,
        vehicle_label=payload.vehicle_label,
        brand=payload.brand,
    )


def _reserve(user: User, payload: ReserveIn | IntakeIn) -> Reservation:
    return services.reservation_hold_for_request(
        customer=user,
        intake=_intake(user, payload),
        mechanic_id=payload.mechanic_id,
        starts_at=payload.start,
        earliest=payload.earliest,
    )


@router.post(
    "/intake/start",
    response={201: SessionOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Start a session now (default) or hold a scheduled slot",
    description=(
        "`mode: now` creates the session with `awaiting_payment: true`; pay for it with "
        "`POST /api/payments/checkout {session_id, method}` and it goes out to the best "
        "matched mechanics. `mode: scheduled` holds the slot for 15 minutes (`hold`); pay "
        "with `{reservation_id, method}` or `PUT /api/slots/confirm`."
    ),
)
def intake_start(request: HttpRequest, payload: IntakeIn) -> Status:
    user = _user(request)
    if payload.mode == "scheduled":
        return Status(201, Session.objects.get(pk=_reserve(user, payload).session_id))
    return Status(
        201, services.session_create_immediate(customer=user, intake=_intake(user, payload))
    )


@router.post(
    "/slots/reserve",
    response={201: ReservationOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Hold a slot for 15 minutes during checkout",
)
def slots_reserve(request: HttpRequest, payload: ReserveIn) -> Status:
    return Status(201, _reserve(_user(request), payload))


class ConfirmIn(ReservationRef):
    waiver_accepted: bool = Field(
        False, description="Free/trial plans: the customer accepts the waiver (required)"
    )
    use_credits: bool = Field(False, description="Paid plans: pay with the customer's credits")


class PaymentRequiredOut(ErrorOut):
    checkout_url: str
    payment_id: int
    amount_cents: int
    currency: str


@router.put(
    "/slots/confirm",
    response={
        200: SessionOut,
        402: PaymentRequiredOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
    summary="Confirm a hold through payments (waiver, credits, or a card checkout URL)",
    description=(
        "Free/trial plans: send `waiver_accepted: true`. Paid plans: `use_credits: true` "
        "pays from the credit balance; otherwise the answer is 402 with `checkout_url`: "
        "the booking confirms when the card payment's webhook arrives."
    ),
)
def slots_confirm(request: HttpRequest, payload: ConfirmIn) -> Session:
    reservation = services.reservation_confirm_checked(
        reservation_id=payload.reservation_id,
        customer=_user(request),
        waiver_accepted=payload.waiver_accepted,
        use_credits=payload.use_credits,
    )
    return Session.objects.get(pk=reservation.session_id)


@router.delete(
    "/slots/release",
    response={200: ReservationOut, 404: ErrorOut, 409: ErrorOut},
    summary="Release a hold you no longer want",
)
def slots_release(request: HttpRequest, payload: ReservationRef) -> Reservation:
    return services.reservation_release(
        reservation_id=payload.reservation_id, customer=_user(request)
    )


@router.get(
    "/sessions",
    response=list[SessionOut],
    summary="My sessions (customers: own; mechanics: theirs)",
)
def session_list(
    request: HttpRequest, status: str | None = Query(None, max_length=CODE_MAX)
) -> list[Session]:
    qs = selectors.sessions_for_user(_user(request))
    if status:
        qs = qs.filter(status=status)
    return list(selectors.with_holds(qs)[:200])


@router.get(
    "/sessions/{session_id}", response={200: SessionOut, 404: ErrorOut}, summary="One session"
)
def session_detail(request: HttpRequest, session_id: int) -> Session:
    return selectors.session_for_user(session_id, _user(request))


@router.put(
    "/sessions/{session_id}/reschedule",
    response={200: SessionOut, 404: ErrorOut, 409: ErrorOut},
    summary="Move a scheduled session to another free slot",
)
def session_reschedule(request: HttpRequest, session_id: int, payload: RescheduleIn) -> Session:
    return services.session_reschedule(
        session_id=session_id, user=_user(request), new_start=payload.start
    )


@router.post(
    "/sessions/{session_id}/cancel",
    response={200: SessionOut, 404: ErrorOut, 409: ErrorOut},
    summary="Cancel a session (mechanics must give a reason)",
)
def session_cancel(request: HttpRequest, session_id: int, payload: CancelIn) -> Session:
    return services.session_cancel(
        session_id=session_id, user=_user(request), reason=payload.reason
    )


@router.post(
    "/sessions/{session_id}/start",
    response={200: SessionOut, 404: ErrorOut, 409: ErrorOut},
    summary="Go live (scheduled sessions from 15 minutes before)",
)
def session_start(request: HttpRequest, session_id: int) -> Session:
    return services.session_start(session_id=session_id, user=_user(request))


@router.post(
    "/sessions/{session_id}/end",
    response={200: SessionOut, 404: ErrorOut, 409: ErrorOut},
    summary="Complete a live session",
)
def session_end(request: HttpRequest, session_id: int) -> Session:
    return services.session_end(session_id=session_id, user=_user(request))


@router.post(
    "/sessions/{session_id}/extend",
    response={200: SessionOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="The mechanic extends a live session by 15 minutes (409 if their next booking is in the way)",
)
def session_extend(request: HttpRequest, session_id: int) -> Session:
    return lifecycle.session_extend(session_id=session_id, user=_user(request))


class DiagnosisIn(Schema):
    findings: str = Field(
        examples=["Front pads worn to the backing plate"], max_length=FINDINGS_MAX
    )
    service_type: str = Field(
        examples=["brakes"],
        max_length=CODE_MAX,
        description="diagnostic, maintenance, brakes, engine, electrical, suspension, "
        "transmission, hvac, tires or other",
    )
    estimated_labour_minutes: int = Field(
        examples=[90],
        description=f"{LABOUR_MINUTES_MIN} to {LABOUR_MINUTES_MAX} (checked by the service)",
    )
    parts: str = Field("", max_length=PARTS_MAX)
    urgency: str = Field(examples=["soon"], max_length=CODE_MAX, description="safe, soon or stop")
    complete: bool = Field(False, description="Also complete the live session (once)")


class DiagnosisOut(Schema):
    session_id: int
    findings: str
    service_type: str
    service_type_label: str
    estimated_labour_minutes: int
    parts: str
    urgency: str
    urgency_label: str
    written_by_id: int
    session_status: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_service_type_label(obj: Diagnosis) -> str:
        return obj.get_service_type_display()

    @staticmethod
    def resolve_urgency_label(obj: Diagnosis) -> str:
        return obj.get_urgency_display()

    @staticmethod
    def resolve_session_status(obj: Diagnosis) -> str:
        return obj.session.status


@router.put(
    "/sessions/{session_id}/diagnosis",
    response={
        200: DiagnosisOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
        429: ErrorOut,
    },
    summary="Write or correct the session's diagnosis (its mechanic; optionally complete it)",
    description=(
        "The assigned mechanic, while the session is live or for 7 days after it was "
        "completed. `complete: true` also completes a live session (the completion email "
        "carries the diagnosis); sent again it only edits."
    ),
)
def diagnosis_put(request: HttpRequest, session_id: int, payload: DiagnosisIn) -> Diagnosis:
    return diagnosis.diagnosis_save(
        session_id=session_id,
        user=_user(request),
        findings=payload.findings,
        service_type=payload.service_type,
        estimated_labour_minutes=payload.estimated_labour_minutes,
        parts=payload.parts,
        urgency=payload.urgency,
        complete=payload.complete,
    )


@router.get(
    "/sessions/{session_id}/diagnosis",
    response={200: DiagnosisOut, 401: ErrorOut, 404: ErrorOut},
    summary="The session's diagnosis (its customer and mechanic)",
)
def diagnosis_get(request: HttpRequest, session_id: int) -> Diagnosis:
    return diagnosis.diagnosis_for_user(session_id, _user(request))


@router.get("/offers", response=list[OfferOut], summary="Open offers I can accept (mechanics)")
def offer_list(request: HttpRequest) -> list[Offer]:
    return list(selectors.offers_visible_to(_mechanic(request))[:100])


@router.post(
    "/offers/{offer_id}/accept",
    response={200: SessionOut, 404: ErrorOut, 409: ErrorOut},
    summary="Accept an offer; the first mechanic wins",
)
def offer_accept(request: HttpRequest, offer_id: int) -> Session:
    return services.offer_accept(offer_id=offer_id, mechanic=_mechanic(request))


@router.post(
    "/offers/{offer_id}/decline",
    response={200: OfferOut, 404: ErrorOut},
    summary="Decline an offer (free: no penalty, nothing counted)",
)
def offer_decline(request: HttpRequest, offer_id: int) -> Offer:
    offer = services.offer_decline(offer_id=offer_id, mechanic=_mechanic(request))
    return Offer.objects.select_related("session__plan").get(pk=offer.pk)


# --------------------------------------------------------------------------- waitlist


class WaitlistIn(Schema):
    plan: str = Field(examples=["advice"], max_length=CODE_MAX)
    concern: str = Field(max_length=CONCERN_MAX)
    type: str = Field("video", max_length=CODE_MAX)
    vehicle_id: int | None = None
    vehicle_label: str = Field("", max_length=VEHICLE_LABEL_MAX)
    brand: str = Field("", max_length=BRAND_MAX)
    mechanic_id: int | None = Field(None, description="The mechanic to wait for; omit for any")
    first_day: date = Field(description="First local day (the customer's zone) to wait for")
    last_day: date = Field(description="Last local day; at most WAITLIST_MAX_DAYS (60) in all")


class WaitlistOut(Schema):
    id: int
    status: str = Field(description="waiting, offered, booked, lapsed, left or expired")
    mechanic_id: int | None = Field(description="Null: any mechanic")
    plan: str
    first_day: date
    last_day: date
    created_at: datetime
    offered_at: datetime | None
    claim_expires_at: datetime | None = Field(description="While offered: the hold ends then")
    claim_session_id: int | None = Field(
        description="While offered: the held session; confirm its hold with PUT /api/slots/confirm"
    )
    reservation_id: int | None = None

    @staticmethod
    def resolve_plan(obj: WaitlistEntry) -> str:
        return obj.plan.code

    @staticmethod
    def resolve_reservation_id(obj: WaitlistEntry) -> int | None:
        if obj.status != "offered" or obj.claim_session is None:
            return None
        hold = selectors.current_hold(obj.claim_session)
        return hold.pk if hold else None


@router.post(
    "/waitlist",
    response={201: WaitlistOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Wait for time with a mechanic (or any) within a range of days",
    description=(
        "When time frees up in the range the first customer waiting gets it held for "
        "WAITLIST_CLAIM_MINUTES (10) and an email: the entry turns `offered` with "
        "`reservation_id`; pay or confirm that hold like any other."
    ),
)
def waitlist_join(request: HttpRequest, payload: WaitlistIn) -> Status:
    user = _user(request)
    entry = waitlist.waitlist_join(
        customer=user,
        intake=services.intake_validate(
            customer=user,
            plan=payload.plan,
            concern=payload.concern,
            session_type=payload.type,
            vehicle_id=payload.vehicle_id,
            vehicle_label=payload.vehicle_label,
            brand=payload.brand,
        ),
        mechanic_id=payload.mechanic_id,
        first_day=payload.first_day,
        last_day=payload.last_day,
    )
    return Status(201, entry)


@router.get("/waitlist", response={200: list[WaitlistOut]}, summary="Your waitlist entries")
def waitlist_list(request: HttpRequest) -> list[WaitlistEntry]:
    return list(waitlist.waitlist_for_customer(_user(request))[:200])


@router.delete(
    "/waitlist/{entry_id}",
    response={200: WaitlistOut, 404: ErrorOut, 409: ErrorOut},
    summary="Leave the waitlist (a time held for you is released to the next customer)",
)
def waitlist_leave(request: HttpRequest, entry_id: int) -> WaitlistEntry:
    entry = waitlist.waitlist_leave(entry_id=entry_id, customer=_user(request))
    return waitlist.waitlist_entry_for_customer(entry.pk, _user(request))


# --------------------------------------------------------------------------- intake files


class AttachmentOut(Schema):
    id: int
    session_id: int | None
    kind: str = Field(description="photo or video")
    content_type: str = Field(description="What the content was recognised as")
    size_bytes: int
    name: str = Field(description="The file name the customer sent (display only)")
    created_at: datetime
    content_url: str = Field(description="The file itself, for the same two people only")

    @staticmethod
    def resolve_id(obj: IntakeAttachment) -> int:
        return obj.pk

    @staticmethod
    def resolve_name(obj: IntakeAttachment) -> str:
        return obj.original_name

    @staticmethod
    def resolve_content_url(obj: IntakeAttachment) -> str:
        return f"/api/sessions/{obj.session_id}/attachments/{obj.pk}/content"


@router.post(
    "/sessions/{session_id}/attachments",
    response={201: list[AttachmentOut], 400: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Send photos or a short video of the problem (the session's customer)",
    description=(
        "multipart/form-data with one or more `files`: JPEG, PNG, WebP or HEIC photos "
        "(INTAKE_PHOTO_MAX_MB each), MP4, QuickTime or WebM video (INTAKE_VIDEO_MAX_MB), "
        "at most INTAKE_ATTACHMENTS_MAX per session, while the session is open. The "
        "content decides the type, not the name. One bad file refuses the whole batch "
        "(400 `bad_attachment` naming the file and the problem; nothing stored). Only the "
        "customer and the mechanic assigned to the session can see them."
    ),
)
def attachment_upload(
    request: HttpRequest, session_id: int, files: File[list[UploadedFile]]
) -> Status:
    rows = attachments.attachments_add(session_id=session_id, user=_user(request), files=files)
    return Status(201, rows)


@router.get(
    "/sessions/{session_id}/attachments",
    response={200: list[AttachmentOut], 404: ErrorOut},
    summary="The session's photos and video (its customer and assigned mechanic only)",
)
def attachment_list(request: HttpRequest, session_id: int) -> list[IntakeAttachment]:
    session = attachments.session_for_attachments(session_id, _user(request))
    return attachments.session_attachments(session, _user(request))


@router.get(
    "/sessions/{session_id}/attachments/{attachment_id}/content",
    response={200: None, 404: ErrorOut},
    summary="One photo or video, the file itself (its customer and assigned mechanic only)",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file, with its recognised content type",
                "content": {
                    kind: {"schema": {"type": "string", "format": "binary"}}
                    for kind in attachments.CONTENT_TYPES
                },
            }
        }
    },
)
def attachment_content(request: HttpRequest, session_id: int, attachment_id: int) -> object:
    row = attachments.attachment_for_viewer(attachment_id, _user(request), session_id=session_id)
    return attachments.attachment_response(row)
