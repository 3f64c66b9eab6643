"""Sessions, the reservations (holds) that pin them to a mechanic's time, offers, history.

The double-booking guarantee lives in the database (ARCHITECTURE invariant 1):
`Reservation` rows whose status is reserved/confirmed may not overlap for one
mechanic. PostgreSQL enforces it with an exclusion constraint, SQLite with a
trigger; both are created in migration 0002 (they are vendor specific, so they
are not in Meta.constraints).
"""

import enum

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from autodoctor.accounts.models import MechanicProfile, Vehicle

# Longest texts a session keeps (the model, forms and API schemas share these).
CONCERN_MAX = 2000
VEHICLE_LABEL_MAX = 120
BRAND_MAX = 50
CANCELLATION_REASON_MAX = 300


# The seeded plans' names and descriptions (migration 0002), listed for the catalogue so
# they read in the viewer's language; a name an admin types later shows as typed.
PLAN_TEXTS = (
    gettext_noop("Free first look"),
    gettext_noop("Trial session"),
    gettext_noop("Quick question"),
    gettext_noop("Advice session"),
    gettext_noop("Premium diagnostic"),
    gettext_noop("Urgent help"),
    gettext_noop("15 minutes, no charge (waiver required)"),
    gettext_noop("15 minutes, once per customer (waiver required)"),
    gettext_noop("15 minutes with a mechanic"),
    gettext_noop("30 minutes: diagnose and plan the repair"),
    gettext_noop("60 minutes: in-depth diagnostic"),
    gettext_noop("15 minutes, first available mechanic"),
)


class Plan(models.Model):
    """A sellable plan. Durations come from availability.plans; prices are editable."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=60)
    price_cents = models.PositiveIntegerField(help_text=_("Price in CAD cents"))
    currency = models.CharField(max_length=3, default="CAD")
    description = models.CharField(max_length=200, blank=True)
    is_free = models.BooleanField(default=False, help_text=_("No charge (free/trial waiver)"))
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "price_cents"]

    def __str__(self) -> str:
        return self.name

    @property
    def duration_minutes(self) -> int:
        from autodoctor.availability.plans import plan_minutes

        return plan_minutes(self.code)

    @property
    def title(self) -> str:
        """The name in the viewer's language (the seeded names are in the catalogue)."""
        return gettext(self.name) if self.name else ""

    @property
    def summary(self) -> str:
        """The description in the viewer's language."""
        return gettext(self.description) if self.description else ""

    @property
    def price_label(self) -> str:
        """ "Free", or the price as the viewer reads amounts: "$29.99 CAD" / « 29,99 $ CAD »."""
        from autodoctor.payments.models import money_label

        return (
            gettext("Free")
            if self.price_cents == 0
            else money_label(self.price_cents, self.currency)
        )


class SessionType(models.TextChoices):
    CHAT = "chat", _("Chat")
    VIDEO = "video", _("Video")
    PHONE = "phone", _("Phone")
    DIAGNOSTIC = "diagnostic", _("Diagnostic")


class _PlainLabelChoices(models.enums.ChoicesType):
    """`choices` keeps the lazy (translatable) labels for model fields and forms."""

    @property
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.value, member._label_) for member in cls]


class ServiceType(models.TextChoices, metaclass=_PlainLabelChoices):
    """The kind of work a diagnosis recommends and a workshop visit is booked for.

    `ServiceType.X.label` is a plain string in the active language, because visit facts
    put it into JSON (notifications.facts); `choices` stays lazy so forms and
    `get_service_type_display()` follow each viewer's language."""

    @enum.property
    def label(self) -> str:
        return str(self._label_)

    DIAGNOSTIC = "diagnostic", _("In-person diagnostic")
    MAINTENANCE = "maintenance", _("Maintenance (oil, fluids, filters)")
    BRAKES = "brakes", _("Brakes")
    ENGINE = "engine", _("Engine")
    ELECTRICAL = "electrical", _("Electrical")
    SUSPENSION = "suspension", _("Suspension and steering")
    TRANSMISSION = "transmission", _("Transmission")
    HVAC = "hvac", _("Heating and A/C")
    TIRES = "tires", _("Tires and wheels")
    OTHER = "other", _("Other")


class SessionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    WAITING = "waiting", _("Waiting")
    SCHEDULED = "scheduled", _("Scheduled")
    LIVE = "live", _("Live")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


def status_in_words(status: str) -> str:
    """A session status inside a sentence in the active language: "cancelled" in English
    (the stored value's spelling), « annulée » in French."""
    try:
        return str(SessionStatus(status).label).lower()
    except ValueError:
        return str(status)


class Session(models.Model):
    """A remote diagnostic session (plan §1.1 sessions). Immediate when scheduled_for is null."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sessions"
    )
    mechanic = models.ForeignKey(
        MechanicProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    type = models.CharField(max_length=12, choices=SessionType.choices, default=SessionType.VIDEO)
    status = models.CharField(
        max_length=12, choices=SessionStatus.choices, default=SessionStatus.PENDING
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="sessions")
    concern = models.TextField(max_length=CONCERN_MAX)
    vehicle = models.ForeignKey(
        Vehicle, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    vehicle_label = models.CharField(
        max_length=VEHICLE_LABEL_MAX, blank=True, help_text=_("Year make model as entered")
    )
    requested_brand = models.CharField(max_length=BRAND_MAX, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    offered_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Start-now sessions: when they went out to mechanics (once paid)"),
    )
    duration_minutes = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    reschedule_count = models.PositiveSmallIntegerField(default=0)
    cancelled_by = models.CharField(max_length=12, blank=True)
    cancellation_reason = models.CharField(max_length=CANCELLATION_REASON_MAX, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "scheduled_for"]),
            models.Index(fields=["mechanic", "status"]),
            # analytics.metrics: bookings by the period they were made in, platform-wide
            # and per mechanic; start-now requests by when they went out.
            models.Index(fields=["created_at"]),
            models.Index(fields=["mechanic", "created_at"]),
            models.Index(fields=["offered_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="scheduled")
                | Q(scheduled_for__isnull=False, mechanic__isnull=False),
                name="session_scheduled_has_time_and_mechanic",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["waiting", "live", "completed"])
                | Q(mechanic__isnull=False),
                name="session_assigned_states_have_mechanic",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("concern"), CONCERN_MAX),
                name="session_concern_length",
            ),
        ]

    def __str__(self) -> str:
        return f"Session #{self.pk} ({self.status})"

    @property
    def awaiting_payment(self) -> bool:
        """A start-now session not yet paid for: nobody has been offered it."""
        return (
            self.status == SessionStatus.PENDING
            and self.scheduled_for is None
            and self.offered_at is None
        )


class ReservationStatus(models.TextChoices):
    RESERVED = "reserved", _("Reserved (hold)")
    CONFIRMED = "confirmed", _("Confirmed")
    RELEASED = "released", _("Released")
    EXPIRED = "expired", _("Expired")


ACTIVE_RESERVATION_STATUSES = (ReservationStatus.RESERVED, ReservationStatus.CONFIRMED)


class Reservation(models.Model):
    """A mechanic's time pinned for one session (plan §1.1 slot_reservations), or for a
    workshop visit the mechanic is assigned to (no session; workshops.Visit points here),
    so one guard keeps remote sessions and in-person visits of a mechanic apart.

    `blocked_until` = `ends_at` + the mechanic's buffer at booking time. The database
    refuses two active rows of one mechanic whose [starts_at, blocked_until) overlap, so
    any two bookings are at least one buffer apart (widening one side is enough).
    """

    mechanic = models.ForeignKey(
        MechanicProfile, on_delete=models.PROTECT, related_name="reservations"
    )
    session = models.ForeignKey(
        Session,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reservations",
        help_text=_("Empty for a workshop visit's mechanic time"),
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    blocked_until = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.RESERVED
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text=_("Holds only"))
    reserved_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["mechanic", "status", "starts_at"]),
            models.Index(fields=["status", "expires_at"]),
            # analytics.metrics: booked time platform-wide by start (no mechanic given).
            models.Index(fields=["status", "starts_at"]),
            # Busy time of every mechanic in a window near now (who is free, start-now):
            # `blocked_until > window start` is the selective side once a year of
            # bookings lies behind (EXPLAIN at 20,000 mechanics, docs/deploy.md).
            models.Index(fields=["status", "blocked_until"], name="reservation_status_blocked"),
            # analytics.metrics booked time (utilization, the sessions grid) platform-wide:
            # an index-only scan of the period's confirmed starts (VACUUMed pages), not a
            # heap page per reservation.
            models.Index(
                fields=["starts_at", "ends_at", "mechanic"],
                name="reservation_confirmed_start",
                condition=Q(status="confirmed"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="reservation_start_before_end"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__lte=F("blocked_until")), name="reservation_buffer_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(status="reserved") | Q(expires_at__isnull=False),
                name="reservation_hold_expires",
            ),
            # One active reservation per session at a time.
            models.UniqueConstraint(
                fields=["session"],
                condition=Q(status__in=["reserved", "confirmed"]),
                name="reservation_one_active_per_session",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mechanic} {self.starts_at:%Y-%m-%d %H:%M}Z ({self.status})"


class OfferKind(models.TextChoices):
    TARGETED = "targeted", _("Targeted")
    BROADCAST = "broadcast", _("Broadcast")
    REQUEST = (
        "request",
        _("Booking request"),
    )  # scheduled booking with a mechanic who reviews requests


class OfferStatus(models.TextChoices):
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    TAKEN = "taken", _("Taken by someone else")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Offer(models.Model):
    """A session offered to a mechanic (plan §1.2 session_assignments).

    plan §5.3: mechanics accept or decline freely. Nothing here (or anywhere) counts
    declines or computes an acceptance rate.
    """

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="offers")
    mechanic = models.ForeignKey(
        MechanicProfile,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="offers",
        help_text=_("Empty for a broadcast offer open to every available mechanic"),
    )
    kind = models.CharField(max_length=10, choices=OfferKind.choices)
    status = models.CharField(
        max_length=10, choices=OfferStatus.choices, default=OfferStatus.OFFERED
    )
    score = models.IntegerField(default=0)
    reasons = models.JSONField(default=list, blank=True)
    offered_at = models.DateTimeField(auto_now_add=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        MechanicProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-score", "offered_at"]
        indexes = [
            models.Index(fields=["mechanic", "status"]),
            models.Index(fields=["kind", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                condition=Q(status="accepted"),
                name="offer_one_accepted_per_session",
            ),
            models.CheckConstraint(
                condition=Q(kind="broadcast", mechanic__isnull=True)
                | (~Q(kind="broadcast") & Q(mechanic__isnull=False)),
                name="offer_broadcast_has_no_mechanic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} offer for session #{self.session_id} ({self.status})"


class OfferDismissal(models.Model):
    """A mechanic hid a broadcast offer from their inbox. Not a decline record: it is
    never counted or reported (plan §5.3)."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="dismissals")
    mechanic = models.ForeignKey(MechanicProfile, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["offer", "mechanic"], name="offer_dismissal_once")
        ]

    def __str__(self) -> str:
        return f"offer #{self.offer_id} hidden by mechanic #{self.mechanic_id}"


