"""JSON API routes of the notifications app (mounted under /api/ in autodoctor/api.py)."""

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router

from autodoctor.accounts.models import User
from autodoctor.schemas import ErrorOut

from . import calendars, selectors

router = Router(tags=["notifications"])

CALENDAR_CONTENT_TYPE = "text/calendar; charset=utf-8"


@router.get(
    "/sessions/{session_id}/calendar.ics",
    response={404: ErrorOut, 409: ErrorOut},
    summary="The session as a calendar file (its customer and mechanic only)",
    description=(
        "An RFC 5545 file (METHOD:PUBLISH) with the same UID and SEQUENCE as the invitations "
        "we email, so importing it updates the same event. 404 for anyone else; 409 for a "
        "session without a scheduled time."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "iCalendar file",
                "content": {"text/calendar": {"schema": {"type": "string"}}},
            }
        }
    },
)
def session_calendar(request: HttpRequest, session_id: int) -> HttpResponse:
    user: User = request.auth  # type: ignore[attr-defined]
    session = selectors.session_for_party(session_id, user)
    body = calendars.session_calendar(session, viewer=user, now=timezone.now())
    response = HttpResponse(body, content_type=CALENDAR_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="session-{session.pk}.ics"'
    return response
