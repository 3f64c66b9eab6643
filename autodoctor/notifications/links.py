"""Absolute links that messages and calendar files carry (SITE_URL + path).

The paths are the booking pages' (by route name): the session room (join), its
reschedule page, and "My sessions" (cancel, history); plus the offers inbox, the
booking wizard, the payments page and the notification preferences. A workshop visit's
links all lead to its page (`/workshops/visits/<id>/`, where the customer accepts or
declines another time, cancels or asks to move it, and the staff answer a request).
"""

from django.conf import settings
from django.urls import reverse


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def session_links(session_id: int) -> dict[str, str]:
    my_sessions = absolute(reverse("booking:my_sessions"))
    return {
        "join": absolute(reverse("booking:room", args=[session_id])),
        "session": absolute(reverse("booking:session_detail", args=[session_id])),
        "reschedule": absolute(reverse("booking:session_reschedule", args=[session_id])),
        "cancel": my_sessions,
        "sessions": my_sessions,
        "offers": absolute(reverse("booking:offers")),
        "book": absolute(reverse("booking:wizard")),
        "claim": absolute(reverse("booking:waitlist_claim", args=[session_id])),
        "waitlist": absolute(reverse("booking:waitlist")),
        "payments": absolute(reverse("payments:mine")),
        "preferences": absolute(reverse("notifications:preferences")),
    }


VISIT_PAGE = "/workshops/visits/{}/"
VISITS_PAGE = "/workshops/visits/"


def visit_links(visit_id: int) -> dict[str, str]:
    page = absolute(VISIT_PAGE.format(visit_id))
    return {
        "visit": page,
        "accept": f"{page}?answer=accept#answer",
        "decline": f"{page}?answer=decline#answer",
        "reschedule": f"{page}#reschedule",
        "cancel": f"{page}#cancel",
        "visits": absolute(VISITS_PAGE),
        "preferences": absolute(reverse("notifications:preferences")),
    }
