"""Account API: sign-up and verification, who am I (profile, vehicles), my data and
account deletion, personal API tokens, the mechanic application, workshop people and
invitations, and the admins' approval queue. Handlers parse, call one service, answer."""

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Router, Schema, Status, UploadedFile

from autodoctor.errors import NotAllowed
from autodoctor.schemas import ErrorOut

from . import mechanics, privacy, profiles, registration, services, workshops
from .mechanic_types import mechanic_type
from .models import Invitation, MechanicProfile, User, Vehicle, Workshop
from .selectors import (
    home_section_for,
    mechanic_applications_pending,
    profile_summary,
    workshop_facts,
)

router = Router(tags=["accounts"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
SIGNUP_ANSWER = (
    "Check your inbox: we sent a link to confirm the address. (If it already had an "
    "account, its owner was emailed instead.)"
)


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


class DetailOut(Schema):
    detail: str


# --------------------------------------------------------------------------- auth


class SignupIn(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=128)
    full_name: str = Field(max_length=150)
    role: Literal["customer", "mechanic"] = "customer"
    time_zone: str = Field("", max_length=64)


@router.post(
    "/auth/signup",
    auth=None,
    response={202: DetailOut, 422: ErrorOut},
    summary="Create an account (then confirm the email)",
    description="Always 202 with the same words for a valid request, whether or not the "
    "address already has an account (no enumeration); the address's owner is emailed "
    "either way. Bad input answers 422 naming the field.",
)
def signup(request: HttpRequest, payload: SignupIn) -> Status:
    registration.account_signup(
        email=payload.email,
        password=payload.password,
        full_name=payload.full_name,
        role=payload.role,
        time_zone=payload.time_zone,
    )
    return Status(202, {"detail": SIGNUP_ANSWER})


class TokenBody(Schema):
    token: str = Field(max_length=200)


class VerifiedOut(Schema):
    detail: str
    email: str


@router.post(
    "/auth/verify",
    auth=None,
    response={200: VerifiedOut, 404: ErrorOut, 409: ErrorOut, 410: ErrorOut, 422: ErrorOut},
    summary="Confirm an email address with the emailed token",
    description="404 unknown token, 409 used already, 410 expired. Each token works once.",
)
def verify(request: HttpRequest, payload: TokenBody) -> dict:
    user = registration.email_verify(token=payload.token)
    return {"detail": "Your email address is confirmed.", "email": user.email}


@router.post(
    "/auth/verify/resend",
    response={202: DetailOut, 409: ErrorOut, 429: ErrorOut, **ERRORS},
    summary="Email me a new confirmation link",
)
def verify_resend(request: HttpRequest) -> Status:
    registration.verification_resend(user=_user(request))
    return Status(202, {"detail": f"We sent a new link to {_user(request).email}."})


# --------------------------------------------------------------------------- me


class VehicleOut(Schema):
    id: int
    year: int
    make: str
    model: str
    vin: str


class VehicleIn(Schema):
    year: int
    make: str = Field(max_length=50)
    model: str = Field(max_length=50)
    vin: str = Field("", max_length=24)


class MeOut(Schema):
    id: int
    email: str
    full_name: str
    role: str
    time_zone: str
    home: str
    email_verified: bool
    city: str
    postal_code: str
    phone: str
    sms_opt_in: bool
    vehicles: list[VehicleOut]
    mechanic_type: str | None
    approval_status: str | None


class MeIn(Schema):
    full_name: str | None = Field(None, max_length=150)
    time_zone: str | None = Field(None, max_length=64)
    city: str | None = Field(None, max_length=100)
    postal_code: str | None = Field(None, max_length=10)
    phone: str | None = Field(None, max_length=20)
    sms_opt_in: bool | None = None


def _me(user: User) -> dict:
    summary = profile_summary(user)
    mechanic = summary.mechanic
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "time_zone": user.time_zone,
        "home": home_section_for(user),
        "email_verified": user.email_verified,
        "city": summary.city,
        "postal_code": summary.postal_code,
        "phone": summary.phone,
        "sms_opt_in": summary.sms_opt_in,
        "vehicles": summary.vehicles,
        "mechanic_type": mechanic_type(mechanic).value if mechanic else None,
        "approval_status": mechanic.approval_status if mechanic else None,
    }


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="The authenticated user")
def me(request: HttpRequest) -> dict:
    return _me(_user(request))


