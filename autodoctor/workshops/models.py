"""In-person visits at a workshop (plan §1.1 workshop_appointments, Phase 3).

The capacity guarantee lives in the database (ARCHITECTURE invariant 1, as for
reservations): every visit that holds time occupies one bay number 1..N of its
workshop, and two such visits may not share a bay at overlapping times. PostgreSQL
enforces it with an exclusion constraint, SQLite with triggers (migration 0002); the
bay number is chosen in the booking transaction (services._bay_pick). So a workshop can
never have more visits at once than bays, whatever races.

An assigned mechanic's time is a booking.Reservation without a session
(`mechanic_reservation`), so the per-mechanic overlap guard also keeps an affiliated
mechanic from being booked for a remote session during a visit.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from autodoctor.accounts.models import MechanicProfile, Vehicle, Workshop
from autodoctor.booking.models import Reservation, ServiceType, Session

NOTES_MAX = 2000
REASON_MAX = 300


class VisitStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")  # waiting for the workshop; holds its time
    COUNTERED = "countered", _("Other time offered")  # waiting for the customer; holds the new time
    CONFIRMED = "confirmed", _("Confirmed")
    CHECKED_IN = "checked_in", _("Checked in")
    COMPLETED = "completed", _("Completed")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("No-show")


# Statuses whose visit occupies a bay (the database guard counts exactly these).
HOLDING_STATUSES = (
    VisitStatus.REQUESTED,
    VisitStatus.COUNTERED,
    VisitStatus.CONFIRMED,
    VisitStatus.CHECKED_IN,
)
# Of those, the ones that are offers waiting for an answer: they lapse at expires_at.
WAITING_STATUSES = (VisitStatus.REQUESTED, VisitStatus.COUNTERED)


class VisitMode(models.TextChoices):
    DROP_OFF = "drop_off", _("Drop off the car")
    WAIT = "wait", _("Wait on site")


class Visit(models.Model):
    workshop = models.ForeignKey(Workshop, on_delete=models.PROTECT, related_name="visits")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visits"
    )
    session = models.ForeignKey(
        Session,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="visits",
        help_text=_("The remote session this visit follows up"),
    )
    vehicle = models.ForeignKey(
        Vehicle, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    vehicle_label = models.CharField(max_length=120, blank=True)
    concern = models.TextField(max_length=NOTES_MAX, blank=True)
    service_type = models.CharField(max_length=20, choices=ServiceType.choices)
    duration_minutes = models.PositiveSmallIntegerField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    bay = models.PositiveSmallIntegerField(help_text=_("1..bays; chosen when the time is taken"))
    status = models.CharField(
        max_length=12, choices=VisitStatus.choices, default=VisitStatus.REQUESTED
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Requested / other time offered: the answer is due")
    )
    mode = models.CharField(max_length=10, choices=VisitMode.choices, default=VisitMode.DROP_OFF)
    customer_notes = models.TextField(max_length=NOTES_MAX, blank=True)
    workshop_notes = models.TextField(max_length=NOTES_MAX, blank=True)
    decline_reason = models.CharField(max_length=REASON_MAX, blank=True)
    counter_reason = models.CharField(max_length=REASON_MAX, blank=True)
    requested_starts_at = models.DateTimeField(
        null=True, blank=True, help_text=_("The customer's time, when the workshop offered another")
    )
    assigned_mechanic = models.ForeignKey(
        MechanicProfile,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_visits",
    )
    mechanic_reservation = models.OneToOneField(
        Reservation, null=True, blank=True, on_delete=models.SET_NULL, related_name="visit"
    )
    sequence = models.PositiveSmallIntegerField(default=0, help_text=_("Calendar SEQUENCE"))
    cancelled_by = models.CharField(max_length=12, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "pk"]
        indexes = [
            models.Index(fields=["workshop", "status", "starts_at"]),
            models.Index(fields=["customer", "status"]),
            models.Index(fields=["status", "expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="visit_start_before_end"
            ),
            models.CheckConstraint(condition=Q(bay__gte=1), name="visit_bay_positive"),
            models.CheckConstraint(
                condition=~Q(status__in=["requested", "countered"]) | Q(expires_at__isnull=False),
                name="visit_waiting_expires",
            ),
            # One open visit per session: asking twice must not take two bays.
            models.UniqueConstraint(
                fields=["session"],
                condition=Q(status__in=["requested", "countered", "confirmed", "checked_in"]),
                name="visit_one_open_per_session",
            ),
        ]

    def __str__(self) -> str:
        return f"Visit #{self.pk} at {self.workshop} ({self.status})"

    @property
    def holds_time(self) -> bool:
        return self.status in HOLDING_STATUSES


class VisitEvent(models.Model):
    """History of a visit: one row per change, named `workshops.visit.<verb>`.
    Notifications and analytics read from here."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=60, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} #{self.visit_id}"
