"""An authorization matrix that cannot go stale.

Every page URL pattern and every API operation is enumerated at run time and must be
classified below (`PAGES`, `API`); a route nobody classified fails
`test_every_route_is_classified`. Each classified route is then called as anonymous,
the owner (a customer C1, a mechanic M1, a workshop W1's owner), a second customer, a
second mechanic, another workshop's owner and an admin:

- nobody gets a 5xx;
- non-public routes refuse anonymous callers (API 401, pages a redirect to log in or 4xx);
- role routes refuse the other roles, owner routes every non-owner (403/404, pages may
  redirect away), and staff routes everyone but admins;
- no response to a non-owner carries a byte of C1's private data (email, name, phone,
  vehicle, concern) — `LEAK_MARKERS`;
- the owner and the admin reach their own routes (a GET answers < 400), so the refusals
  above are not vacuous;
- afterwards nothing of the owners' world changed.

Unsafe methods are sent only by callers who must be refused (so the matrix never deletes
an account or logs a session out); routes that act on the caller alone are called with GET.
"""

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image as PILImage

from autodoctor.accounts.models import Invitation, InvitationKind, Role, Vehicle
from autodoctor.accounts.services import api_token_create
from autodoctor.api import api
from autodoctor.availability.models import (
    DateOverride,
    ExternalCalendar,
    TimeOff,
    TimeOffStatus,
    WeeklyBlock,
)
from autodoctor.booking import attachments, waitlist
from autodoctor.booking import services as booking
from autodoctor.booking.models import (
    Diagnosis,
    Offer,
    OfferKind,
    Reservation,
    ReservationStatus,
    Session,
    WaitlistEntry,
)
from autodoctor.booking.models import SessionStatus as Status
from autodoctor.integrations import services as integrations
from autodoctor.integrations.models import Delivery
from autodoctor.notifications.models import Notification
from autodoctor.payments.models import PayoutRun
from autodoctor.payments.services import checkout, credits
from autodoctor.workshops.models import Visit
from tests.booking.conftest import _plans_migration
from tests.factories import (
    CustomerFactory,
    MechanicFactory,
    UserFactory,
    VehicleFactory,
    WorkshopFactory,
    weekly_hours,
    workshop_hours,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)  # a Tuesday
SLOT = datetime(2031, 3, 5, 15, 0, tzinfo=UTC)

# Route classes.
PUBLIC = "public"  # anyone, logged out included (token- or signature-checked where secret)
USER = "user"  # any logged-in person, about themselves only
CUSTOMER, MECHANIC, WORKSHOP, STAFF = "customer", "mechanic", "workshop", "staff"  # by role
PAYEE = "payee"  # mechanics and workshops: the people who are paid
OWN_C, OWN_M, OWN_W = "own_customer", "own_mechanic", "own_workshop"  # one owner's object
# A workshop visit: both sides see it; some acts are the customer's, others the workshop's.
OWN_V, OWN_VC, OWN_VW = "own_visit", "own_visit_customer", "own_visit_workshop"

ROLE_OF = {
    CUSTOMER: {"c1", "c2"},
    MECHANIC: {"m1", "m2"},
    WORKSHOP: {"w1", "w2"},
    PAYEE: {"m1", "m2", "w1", "w2"},
    STAFF: set(),
}
# Who may reach an owner's object: the owner, and the session's other party.
SHOP = frozenset({"w1"})  # c1's visit is at w1's workshop: its staff see the request
OWNERS = {
    OWN_C: {"c1", "m1"},
    OWN_M: {"m1"},
    OWN_W: {"w1"},
    OWN_V: {"c1", "w1"},
    OWN_VC: {"c1"},
    OWN_VW: {"w1"},
}
CALLERS = ["anonymous", "c1", "c2", "m1", "m2", "w1", "w2", "admin"]


@dataclass(frozen=True)
class Route:
    kind: str
    params: dict = field(default_factory=dict)  # path parameter -> world key
    body: dict | None = None  # API JSON body (values: world keys in "{…}")
    query: dict = field(default_factory=dict)  # page GET parameters
    served: frozenset = frozenset()  # statuses that still mean "let in" (input refused)
    shared_with: frozenset = frozenset()  # callers besides c1/m1 who rightly see c1's data