@router.put(
    "/me",
    response={200: MeOut, **ERRORS},
    summary="Update my profile",
    description="Only the fields sent change. Phone and sms_opt_in are for customers; "
    "postal codes are Canadian (A1A 1A1).",
)
def me_update(request: HttpRequest, payload: MeIn) -> dict:
    user = profiles.profile_update(
        user=_user(request), changes=profiles.ProfileChanges(**payload.dict())
    )
    return _me(user)


@router.get("/me/vehicles", response={200: list[VehicleOut], 401: ErrorOut}, summary="My vehicles")
def vehicle_list(request: HttpRequest) -> list[Vehicle]:
    return list(Vehicle.objects.filter(customer__user=_user(request)))


def _facts(payload: VehicleIn) -> profiles.VehicleFacts:
    return profiles.VehicleFacts(
        year=payload.year, make=payload.make, model=payload.model, vin=payload.vin
    )


@router.post(
    "/me/vehicles",
    response={201: VehicleOut, **ERRORS},
    summary="Add a vehicle",
    description="A VIN is optional; if given it must pass its check digit (position 9).",
)
def vehicle_add(request: HttpRequest, payload: VehicleIn) -> Status:
    return Status(201, profiles.vehicle_add(user=_user(request), facts=_facts(payload)))


@router.put(
    "/me/vehicles/{vehicle_id}", response={200: VehicleOut, **ERRORS}, summary="Edit a vehicle"
)
def vehicle_update(request: HttpRequest, vehicle_id: int, payload: VehicleIn) -> Vehicle:
    return profiles.vehicle_update(
        user=_user(request), vehicle_id=vehicle_id, facts=_facts(payload)
    )


@router.delete(
    "/me/vehicles/{vehicle_id}", response={204: None, **ERRORS}, summary="Remove a vehicle"
)
def vehicle_remove(request: HttpRequest, vehicle_id: int) -> Status:
    profiles.vehicle_remove(user=_user(request), vehicle_id=vehicle_id)
    return Status(204, None)


@router.get(
    "/me/export",
    response={200: dict, 401: ErrorOut},
    summary="Download my data (PIPEDA access)",
    description="Profile, vehicles, workshops, sessions, payments, credits, earnings, "
    "notifications, token names and the details of the intake photos and videos you sent "
    "(`intake_attachments`), as JSON. The files themselves: `GET /api/me/export/archive`.",
)
def data_export(request: HttpRequest) -> dict:
    return privacy.personal_data_export(_user(request))


