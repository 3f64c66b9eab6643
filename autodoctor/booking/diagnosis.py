"""The mechanic's diagnosis summary at the end of a session (issue 11, item 1).

Only the session's assigned mechanic writes it, while the session is live or in the
EDIT_WINDOW after it was completed. Saving with complete=True also completes a live
session through the one completion rule (services.session_complete_locked), in the same
transaction, so the completion email (notifications) already carries the diagnosis.
Every save is recorded as `booking.session.diagnosed`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User
from autodoctor.errors import Conflict, InvalidInput, NotAllowed, NotFound

from .events import session_event_record
from .models import (
    FINDINGS_MAX,
    LABOUR_MINUTES_MAX,
    LABOUR_MINUTES_MIN,
    PARTS_MAX,
    Diagnosis,
    ServiceType,
    Session,
    SessionStatus,
    Urgency,
    status_in_words,
)
from .selectors import session_for_user
from .services import access_session_for_update, run_booking_transaction, session_complete_locked

DIAGNOSED = "booking.session.diagnosed"
# The mechanic may correct the summary for a week after the session (a part number
# looked up later, a second look at the photos); after that it is the record.
EDIT_WINDOW = timedelta(days=7)
FINDINGS_MIN = 10


@dataclass(frozen=True)
class DiagnosisInput:
    findings: str
    service_type: str
    estimated_labour_minutes: int
    parts: str
    urgency: str


def diagnosis_validate(
    *,
    findings: str,
    service_type: str,
    estimated_labour_minutes: int,
    parts: str,
    urgency: str,
) -> DiagnosisInput:
    """Check the summary; each refusal names its field (InvalidInput, 422)."""
    findings = (findings or "").strip()
    if len(findings) < FINDINGS_MIN:
        raise InvalidInput(
            _("Describe what you found in at least %(findings_min)s characters.")
            % {"findings_min": FINDINGS_MIN},
            field="findings",
        )
    if len(findings) > FINDINGS_MAX:
        raise InvalidInput(
            _("Keep the findings under %(findings_max)s characters.")
            % {"findings_max": FINDINGS_MAX},
            field="findings",
        )
    if service_type not in ServiceType.values:
        raise InvalidInput(
            _("Unknown service type %(service_type)s; choose one of %(choices)s.")
            % {"service_type": repr(service_type), "choices": ", ".join(ServiceType.values)},
            field="service_type",
        )
    if (
        isinstance(estimated_labour_minutes, bool)
        or not isinstance(estimated_labour_minutes, int)
        or not LABOUR_MINUTES_MIN <= estimated_labour_minutes <= LABOUR_MINUTES_MAX
    ):
        raise InvalidInput(
            _(
                "Estimated labour time must be between %(labour_minutes_min)s and %(labour_minutes_max)s minutes (24 hours)."
            )
            % {"labour_minutes_min": LABOUR_MINUTES_MIN, "labour_minutes_max": LABOUR_MINUTES_MAX},
            field="estimated_labour_minutes",
        )
    parts = (parts or "").strip()
    if len(parts) > PARTS_MAX:
        raise InvalidInput(
            _("Keep the parts list under %(parts_max)s characters.") % {"parts_max": PARTS_MAX},
            field="parts",
        )
    if urgency not in Urgency.values:
        raise InvalidInput(
            _("Unknown urgency %(urgency)s; choose one of %(choices)s.")
            % {"urgency": repr(urgency), "choices": ", ".join(Urgency.values)},
            field="urgency",
        )
    return DiagnosisInput(
        findings=findings,
        service_type=service_type,
        estimated_labour_minutes=estimated_labour_minutes,
        parts=parts,
        urgency=urgency,
    )


def diagnosis_of(session: Session) -> Diagnosis | None:
    """The session's diagnosis, or None while the mechanic has not written one (one
    query; the one read every page, email and visit booking uses)."""
    return Diagnosis.objects.filter(session=session).first()


def labour_words(minutes: int) -> str:
    """90 -> "1 h 30 min"; 45 -> "45 min"; 120 -> "2 h" (pages and emails)."""
    hours, rest = divmod(minutes, 60)
    return " ".join(
        part for part in (f"{hours} h" * bool(hours), f"{rest} min" * bool(rest)) if part
    )


def diagnosis_editable_until(session: Session) -> datetime | None:
    """Until when the mechanic may still write or correct it (None: while live)."""
    if session.status == SessionStatus.COMPLETED and session.ended_at is not None:
        return session.ended_at + EDIT_WINDOW
    return None


def diagnosis_writable(session: Session, *, now: datetime) -> bool:
    if session.status == SessionStatus.LIVE:
        return True
    until = diagnosis_editable_until(session)
    return until is not None and now <= until


def diagnosis_save(
    *,
    session_id: int,
    user: User,
    findings: str,
    service_type: str,
    estimated_labour_minutes: int,
    parts: str = "",
    urgency: str,
    complete: bool = False,
    now: datetime | None = None,
) -> Diagnosis:
    """Write (or correct) the session's diagnosis; with `complete`, also complete a live
    session. Saving again with complete=True on a completed session only edits: the
    session is completed once and its completion email goes out once.

    Security: strangers get 404 (no probing); the customer and admins 403 (only the
    assigned mechanic speaks for the diagnosis)."""
    now = now or timezone.now()

    def work() -> Diagnosis:
        session, party = access_session_for_update(session_id, user)
        if party != "mechanic":
            raise NotAllowed(_("Only the session's mechanic writes its diagnosis."))
        if not diagnosis_writable(session, now=now):
            if session.status == SessionStatus.COMPLETED:
                raise Conflict(
                    _(
                        "The diagnosis can be changed for 7 days after the session; that time is over."
                    ),
                    code="edit_window_closed",
                    current_status=session.status,
                )
            raise Conflict(
                _("This session is %(status)s; a diagnosis is written during or after the session.")
                % {"status": status_in_words(session.status)},
                code="invalid_transition",
                current_status=session.status,
            )
        data = diagnosis_validate(
            findings=findings,
            service_type=service_type,
            estimated_labour_minutes=estimated_labour_minutes,
            parts=parts,
            urgency=urgency,
        )
        diagnosis = diagnosis_of(session)
        first = diagnosis is None
        if diagnosis is None:
            diagnosis = Diagnosis(session=session)
        for name, value in vars(data).items():
            setattr(diagnosis, name, value)
        diagnosis.written_by = user.mechanic_profile  # type: ignore[attr-defined]
        diagnosis.save()
        completes = complete and session.status == SessionStatus.LIVE
        session_event_record(
            session=session,
            action=DIAGNOSED,
            actor=user,
            data={
                "first": first,
                "completes": completes,
                "urgency": data.urgency,
                "service_type": data.service_type,
            },
        )
        if completes:
            session_complete_locked(session, user=user)
        return diagnosis

    return run_booking_transaction(work)


def diagnosis_for_user(session_id: int, user: User) -> Diagnosis:
    """The diagnosis of a session the user is a party to (admins: any); 404 otherwise,
    and 404 while none is written."""
    session = session_for_user(session_id, user)
    diagnosis = Diagnosis.objects.filter(session=session).select_related("session").first()
    if diagnosis is None:
        raise NotFound(_("No diagnosis has been written for this session yet."))
    return diagnosis