# Pages by URL name. Path parameters are filled from the world by name unless given.
PAGES: dict[str, Route] = {
    "home": Route(USER),
    "login": Route(PUBLIC),
    "healthz": Route(PUBLIC),  # the load balancer's readiness probe: "ok", nothing else
    "set_language": Route(PUBLIC),  # the language switch (cookie; account if signed in)
    "logout": Route(PUBLIC),
    "profile": Route(USER),
    "token_create": Route(USER),
    "token_revoke": Route(OWN_C, {"token_id": "c1_token"}),
    "accounts:signup": Route(PUBLIC),
    "accounts:signup_done": Route(PUBLIC),
    "accounts:verify_needed": Route(USER),
    "accounts:verify_resend": Route(USER),
    "accounts:verify": Route(PUBLIC, {"token": "bogus"}),
    "accounts:profile_update": Route(USER),
    "accounts:vehicle_add": Route(CUSTOMER),
    "accounts:vehicle_edit": Route(OWN_C, {"vehicle_id": "c1_vehicle"}),
    "accounts:vehicle_remove": Route(OWN_C, {"vehicle_id": "c1_vehicle"}),
    "accounts:logout_everywhere": Route(USER),
    "accounts:data_export": Route(USER),
    # A workshop owner is told to hand the workshop over first (409, with the reason).
    "accounts:delete": Route(USER, served=frozenset({409})),
    "accounts:mechanic_application": Route(MECHANIC),
    "accounts:affiliation_leave": Route(MECHANIC),
    "accounts:presence_set": Route(MECHANIC),
    "accounts:presence_heartbeat": Route(MECHANIC),
    "accounts:mechanic_photo": Route(PUBLIC, {"mechanic_id": "m1_profile"}),
    "accounts:workshop_list": Route(USER),
    "accounts:workshop_detail": Route(OWN_W, {"workshop_id": "w1_shop"}),
    "accounts:workshop_edit": Route(OWN_W, {"workshop_id": "w1_shop"}),
    "accounts:workshop_invite": Route(OWN_W, {"workshop_id": "w1_shop"}),
    "accounts:invitation_revoke": Route(
        OWN_W, {"workshop_id": "w1_shop", "invitation_id": "w1_invitation"}
    ),
    "accounts:staff_remove": Route(OWN_W, {"workshop_id": "w1_shop", "staff_id": "w1_staff"}),
    "accounts:invitation": Route(PUBLIC, {"token": "bogus"}),
    "accounts:review_queue": Route(STAFF),
    "accounts:review_decide": Route(STAFF, {"mechanic_id": "applicant"}),
    "password_reset": Route(PUBLIC),
    "password_reset_done": Route(PUBLIC),
    "password_reset_confirm": Route(PUBLIC, {"uidb64": "bogus", "token": "bogus"}),
    "password_reset_complete": Route(PUBLIC),
    "password_change": Route(USER),
    "password_change_done": Route(USER),
    "availability:weekly": Route(MECHANIC),
    "availability:weekly_add": Route(MECHANIC),
    "availability:weekly_remove": Route(OWN_M, {"block_id": "m1_block"}),
    "availability:weekly_override_add": Route(MECHANIC),
    "availability:weekly_override_remove": Route(OWN_M, {"override_id": "m1_override"}),
    "availability:calendar": Route(MECHANIC),
    "availability:time_off": Route(MECHANIC),
    "availability:time_off_cancel": Route(OWN_M, {"time_off_id": "m1_time_off"}),
    "availability:settings": Route(MECHANIC),
    "availability:calendars": Route(MECHANIC),
    "availability:calendar_refresh": Route(OWN_M, {"calendar_id": "m1_calendar"}),
    "availability:calendar_remove": Route(OWN_M, {"calendar_id": "m1_calendar"}),
    "availability:workshop_hours": Route(WORKSHOP),
    "availability:workshop_override_add": Route(WORKSHOP),
    "availability:workshop_override_remove": Route(OWN_W, {"override_id": "w1_override"}),
    "availability:workshop_time_off": Route(WORKSHOP),
    "availability:workshop_time_off_decide": Route(
        OWN_W, {"time_off_id": "w1_time_off", "decision": "approve"}
    ),
    "availability:mechanic_profile": Route(USER, {"mechanic_id": "m1_profile"}),
    "booking:wizard": Route(CUSTOMER),
    "booking:wizard_restart": Route(CUSTOMER),
    # Without a wizard in progress: 422 "choose a vehicle and a plan first".
    "booking:wizard_slots": Route(CUSTOMER, served=frozenset({422})),
    "booking:wizard_step": Route(CUSTOMER, {"step": "plan"}),
    "booking:hold": Route(OWN_C, {"reservation_id": "c1_hold"}),
    "booking:hold_confirm": Route(OWN_C, {"reservation_id": "c1_hold"}),
    "booking:hold_release": Route(OWN_C, {"reservation_id": "c1_hold"}),
    "booking:my_sessions": Route(USER),
    "booking:waitlist": Route(CUSTOMER),
    "booking:waitlist_join": Route(CUSTOMER),  # without a wizard in progress: back to it
    "booking:waitlist_leave": Route(OWN_C, {"entry_id": "c1_waitlist"}),
    "booking:waitlist_claim": Route(OWN_C, {"session_id": "c1_claim"}),
    "booking:session_detail": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:confirmation": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:waiting": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:room": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:room_join": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:room_call": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:session_start": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:session_end": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:session_extend": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:session_diagnosis": Route(OWN_C, {"session_id": "c1_session"}),
    # Photos and video of the problem: the customer and the assigned mechanic only.
    "booking:attachment": Route(OWN_C, {"attachment_id": "c1_attachment"}),
    "booking:session_attachments_add": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:intake_attachment_remove": Route(OWN_C, {"attachment_id": "c1_upload"}),
    "booking:session_cancel": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:session_reschedule": Route(OWN_C, {"session_id": "c1_session"}),
    "booking:offers": Route(MECHANIC),
    "booking:offer_accept": Route(OWN_M, {"offer_id": "m1_offer"}),
    "booking:offer_decline": Route(OWN_M, {"offer_id": "m1_offer"}),
    "booking:calendar": Route(MECHANIC),
    "booking:admin_schedule": Route(STAFF),
    "booking:admin_schedule_move": Route(STAFF),
    "payments:mine": Route(USER),
    "payments:checkout": Route(OWN_C, {"reservation_id": "c1_hold"}),
    "payments:checkout_waiver": Route(OWN_C, {"reservation_id": "c1_hold"}),
    "payments:checkout_credits": Route(OWN_C, {"reservation_id": "c1_hold"}),
    "payments:checkout_card": Route(OWN_C, {"reservation_id": "c1_hold"}),
    "payments:start_checkout": Route(OWN_C, {"session_id": "c1_now"}),
    "payments:start_checkout_waiver": Route(OWN_C, {"session_id": "c1_now"}),
    "payments:start_checkout_credits": Route(OWN_C, {"session_id": "c1_now"}),
    "payments:start_checkout_card": Route(OWN_C, {"session_id": "c1_now"}),
    "payments:receipt": Route(OWN_C, {"payment_id": "c1_payment"}),
    "payments:earnings": Route(PAYEE),
    "payments:payout_runs": Route(STAFF),
    "payments:statement": Route(PAYEE, {"year": 2031}),
    "payments:platform_statement": Route(STAFF, {"year": 2031}),
    "payments:payout_run_start": Route(STAFF),
    "payments:simulated_checkout": Route(PUBLIC, {"checkout_id": "bogus"}),
    "payments:webhook_stripe": Route(PUBLIC),
    "payments:webhook_simulated": Route(PUBLIC),
    "notifications:centre": Route(USER),
    "notifications:badge": Route(PUBLIC),  # logged out: 204, nothing to show
    "notifications:mark_read": Route(OWN_C, {"notification_id": "c1_notification"}),
    "notifications:mark_all_read": Route(USER),
    "notifications:preferences": Route(USER),
    "notifications:feed_regenerate": Route(USER),
    "notifications:feed_revoke": Route(USER),
    "notifications:feed": Route(PUBLIC, {"token": "bogus"}),
    "analytics:rating_save": Route(OWN_C, {"session_id": "c1_session"}),
    "analytics:platform": Route(STAFF),
    "analytics:compliance": Route(STAFF),
    "analytics:mine": Route(MECHANIC),
    "analytics:mechanic": Route(STAFF, {"mechanic_id": "m1_profile"}),
    "directory:search": Route(USER, query={"brand": "Honda"}),
    "directory:profile": Route(USER, {"mechanic_id": "m1_profile"}),
    "analytics:workshop_default": Route(WORKSHOP),
    "analytics:workshop": Route(OWN_W, {"workshop_id": "w1_shop"}),
    "workshops:my_visits": Route(USER),
    "workshops:visit_new": Route(OWN_C, {"session_id": "c1_done_session"}),
    "workshops:visit_new_at": Route(
        OWN_C, {"session_id": "c1_done_session", "workshop_id": "w1_shop"}
    ),
    "workshops:visit_detail": Route(OWN_V, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_accept_offer": Route(OWN_VC, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_decline_offer": Route(OWN_VC, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_cancel": Route(OWN_V, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_move": Route(OWN_V, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_confirm": Route(OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_counter": Route(OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_decline": Route(OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_assign": Route(OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_check_in": Route(OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_complete": Route(OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:visit_no_show": Route(OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP),
    "workshops:appointments": Route(WORKSHOP, shared_with=SHOP),
    "workshops:appointments_board": Route(WORKSHOP, shared_with=SHOP),
    "integrations:endpoints": Route(USER),
    "integrations:endpoint_create": Route(USER),
    "integrations:endpoint": Route(OWN_C, {"endpoint_id": "c1_endpoint"}),
    "integrations:endpoint_delete": Route(OWN_C, {"endpoint_id": "c1_endpoint"}),
    "integrations:endpoint_enable": Route(OWN_C, {"endpoint_id": "c1_endpoint"}),
    "integrations:delivery_resend": Route(OWN_C, {"delivery_id": "c1_delivery"}),
}

# API operations by "METHOD /api/path".
API: dict[str, Route] = {
    "POST /api/auth/signup": Route(PUBLIC),
    "POST /api/auth/verify": Route(PUBLIC),
    "POST /api/auth/verify/resend": Route(USER),
    "GET /api/me": Route(USER),
    "PUT /api/me": Route(USER),
    "GET /api/me/vehicles": Route(USER),
    "POST /api/me/vehicles": Route(CUSTOMER),
    "PUT /api/me/vehicles/{vehicle_id}": Route(OWN_C, {"vehicle_id": "c1_vehicle"}),
    "DELETE /api/me/vehicles/{vehicle_id}": Route(OWN_C, {"vehicle_id": "c1_vehicle"}),
    "GET /api/me/export": Route(USER),
    "GET /api/me/export/archive": Route(USER),
    "POST /api/me/delete": Route(USER),
    "GET /api/me/tokens": Route(USER),
    "POST /api/me/tokens": Route(USER),
    "DELETE /api/me/tokens/{token_id}": Route(OWN_C, {"token_id": "c1_token"}),
    "GET /api/mechanic/application": Route(MECHANIC),
    "PUT /api/mechanic/application": Route(USER),
    "POST /api/mechanic/photo": Route(MECHANIC),
    "POST /api/mechanic/affiliation/leave": Route(MECHANIC),
    "GET /api/mechanic-applications": Route(STAFF),
    "POST /api/mechanic-applications/{mechanic_id}/review": Route(
        STAFF, {"mechanic_id": "applicant"}, {"decision": "approve"}
    ),
    "GET /api/workshops/{workshop_id}/profile": Route(OWN_W, {"workshop_id": "w1_shop"}),
    "PUT /api/workshops/{workshop_id}/profile": Route(OWN_W, {"workshop_id": "w1_shop"}),
    "GET /api/workshops/{workshop_id}/people": Route(OWN_W, {"workshop_id": "w1_shop"}),
    "POST /api/workshops/{workshop_id}/invitations": Route(
        OWN_W, {"workshop_id": "w1_shop"}, {"email": "new@example.test", "kind": "staff"}
    ),
    "DELETE /api/workshops/{workshop_id}/invitations/{invitation_id}": Route(
        OWN_W, {"workshop_id": "w1_shop", "invitation_id": "w1_invitation"}
    ),
    "DELETE /api/workshops/{workshop_id}/staff/{staff_id}": Route(
        OWN_W, {"workshop_id": "w1_shop", "staff_id": "w1_staff"}
    ),
    "POST /api/invitations/accept": Route(USER),
    "POST /api/invitations/decline": Route(PUBLIC),  # whoever holds the emailed token
    "GET /api/mechanic/availability": Route(MECHANIC),
    "PUT /api/mechanic/availability": Route(MECHANIC),
    "GET /api/mechanic/time-off": Route(MECHANIC),
    "POST /api/mechanic/time-off": Route(MECHANIC),
    "DELETE /api/mechanic/time-off/{time_off_id}": Route(OWN_M, {"time_off_id": "m1_time_off"}),
    "GET /api/workshop/time-off": Route(WORKSHOP),
    "POST /api/workshop/time-off/{time_off_id}/approve": Route(
        OWN_W, {"time_off_id": "w1_time_off"}
    ),
    "POST /api/workshop/time-off/{time_off_id}/decline": Route(
        OWN_W, {"time_off_id": "w1_time_off"}
    ),
    "GET /api/mechanic/settings": Route(MECHANIC),
    "GET /api/mechanic/calendars": Route(MECHANIC),
    "POST /api/mechanic/calendars": Route(MECHANIC),
    "DELETE /api/mechanic/calendars/{calendar_id}": Route(OWN_M, {"calendar_id": "m1_calendar"}),
    "POST /api/mechanic/calendars/{calendar_id}/refresh": Route(
        OWN_M, {"calendar_id": "m1_calendar"}
    ),
    "PUT /api/mechanic/settings": Route(MECHANIC),
    "GET /api/workshop/availability": Route(WORKSHOP),
    "PUT /api/workshop/availability": Route(WORKSHOP),
    "GET /api/mechanic/overrides": Route(MECHANIC),
    "POST /api/mechanic/overrides": Route(MECHANIC),
    "DELETE /api/mechanic/overrides/{override_id}": Route(OWN_M, {"override_id": "m1_override"}),
    "GET /api/workshop/overrides": Route(WORKSHOP),
    "POST /api/workshop/overrides": Route(WORKSHOP),
    "DELETE /api/workshop/overrides/{override_id}": Route(OWN_W, {"override_id": "w1_override"}),
    "GET /api/mechanics/{mechanic_id}/available-slots": Route(USER, {"mechanic_id": "m1_profile"}),
    "GET /api/mechanics/available": Route(USER),
    "GET /api/slots/earliest": Route(USER),
    "POST /api/intake/start": Route(CUSTOMER),
    "POST /api/slots/reserve": Route(CUSTOMER),
    "PUT /api/slots/confirm": Route(
        OWN_C, body={"reservation_id": "{c1_hold}", "waiver_accepted": True}
    ),
    "DELETE /api/slots/release": Route(OWN_C, body={"reservation_id": "{c1_hold}"}),
    "GET /api/sessions": Route(USER),
    "GET /api/sessions/{session_id}": Route(OWN_C, {"session_id": "c1_session"}),
    "PUT /api/sessions/{session_id}/reschedule": Route(
        OWN_C, {"session_id": "c1_session"}, {"start": "2031-03-06T15:00:00Z"}
    ),
    "POST /api/sessions/{session_id}/cancel": Route(OWN_C, {"session_id": "c1_session"}),
    "POST /api/sessions/{session_id}/start": Route(OWN_C, {"session_id": "c1_session"}),
    "POST /api/sessions/{session_id}/end": Route(OWN_C, {"session_id": "c1_session"}),
    "POST /api/sessions/{session_id}/extend": Route(OWN_C, {"session_id": "c1_session"}),
    "GET /api/sessions/{session_id}/diagnosis": Route(OWN_C, {"session_id": "c1_session"}),
    "POST /api/sessions/{session_id}/attachments": Route(OWN_C, {"session_id": "c1_session"}),
    "GET /api/sessions/{session_id}/attachments": Route(OWN_C, {"session_id": "c1_session"}),
    "GET /api/sessions/{session_id}/attachments/{attachment_id}/content": Route(
        OWN_C, {"session_id": "c1_session", "attachment_id": "c1_attachment"}
    ),
    "PUT /api/sessions/{session_id}/diagnosis": Route(
        OWN_C,
        {"session_id": "c1_session"},
        {
            "findings": "Pads worn, rotors fine.",
            "service_type": "brakes",
            "estimated_labour_minutes": 60,
            "urgency": "soon",
        },
    ),
    "POST /api/waitlist": Route(CUSTOMER),
    "GET /api/waitlist": Route(USER),
    "DELETE /api/waitlist/{entry_id}": Route(OWN_C, {"entry_id": "c1_waitlist"}),
    "GET /api/offers": Route(MECHANIC),
    "POST /api/offers/{offer_id}/accept": Route(OWN_M, {"offer_id": "m1_offer"}),
    "POST /api/offers/{offer_id}/decline": Route(OWN_M, {"offer_id": "m1_offer"}),
    "GET /api/payments": Route(USER),
    "POST /api/payments/checkout": Route(
        OWN_C, body={"reservation_id": "{c1_hold}", "method": "credits"}
    ),
    "GET /api/payments/{payment_id}": Route(OWN_C, {"payment_id": "c1_payment"}),
    "GET /api/credits": Route(USER),
    "GET /api/earnings": Route(PAYEE),
    "GET /api/payouts": Route(PAYEE),
    "GET /api/payouts/runs": Route(STAFF),
    "GET /api/payouts/runs/{run_id}": Route(STAFF, {"run_id": "payout_run"}),
    "GET /api/statements/{year}": Route(PAYEE, {"year": 2031}),
    "GET /api/statements/{year}/platform": Route(STAFF, {"year": 2031}),
    "GET /api/sessions/{session_id}/calendar.ics": Route(OWN_C, {"session_id": "c1_session"}),
    "GET /api/workshops": Route(USER),
    "GET /api/workshops/{workshop_id}/available-times": Route(USER, {"workshop_id": "w1_shop"}),
    "POST /api/workshop/appointments/from-session": Route(CUSTOMER),
    "GET /api/visits": Route(USER),
    "GET /api/workshop/appointments": Route(WORKSHOP, shared_with=SHOP),
    "PUT /api/workshop/appointments/{visit_id}/counter/accept": Route(
        OWN_VC, {"visit_id": "c1_visit"}, shared_with=SHOP
    ),
    "PUT /api/workshop/appointments/{visit_id}/counter/decline": Route(
        OWN_VC, {"visit_id": "c1_visit"}, shared_with=SHOP
    ),
    "GET /api/workshop/appointments/{visit_id}": Route(
        OWN_V, {"visit_id": "c1_visit"}, shared_with=SHOP
    ),
    "PUT /api/workshop/appointments/{visit_id}/cancel": Route(
        OWN_V, {"visit_id": "c1_visit"}, shared_with=SHOP
    ),
    "PUT /api/workshop/appointments/{visit_id}/reschedule": Route(
        OWN_V, {"visit_id": "c1_visit"}, {"start": "2031-03-07T15:00:00Z"}, shared_with=SHOP
    ),
    "PUT /api/workshop/appointments/{visit_id}/confirm": Route(
        OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP
    ),
    "PUT /api/workshop/appointments/{visit_id}/counter": Route(
        OWN_VW, {"visit_id": "c1_visit"}, {"start": "2031-03-07T15:00:00Z"}, shared_with=SHOP
    ),
    "PUT /api/workshop/appointments/{visit_id}/decline": Route(
        OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP
    ),
    "PUT /api/workshop/appointments/{visit_id}/assign": Route(
        OWN_VW, {"visit_id": "c1_visit"}, {"mechanic_id": None}, shared_with=SHOP
    ),
    "PUT /api/workshop/appointments/{visit_id}/check-in": Route(
        OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP
    ),
    "PUT /api/workshop/appointments/{visit_id}/complete": Route(
        OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP
    ),
    "PUT /api/workshop/appointments/{visit_id}/no-show": Route(
        OWN_VW, {"visit_id": "c1_visit"}, shared_with=SHOP
    ),
    "GET /api/analytics/platform": Route(STAFF),
    "GET /api/analytics/mine": Route(MECHANIC),
    "GET /api/analytics/mechanics/{mechanic_id}": Route(STAFF, {"mechanic_id": "m1_profile"}),
    "GET /api/mechanics/search": Route(USER),
    "GET /api/mechanics/{mechanic_id}/profile": Route(USER, {"mechanic_id": "m1_profile"}),
    "GET /api/analytics/workshops/{workshop_id}": Route(OWN_W, {"workshop_id": "w1_shop"}),
    "PUT /api/sessions/{session_id}/rating": Route(
        OWN_C, {"session_id": "c1_session"}, {"score": 5}
    ),
    "GET /api/webhooks/endpoints": Route(USER),
    "POST /api/webhooks/endpoints": Route(USER),
    "DELETE /api/webhooks/endpoints/{endpoint_id}": Route(OWN_C, {"endpoint_id": "c1_endpoint"}),
    "POST /api/webhooks/endpoints/{endpoint_id}/enable": Route(
        OWN_C, {"endpoint_id": "c1_endpoint"}
    ),
    "GET /api/webhooks/endpoints/{endpoint_id}/deliveries": Route(
        OWN_C, {"endpoint_id": "c1_endpoint"}
    ),
    "POST /api/webhooks/deliveries/{delivery_id}/resend": Route(
        OWN_C, {"delivery_id": "c1_delivery"}
    ),
}

LEAK_MARKERS = (
    "olive.ownerly@example.test",
    "Olive Ownerly",
    "+14165550199",
    "OWNERVIN",
    "grinding-7f3",
    "visitnote-9c2",
)


# --- the routes that exist -----------------------------------------------------------


def page_routes() -> dict[str, str]:
    """URL name -> path pattern for every page (the admin and the API aside)."""
    found: dict[str, str] = {}

    def walk(patterns, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                route = str(pattern.pattern)
                if route.startswith(("admin/", "api/")):
                    continue
                ns = f"{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, prefix + route, ns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                found[namespace + pattern.name] = prefix + str(pattern.pattern)

    walk(get_resolver().url_patterns, "/", "")
    return found


def api_routes() -> list[str]:
    schema = api.get_openapi_schema()
    return [f"{method.upper()} {path}" for path, ops in schema["paths"].items() for method in ops]


def test_every_route_is_classified():
    pages, operations = page_routes(), api_routes()
    unclassified = sorted(set(pages) - set(PAGES)) + sorted(set(operations) - set(API))
    assert not unclassified, f"classify these routes in tests/test_authz_matrix.py: {unclassified}"
    stale = sorted(set(PAGES) - set(pages)) + sorted(set(API) - set(operations))
    assert not stale, f"routes classified here no longer exist: {stale}"


# --- the world -----------------------------------------------------------------------


@pytest.fixture
def world(db, settings, tmp_path):
    from django.apps import apps

    settings.MEDIA_ROOT = tmp_path / "media"  # c1's photo below

    _plans_migration.create_plans(apps, None)
    with time_machine.travel(NOW, tick=False):
        c1 = CustomerFactory(
            user__email="olive.ownerly@example.test",
            user__full_name="Olive Ownerly",
            phone="+14165550199",
        )
        vehicle = VehicleFactory(customer=c1, vin="", model="OWNERVIN")
        m1 = MechanicFactory()
        weekly_hours(m1, days=range(7), start=0, end=24 * 60)
        shop = WorkshopFactory()
        staff = UserFactory(role=Role.WORKSHOP_STAFF)
        shop.staff.add(staff)
        affiliated = MechanicFactory(workshop=shop, account_type="workshop_mechanic")
        other_shop = WorkshopFactory()
        admin = UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True)
        applicant = MechanicFactory(approval_status="pending")

        webhook = integrations.endpoint_create(  # hears of c1's booking below
            owner=c1.user, url="http://127.0.0.1:9/hooks", event_types=["session.booked"]
        ).endpoint
        concern = "Brake grinding-7f3 when stopping"
        intake = booking.intake_validate(customer=c1.user, plan="advice", concern=concern)
        credits.credits_grant(customer=c1.user, amount_cents=100_000, note="", granted_by=admin)
        hold = booking.reservation_hold(
            customer=c1.user, intake=intake, mechanic_id=m1.pk, starts_at=SLOT, now=NOW
        )
        payment = checkout.payment_with_credits(customer=c1.user, reservation_id=hold.pk, now=NOW)
        session = Session.objects.get(pk=hold.session_id)
        Diagnosis.objects.create(  # read by its two parties only; carries a leak marker
            session=session,
            findings=f"Confirmed the {concern}",
            service_type="brakes",
            estimated_labour_minutes=60,
            urgency="soon",
            written_by=m1,
        )
        second_hold = booking.reservation_hold(
            customer=c1.user,
            intake=intake,
            mechanic_id=m1.pk,
            starts_at=SLOT + timedelta(hours=3),
            now=NOW,
        )
        now_session = booking.session_create_immediate(customer=c1.user, intake=intake, now=NOW)
        offer = Offer.objects.create(session=now_session, mechanic=m1, kind=OfferKind.TARGETED)
        block = WeeklyBlock.objects.filter(mechanic=m1).first()
        m1_override = DateOverride.objects.create(mechanic=m1, day=SLOT.date() + timedelta(days=9))
        w1_override = DateOverride.objects.create(
            workshop=shop, day=SLOT.date() + timedelta(days=9)
        )
        m1_time_off = TimeOff.objects.create(
            mechanic=m1,
            starts_at=SLOT + timedelta(days=10),
            ends_at=SLOT + timedelta(days=11),
            status=TimeOffStatus.APPROVED,
        )
        m1_calendar = ExternalCalendar.objects.create(
            mechanic=m1, url="https://calendar.example.com/private-m1/basic.ics", created_at=NOW
        )
        w1_time_off = TimeOff.objects.create(
            mechanic=affiliated,
            starts_at=SLOT + timedelta(days=10),
            ends_at=SLOT + timedelta(days=11),
        )
        # A completed session of C1's, which a visit can follow up, and W1's hours.
        workshop_hours(shop, days=range(7), open_=6 * 60, close=22 * 60)
        done_session = Session.objects.create(
            customer=c1.user,
            mechanic=m1,
            status=Status.COMPLETED,
            plan=session.plan,
            concern=concern,
            vehicle=vehicle,
            vehicle_label="2019 Honda OWNERVIN",
            duration_minutes=30,
            scheduled_for=NOW - timedelta(days=1),
            started_at=NOW - timedelta(days=1),
            ended_at=NOW - timedelta(days=1) + timedelta(minutes=30),
        )
        visit = Visit.objects.create(  # the customer's request at w1's workshop
            workshop=shop,
            customer=c1.user,
            session=session,
            vehicle_label="2018 OWNERVIN",
            concern=concern,
            service_type="brakes",
            duration_minutes=60,
            starts_at=SLOT + timedelta(days=2),
            ends_at=SLOT + timedelta(days=2, hours=1),
            bay=1,
            status="requested",
            expires_at=NOW + timedelta(hours=24),
            customer_notes="Please call first visitnote-9c2",
        )
        # C1 waits for M1 on a day M1 has free: the offer holds a time for C1 at once.
        waiting = waitlist.waitlist_join(
            customer=c1.user,
            intake=intake,
            mechanic_id=m1.pk,
            first_day=SLOT.date() + timedelta(days=3),
            last_day=SLOT.date() + timedelta(days=3),
            now=NOW,
        )
        waitlist.waitlist_offer_next(mechanic_id=m1.pk, now=NOW)
        waiting.refresh_from_db()
        assert waiting.status == "offered"
        invitation = Invitation.objects.create(
            workshop=shop,
            kind=InvitationKind.STAFF,
            email="invitee@example.test",
            token_hash="0" * 64,
            created_at=NOW,
            expires_at=NOW + timedelta(days=7),
        )
    payout_run = PayoutRun.objects.create(cutoff=NOW)  # admins' to read
    with time_machine.travel(NOW, tick=False):  # c1's photos: one sent, one in the wizard
        photo = io.BytesIO()
        PILImage.new("RGB", (8, 8)).save(photo, "PNG")
        (c1_attachment,) = attachments.attachments_add(
            session_id=session.pk,
            user=c1.user,
            files=[SimpleUploadedFile("grinding-7f3.png", photo.getvalue())],
        )
        (c1_upload,) = attachments.attachments_add_pending(
            customer=c1.user, files=[SimpleUploadedFile("p.png", photo.getvalue())]
        )
    notification = Notification.objects.filter(recipient=c1.user).first()
    assert notification is not None, "the booking should have notified its customer"
    users = {
        "anonymous": None,
        "c1": c1.user,
        "c2": CustomerFactory().user,
        "m1": m1.user,
        "m2": MechanicFactory().user,
        "w1": shop.owner,
        "w2": other_shop.owner,
        "admin": admin,
    }
    return {
        "users": users,
        "tokens": {
            name: api_token_create(user=user, name="matrix").raw
            for name, user in users.items()
            if user is not None
        },
        "ids": {
            "c1_token": api_token_create(user=c1.user, name="c1 own").token.pk,
            "c1_vehicle": vehicle.pk,
            "c1_hold": second_hold.pk,
            "c1_session": session.pk,
            "c1_now": now_session.pk,
            "c1_payment": payment.pk,
            "c1_notification": notification.pk,
            "m1_profile": m1.pk,
            "m1_block": block.pk,
            "m1_override": m1_override.pk,
            "m1_time_off": m1_time_off.pk,
            "m1_calendar": m1_calendar.pk,
            "m1_offer": offer.pk,
            "w1_shop": shop.pk,
            "w1_staff": staff.pk,
            "w1_invitation": invitation.pk,
            "w1_override": w1_override.pk,
            "w1_time_off": w1_time_off.pk,
            "c1_visit": visit.pk,
            "c1_waitlist": waiting.pk,
            "c1_claim": waiting.claim_session_id,
            "c1_done_session": done_session.pk,
            "applicant": applicant.pk,
            "payout_run": payout_run.pk,
            "c1_attachment": c1_attachment.pk,
            "c1_upload": c1_upload.pk,
            "c1_endpoint": webhook.pk,
            "c1_delivery": Delivery.objects.get(endpoint=webhook).pk,
            "bogus": "not-a-real-token",
        },
    }


# --- calling a route -----------------------------------------------------------------


def _fill(pattern: str, route: Route, ids: dict) -> str:
    def value(name: str) -> str:
        key = route.params.get(name, name)  # a world key, or a literal (a slug, a bad token)
        return str(ids.get(key, key))

    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: value(m.group(1)), pattern)
    return re.sub(r"\{(\w+)\}", lambda m: value(m.group(1)), path)


def _body(route: Route, ids: dict) -> dict:
    def resolve(v):
        if isinstance(v, str) and v.startswith("{") and v.endswith("}"):
            return ids[v[1:-1]]
        return v

    return {k: resolve(v) for k, v in (route.body or {}).items()}


def _allowed(route: Route, caller: str) -> bool | None:
    """True: must be served; False: must be refused; None: either (not asserted)."""
    if route.kind == PUBLIC:
        return None
    if caller == "anonymous":
        return False
    if caller == "admin":
        return True if route.kind == STAFF else None
    if route.kind == USER:
        return True
    if route.kind == STAFF:
        return False
    if route.kind in ROLE_OF:
        return caller in ROLE_OF[route.kind]
    if caller in OWNERS[route.kind]:
        return True if caller == next(iter(sorted(OWNERS[route.kind]))) else None
    return False


def _methods_for(route: Route, allowed: bool | None, declared: list[str]) -> list[str]:
    """Unsafe methods only for callers who must be refused (see the module docstring)."""
    return [m for m in declared if m == "GET" or allowed is False]


def _check(
    response,
    *,
    where: str,
    caller: str,
    allowed: bool | None,
    method: str,
    api_call: bool,
    served: frozenset = frozenset(),
    shared_with: frozenset = frozenset(),
) -> list[str]:
    """What is wrong with this answer (nothing: [])."""
    status = response.status_code
    if status >= 500:
        return [f"{where} as {caller}: {status}"]
    body = b"".join(response) if getattr(response, "streaming", False) else response.content
    text = body.decode(errors="replace")
    problems = []
    if caller not in {"c1", "m1", "admin"} | shared_with:
        leaked = [marker for marker in LEAK_MARKERS if marker in text]
        if leaked:
            problems.append(f"{where} as {caller} leaked {leaked}")
    if allowed is False:
        if caller == "anonymous" and api_call:
            refused = {401}
        elif api_call:  # 422: a refused body, checked before the owner (GET has none)
            refused = {401, 403, 404} | ({422} if method != "GET" else set())
        else:
            refused = {302, 403, 404, 405} | ({422} if method != "GET" else set())
        if status not in refused:
            problems.append(f"{where} as {caller}: {status}, expected one of {sorted(refused)}")
    elif allowed and method == "GET" and status >= 400 and status not in served | {405}:
        problems.append(f"{where} as {caller}: refused ({status}) but should be served")
    return problems


def _client(world, caller: str) -> Client:
    client = Client()
    if caller != "anonymous":
        client.force_login(world["users"][caller])
    return client


def test_pages_answer_each_caller_by_the_matrix(world):
    patterns = page_routes()
    calls, problems = 0, []
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        for caller in CALLERS:
            client = _client(world, caller)
            for name, route in PAGES.items():
                path = _fill(patterns[name], route, world["ids"])
                allowed = _allowed(route, caller)
                for method in _methods_for(route, allowed, ["GET", "POST"]):
                    data = route.query if method == "GET" else None
                    response = getattr(client, method.lower())(path, data)
                    problems += _check(
                        response,
                        where=f"{method} {path} ({name})",
                        caller=caller,
                        allowed=allowed,
                        method=method,
                        api_call=False,
                        served=route.served,
                        shared_with=route.shared_with,
                    )
                    calls += 1
    assert not problems, "\n".join(problems)
    assert calls > len(PAGES) * len(CALLERS)
    _assert_world_unchanged(world)


def test_api_answers_each_caller_by_the_matrix(world):
    calls, problems = 0, []
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        for caller in CALLERS:
            headers = {}
            if caller != "anonymous":
                headers["Authorization"] = f"Bearer {world['tokens'][caller]}"
            client = Client(headers=headers)
            for key, route in API.items():
                method, pattern = key.split(" ", 1)
                path = _fill(pattern, route, world["ids"])
                allowed = _allowed(route, caller)
                if not _methods_for(route, allowed, [method]):
                    continue
                query = _query_for(pattern, world["ids"])
                if method == "GET":
                    response = client.get(path, query)
                else:
                    response = client.generic(
                        method, path, _json(_body(route, world["ids"])), "application/json"
                    )
                problems += _check(
                    response,
                    where=key,
                    caller=caller,
                    allowed=allowed,
                    method=method,
                    api_call=True,
                    shared_with=route.shared_with,
                )
                calls += 1
    assert not problems, "\n".join(problems)
    assert calls > len(API) * 3
    _assert_world_unchanged(world)


def _json(body: dict) -> str:
    import json

    return json.dumps(body)


def _query_for(pattern: str, ids: dict) -> dict:
    """Required query parameters of the slot searches, so the owner's call is served."""
    if pattern.endswith("available-slots"):
        return {"plan": "advice", "from": "2031-03-05", "to": "2031-03-06"}
    if pattern.endswith("/mechanics/available"):
        return {"start": "2031-03-05T15:00:00Z", "end": "2031-03-05T16:00:00Z"}
    if pattern.endswith("/slots/earliest"):
        return {"plan": "advice"}
    if pattern.endswith("/available-times"):
        return {"duration": 60, "from": "2031-03-05", "to": "2031-03-06"}
    return {}


def _assert_world_unchanged(world) -> None:
    ids = world["ids"]
    assert Session.objects.get(pk=ids["c1_session"]).status == Status.SCHEDULED
    assert Reservation.objects.get(pk=ids["c1_hold"]).status == ReservationStatus.RESERVED
    assert world["users"]["c1"].api_tokens.filter(pk=ids["c1_token"], revoked_at=None).exists()
    assert Vehicle.objects.filter(pk=ids["c1_vehicle"]).exists()
    assert WeeklyBlock.objects.filter(pk=ids["m1_block"]).exists()
    assert ExternalCalendar.objects.filter(pk=ids["m1_calendar"]).exists()
    assert DateOverride.objects.filter(pk__in=[ids["m1_override"], ids["w1_override"]]).count() == 2
    assert TimeOff.objects.get(pk=ids["w1_time_off"]).status == TimeOffStatus.PENDING
    assert Offer.objects.get(pk=ids["m1_offer"]).status == "offered"
    assert Invitation.objects.get(pk=ids["w1_invitation"]).status == "pending"
    assert not Notification.objects.get(pk=ids["c1_notification"]).read_at
    assert Diagnosis.objects.get(session_id=ids["c1_session"]).findings.startswith("Confirmed")
    visit = Visit.objects.get(pk=ids["c1_visit"])
    assert (visit.status, visit.starts_at) == ("requested", SLOT + timedelta(days=2))
    assert visit.assigned_mechanic_id is None
    delivery = Delivery.objects.get(pk=ids["c1_delivery"])
    assert delivery.endpoint.active and Delivery.objects.count() == 1
    assert WaitlistEntry.objects.get(pk=ids["c1_waitlist"]).status == "offered"


def test_the_admin_is_for_staff_only(world):
    for caller in CALLERS:
        response = _client(world, caller).get("/admin/booking/session/")
        if caller == "admin":
            assert response.status_code == 200
        else:
            assert response.status_code == 302 and "/admin/login/" in response["Location"], caller
            assert "grinding-7f3" not in response.content.decode()