@router.get(
    "/me/export/archive",
    response={200: None, 401: ErrorOut},
    summary="Download my data with my photos and videos (ZIP)",
    description="A ZIP holding `my-data.json` (the same document as `GET /api/me/export`) "
    "and each intake photo or video you uploaded under "
    "`attachments/<session id>/<attachment id>-<kind>.<ext>` (`attachments/pending/` for "
    "uploads no session claimed yet), named in each entry's `file_in_archive`. A file "
    "missing from storage is listed with `file_in_archive: null` and a `note`. Only your "
    "own uploads: a mechanic's archive holds no customer's files.",
    openapi_extra={
        "responses": {
            200: {
                "description": "The ZIP archive",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def data_export_archive(request: HttpRequest) -> object:
    return privacy.personal_data_archive_response(_user(request))


class PasswordIn(Schema):
    password: str = Field(max_length=128)


@router.post(
    "/me/delete",
    response={200: DetailOut, **ERRORS},
    summary="Delete my account (anonymise)",
    description="Needs the password. Future bookings are cancelled through the normal "
    "cancel (refunds and notices); 409 while a session is live. Booking history and the "
    "financial ledger are kept without personal details.",
)
def account_delete(request: HttpRequest, payload: PasswordIn) -> dict:
    privacy.account_delete(user=_user(request), password=payload.password)
    return {"detail": "Your account is deleted."}


# --------------------------------------------------------------------------- API tokens


class TokenIn(Schema):
    name: str = Field(max_length=100)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedTokenOut(TokenOut):
    token: str


@router.get("/me/tokens", response=list[TokenOut], summary="My API tokens")
def token_list(request: HttpRequest) -> list:
    return list(request.auth.api_tokens.all())  # type: ignore[attr-defined]


@router.post(
    "/me/tokens", response={201: IssuedTokenOut}, summary="Create an API token (shown once)"
)
def token_create(request: HttpRequest, payload: TokenIn) -> Status:
    issued = services.api_token_create(user=request.auth, name=payload.name)  # type: ignore[attr-defined]
    t = issued.token
    return Status(
        201,
        {
            "id": t.pk,
            "name": t.name,
            "prefix": t.prefix,
            "created_at": t.created_at,
            "last_used_at": None,
            "revoked_at": None,
            "token": issued.raw,
        },
    )


@router.delete("/me/tokens/{token_id}", response=TokenOut, summary="Revoke an API token")
def token_revoke(request: HttpRequest, token_id: int) -> object:
    return services.api_token_revoke(user=request.auth, token_id=token_id)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- mechanics


class ApplicationIn(Schema):
    years_experience: int = Field(ge=0, le=70)
    city: str = Field(max_length=100)
    postal_code: str = Field(max_length=10)
    time_zone: str = Field(max_length=64)
    work_mode: Literal["virtual", "independent", "affiliated"]
    brands: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=20)
    specialties: list[Annotated[str, Field(max_length=50)]] = Field(
        default_factory=list, max_length=20
    )
    bio: str = Field("", max_length=2000)
    languages: list[Annotated[str, Field(max_length=50)]] = Field(
        default_factory=list, max_length=20
    )
    shop_name: str = Field("", max_length=200)
    shop_address: str = Field("", max_length=255)
    shop_city: str = Field("", max_length=100)
    shop_postal_code: str = Field("", max_length=10)
    invitation_token: str = Field("", max_length=200)


class ApplicationOut(Schema):
    id: int
    name: str
    mechanic_type: str
    workshop_id: int | None
    years_experience: int
    brands: list[str]
    specialties: list[str]
    languages: list[str]
    bio: str
    city: str
    postal_code: str
    has_photo: bool
    approval_status: str
    applied_at: datetime | None
    review_note: str


def _application_out(profile: MechanicProfile) -> dict:
    return {
        "id": profile.pk,
        "name": str(profile.user),
        "mechanic_type": mechanic_type(profile).value,
        "workshop_id": profile.workshop_id,
        "years_experience": profile.years_experience,
        "brands": profile.brands or [],
        "specialties": profile.specialty_keywords or [],
        "languages": profile.languages or [],
        "bio": profile.bio,
        "city": profile.city,
        "postal_code": profile.postal_code,
        "has_photo": bool(profile.photo),
        "approval_status": profile.approval_status,
        "applied_at": profile.applied_at,
        "review_note": profile.review_note,
    }


@router.get(
    "/mechanic/application",
    response={200: ApplicationOut, **ERRORS},
    summary="My mechanic application and its status",
)
def application_get(request: HttpRequest) -> dict:
    return _application_out(mechanics.access_own_profile(_user(request)))


@router.put(
    "/mechanic/application",
    response={200: ApplicationOut, **ERRORS},
    summary="Send or update my mechanic application",
    description="work_mode: virtual (own hours), independent (creates or updates the "
    "workshop you run: shop_* fields) or affiliated (needs the workshop's invitation "
    "token unless accepted already). The mechanic type follows from these facts. New and "
    "turned-down applications wait for an admin; unapproved mechanics get no offers.",
)
def application_put(request: HttpRequest, payload: ApplicationIn) -> dict:
    profile = mechanics.mechanic_application_submit(
        user=_user(request),
        application=mechanics.Application(
            years_experience=payload.years_experience,
            brands=payload.brands,
            specialties=payload.specialties,
            languages=payload.languages,
            bio=payload.bio,
            city=payload.city,
            postal_code=payload.postal_code,
            time_zone=payload.time_zone,
            work_mode=payload.work_mode,
            shop=mechanics.ShopFacts(
                name=payload.shop_name,
                address=payload.shop_address,
                city=payload.shop_city,
                postal_code=payload.shop_postal_code,
            ),
            invitation_token=payload.invitation_token,
        ),
    )
    return _application_out(profile)


@router.post(
    "/mechanic/photo",
    response={200: ApplicationOut, **ERRORS},
    summary="Upload my photo (JPEG/PNG/WebP, size-limited, resized)",
)
def photo_upload(request: HttpRequest, photo: File[UploadedFile]) -> dict:
    user = _user(request)
    profile = mechanics.mechanic_photo_set(user=user, photo=photo)
    return _application_out(profile)


class LeaveOut(Schema):
    workshop_id: int
    kept_session_ids: list[int]


@router.post(
    "/mechanic/affiliation/leave",
    response={200: LeaveOut, **ERRORS},
    summary="Stop working with my workshop (new bookings only)",
)
def affiliation_leave(request: HttpRequest) -> dict:
    outcome = mechanics.mechanic_affiliation_leave(user=_user(request))
    return {"workshop_id": outcome.workshop.pk, "kept_session_ids": outcome.kept_session_ids}


class ReviewIn(Schema):
    approve: bool
    note: str = Field("", max_length=500)


@router.get(
    "/mechanic-applications",
    response={200: list[ApplicationOut], **ERRORS},
    summary="Applications waiting for review (admins)",
)
def applications_pending(request: HttpRequest) -> list[dict]:
    if not _user(request).is_platform_admin:
        raise NotAllowed(_("Only platform admins review mechanics."))
    return [_application_out(m) for m, _ in mechanic_applications_pending()]


@router.post(
    "/mechanic-applications/{mechanic_id}/review",
    response={200: ApplicationOut, **ERRORS},
    summary="Approve or turn down an application (admins)",
)
def application_review(request: HttpRequest, mechanic_id: int, payload: ReviewIn) -> dict:
    profile = mechanics.mechanic_review(
        mechanic_id=mechanic_id, reviewer=_user(request), approve=payload.approve, note=payload.note
    )
    return _application_out(profile)


# --------------------------------------------------------------------------- workshops


class WorkshopOut(Schema):
    id: int
    name: str
    address: str
    city: str
    postal_code: str
    time_zone: str
    bays: int
    payout_account_id: str
    owner_id: int


class WorkshopIn(Schema):
    name: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=255)
    city: str | None = Field(None, max_length=100)
    postal_code: str | None = Field(None, max_length=10)
    time_zone: str | None = Field(None, max_length=64)
    bays: int | None = None
    payout_account_id: str | None = Field(None, max_length=100)


def _workshop_out(workshop: Workshop) -> dict:
    return {"id": workshop.pk, "owner_id": workshop.owner_id, **workshop_facts(workshop)}


@router.get(
    "/workshops/{workshop_id}/profile",
    response={200: WorkshopOut, **ERRORS},
    summary="A workshop I own or work at",
)
def workshop_get(request: HttpRequest, workshop_id: int) -> dict:
    return _workshop_out(workshops.access_workshop(_user(request), workshop_id))


@router.put(
    "/workshops/{workshop_id}/profile",
    response={200: WorkshopOut, **ERRORS},
    summary="Edit my workshop (owner)",
)
def workshop_put(request: HttpRequest, workshop_id: int, payload: WorkshopIn) -> dict:
    workshop = workshops.workshop_update(
        user=_user(request),
        workshop_id=workshop_id,
        changes=workshops.WorkshopChanges(**payload.dict()),
    )
    return _workshop_out(workshop)


class PersonOut(Schema):
    id: int
    name: str
    email: str


class MechanicMemberOut(Schema):
    id: int
    name: str
    mechanic_type: str
    partnership_type: str
    approval_status: str


class InvitationOut(Schema):
    id: int
    workshop_id: int
    kind: str
    email: str
    partnership_type: str
    status: str
    created_at: datetime
    expires_at: datetime


class PeopleOut(Schema):
    owner: PersonOut
    staff: list[PersonOut]
    mechanics: list[MechanicMemberOut]
    invitations: list[InvitationOut]


def _person(user: User) -> dict:
    return {"id": user.pk, "name": str(user), "email": user.email}


@router.get(
    "/workshops/{workshop_id}/people",
    response={200: PeopleOut, **ERRORS},
    summary="My workshop's staff, mechanics and open invitations",
)
def workshop_people(request: HttpRequest, workshop_id: int) -> dict:
    from .selectors import workshop_people as people_of

    workshop = workshops.access_workshop(_user(request), workshop_id)
    people = people_of(workshop, now=timezone.now())
    return {
        "owner": _person(workshop.owner),
        "staff": [_person(u) for u in people.staff],
        "mechanics": [
            {
                "id": m.pk,
                "name": str(m.user),
                "mechanic_type": mechanic_type(m).value,
                "partnership_type": m.partnership_type,
                "approval_status": m.approval_status,
            }
            for m, _ in people.mechanics
        ],
        "invitations": people.invitations,
    }


class InvitationIn(Schema):
    email: str = Field(max_length=254)
    kind: Literal["staff", "mechanic"]
    partnership_type: Literal["", "employee", "contractor"] = ""


@router.post(
    "/workshops/{workshop_id}/invitations",
    response={201: InvitationOut, **ERRORS},
    summary="Invite staff or an affiliated mechanic by email (owner)",
)
def invitation_send(request: HttpRequest, workshop_id: int, payload: InvitationIn) -> Status:
    invitation = workshops.invitation_send(
        user=_user(request),
        workshop_id=workshop_id,
        kind=payload.kind,
        email=payload.email,
        partnership_type=payload.partnership_type,
    )
    return Status(201, invitation)


@router.delete(
    "/workshops/{workshop_id}/invitations/{invitation_id}",
    response={200: InvitationOut, **ERRORS},
    summary="Withdraw an invitation (owner)",
)
def invitation_revoke(request: HttpRequest, workshop_id: int, invitation_id: int) -> Invitation:
    return workshops.invitation_revoke(
        user=_user(request), workshop_id=workshop_id, invitation_id=invitation_id
    )


@router.delete(
    "/workshops/{workshop_id}/staff/{staff_id}",
    response={204: None, **ERRORS},
    summary="Remove someone from the staff (owner)",
)
def staff_remove(request: HttpRequest, workshop_id: int, staff_id: int) -> Status:
    workshops.staff_remove(user=_user(request), workshop_id=workshop_id, staff_id=staff_id)
    return Status(204, None)


@router.post(
    "/invitations/accept",
    response={200: InvitationOut, 410: ErrorOut, **ERRORS},
    summary="Accept an invitation sent to my address",
    description="The token from the emailed link. 404 if it is someone else's invitation "
    "or unknown, 409 answered already, 410 expired.",
)
def invitation_accept(request: HttpRequest, payload: TokenBody) -> Invitation:
    return workshops.invitation_accept(token=payload.token, user=_user(request))


@router.post(
    "/invitations/decline",
    auth=None,
    response={200: InvitationOut, 404: ErrorOut, 409: ErrorOut, 410: ErrorOut, 422: ErrorOut},
    summary="Decline an invitation (whoever holds the link)",
)
def invitation_decline(request: HttpRequest, payload: TokenBody) -> Invitation:
    return workshops.invitation_decline(token=payload.token)