class SessionEvent(models.Model):
    """History of a session: one row per state change, named `booking.session.<verb>`.
    Analytics reads from here."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=60, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} #{self.session_id}"


# --------------------------------------------------------------------------- diagnosis

FINDINGS_MAX = 4000
PARTS_MAX = 2000
LABOUR_MINUTES_MIN = 15
LABOUR_MINUTES_MAX = 1440  # one day of workshop time


class Urgency(models.TextChoices):
    SAFE = "safe", _("Safe to drive")
    SOON = "soon", _("Repair soon")
    STOP = "stop", _("Stop driving")


class Diagnosis(models.Model):
    """The mechanic's summary at the end of a session (issue 11, item 1): what they found,
    the work they recommend, how long and which parts, and whether the car may be driven.
    One per session; written by booking.diagnosis.diagnosis_save only."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="diagnosis")
    findings = models.TextField(max_length=FINDINGS_MAX)
    service_type = models.CharField(max_length=20, choices=ServiceType.choices)
    estimated_labour_minutes = models.PositiveSmallIntegerField()
    parts = models.TextField(max_length=PARTS_MAX, blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    written_by = models.ForeignKey(MechanicProfile, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "diagnoses"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    estimated_labour_minutes__gte=LABOUR_MINUTES_MIN,
                    estimated_labour_minutes__lte=LABOUR_MINUTES_MAX,
                ),
                name="diagnosis_labour_minutes_range",
            ),
            models.CheckConstraint(
                condition=Q(service_type__in=ServiceType.values), name="diagnosis_service_type"
            ),
            models.CheckConstraint(
                condition=Q(urgency__in=Urgency.values), name="diagnosis_urgency"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("findings"), FINDINGS_MAX),
                name="diagnosis_findings_length",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("parts"), PARTS_MAX),
                name="diagnosis_parts_length",
            ),
        ]

    def __str__(self) -> str:
        return f"Diagnosis of session #{self.session_id} ({self.urgency})"


