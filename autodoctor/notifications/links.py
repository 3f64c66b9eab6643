"""Absolute links that messages and calendar files carry (SITE_URL + path).

The paths are the booking pages': the session page `/booking/sessions/<id>/` (join),
its reschedule page, and "My sessions" `/booking/sessions/` (cancel, history).
"""

from django.conf import settings
from django.urls import reverse


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def session_links(session_id: int) -> dict[str, str]:
    my_sessions = absolute("/booking/sessions/")
    return {
        "join": absolute(f"/booking/sessions/{session_id}/"),
        "reschedule": absolute(f"/booking/sessions/{session_id}/reschedule/"),
        "cancel": my_sessions,
        "sessions": my_sessions,
        "offers": absolute("/booking/offers/"),
        "book": absolute("/booking/"),
        "payments": absolute("/payments/"),
        "preferences": absolute(reverse("notifications:preferences")),
    }