# --------------------------------------------------------------------------- waitlist


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Time held for you")
    BOOKED = "booked", _("Booked")
    LAPSED = "lapsed", _("Held time not taken")
    LEFT = "left", _("Left")
    EXPIRED = "expired", _("Range ended")


ACTIVE_WAITLIST_STATUSES = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class WaitlistEntry(models.Model):
    """A customer waiting for time with a mechanic (or any mechanic) within a date range,
    for one plan (issue 16, part 3). When time frees, the first matching entry gets an
    exclusive claim: a real hold (`claim_session`'s reservation) for
    WAITLIST_CLAIM_MINUTES. Written by booking.waitlist only.

    The range is the customer's local days [first_day, last_day]; `starts_after` and
    `ends_before` are the same range as UTC instants (fixed when the customer joined).
    The intake answers are kept so the claim's session can be created without them.
    """

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    mechanic = models.ForeignKey(
        MechanicProfile,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="waitlist_entries",
        help_text=_("Empty: any mechanic"),
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    session_type = models.CharField(
        max_length=12, choices=SessionType.choices, default=SessionType.VIDEO
    )
    concern = models.TextField(max_length=CONCERN_MAX)
    vehicle = models.ForeignKey(
        Vehicle, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    vehicle_label = models.CharField(max_length=VEHICLE_LABEL_MAX, blank=True)
    brand = models.CharField(max_length=BRAND_MAX, blank=True)
    first_day = models.DateField()
    last_day = models.DateField()
    starts_after = models.DateTimeField()
    ends_before = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    claim_session = models.ForeignKey(
        Session,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The pending session whose hold was offered to this customer"),
    )
    offered_at = models.DateTimeField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "waitlist entries"
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_after__lt=F("ends_before")), name="waitlist_range_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(first_day__lte=F("last_day")), name="waitlist_days_in_order"
            ),
            models.CheckConstraint(
                condition=~Q(status="offered")
                | Q(claim_session__isnull=False, claim_expires_at__isnull=False),
                name="waitlist_offer_has_claim",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("concern"), CONCERN_MAX),
                name="waitlist_concern_length",
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist #{self.pk} ({self.status})"


# --------------------------------------------------------------------------- intake files


class AttachmentKind(models.TextChoices):
    PHOTO = "photo", _("Photo")
    VIDEO = "video", _("Video")


def intake_attachment_path(instance: "IntakeAttachment", filename: str) -> str:
    """A random storage name (never the customer's file name); the extension is the
    one the content was recognised as (booking/attachments.py)."""
    import uuid
    from pathlib import PurePosixPath

    return f"intake/{uuid.uuid4().hex}{PurePosixPath(filename).suffix.lower()}"


class IntakeAttachment(models.Model):
    """A photo or short video of the problem, uploaded with the intake (issue 18).
    Uploaded in the wizard before the session exists (`session` null: pending, claimed by
    the session the wizard creates) or added to the session later. Seen only by the
    customer and the mechanic assigned to the session (booking/attachments.py); the file
    is in the default storage and never has a public URL."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="intake_attachments"
    )
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=intake_attachment_path, max_length=200)
    kind = models.CharField(max_length=10, choices=AttachmentKind.choices)
    content_type = models.CharField(max_length=50)
    size_bytes = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["customer", "session"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=AttachmentKind.values), name="intake_attachment_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} of session #{self.session_id}"
