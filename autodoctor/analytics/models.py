"""Post-session ratings (issue 12, customer satisfaction).

A customer rates a completed session once, 1–5 with an optional comment, and may edit
it for RATING_EDIT_DAYS after first giving it. The mechanic's `MechanicProfile.rating`
(what matching reads) is the average of these rows, kept by `services.rating_save`.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from autodoctor.accounts.models import MechanicProfile
from autodoctor.booking.models import Session

RATING_MIN, RATING_MAX = 1, 5
RATING_COMMENT_MAX = 1000
RATING_EDIT_WINDOW = timedelta(days=7)


class SessionRating(models.Model):
    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="rating")
    # Copied from the session (fixed once it is completed) so a mechanic's average is
    # one indexed aggregate.
    mechanic = models.ForeignKey(
        MechanicProfile, on_delete=models.CASCADE, related_name="session_ratings"
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_ratings"
    )
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=RATING_COMMENT_MAX)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["mechanic", "created_at"]),
            # The platform's satisfaction figure reads a period of ratings (metrics.satisfaction).
            models.Index(fields=["created_at"], name="sessionrating_created_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=RATING_MIN, score__lte=RATING_MAX),
                name="session_rating_score_1_to_5",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("comment"), RATING_COMMENT_MAX),
                name="session_rating_comment_length",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.score}/5 for session #{self.session_id}"

    @property
    def editable_until(self):
        return self.created_at + RATING_EDIT_WINDOW


class SessionFact(models.Model):
    """One row per session: what the dashboard's booking figures read, derived from the
    session, its confirmed reservation, its cancellation event, its accepted offer and its
    rating by ONE query (`analytics.facts.fact_rows`). Kept exact by database triggers
    (analytics migration 0003) that mark a session dirty on every write to those tables;
    `facts.facts_refresh` recomputes the dirty sessions before any read. Never edited by
    hand. Foreign keys without database constraints: a fact follows its session (deleted
    at the next refresh), never blocks a delete."""

    session = models.OneToOneField(
        Session,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    mechanic = models.ForeignKey(
        MechanicProfile,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # the indexes below lead with it where a read needs it
        related_name="+",
    )
    plan = models.ForeignKey(
        "booking.Plan",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    created_at = models.DateTimeField()
    # a booking (metrics module docstring): paid start-now, or advance with a confirmed hold
    booking = models.BooleanField()
    scheduled = models.BooleanField()  # scheduled_for set (advance)
    lead_s = models.BigIntegerField(null=True)  # scheduled_for − created_at, whole seconds
    lead_bucket = models.SmallIntegerField(null=True)  # metrics.LEAD_BUCKETS index
    is_cancelled = models.BooleanField()
    cancelled_by = models.CharField(max_length=12, blank=True)
    is_rescheduled = models.BooleanField()
    late_bucket = models.SmallIntegerField(null=True)  # metrics.LATENESS_BUCKETS index
    no_show = models.CharField(max_length=8, blank=True)  # "", "mechanic", "customer"
    offered_at = models.DateTimeField(null=True)  # sent out to mechanics (start-now)
    wait_s = models.BigIntegerField(null=True)  # accepted offer's responded_at − offered_at
    score = models.SmallIntegerField(null=True)  # the session's rating
    rated_at = models.DateTimeField(null=True)
    rating_mechanic = models.ForeignKey(
        MechanicProfile,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        indexes = [
            # The period's bookings platform-wide (cells, peak bookings, lead percentiles):
            # keyed by created_at, then every column those queries read, so they are
            # index-only scans of the period's slice (a year of facts lies in session
            # order, not booking order: one heap page a row otherwise; 1,000,000 sessions
            # on PostgreSQL, lead percentiles 92 → 40 ms). Key columns, not INCLUDE, so
            # SQLite covers too. PostgreSQL needs the visibility map, i.e. autovacuum on
            # this table (docs/analytics.md).
            models.Index(
                fields=[
                    "created_at",
                    "plan",
                    "lead_bucket",
                    "lead_s",
                    "scheduled",
                    "is_cancelled",
                    "cancelled_by",
                    "is_rescheduled",
                    "late_bucket",
                    "no_show",
                    "mechanic",
                    "session",
                ],
                name="fact_booking_created_cover",
                condition=Q(booking=True),
            ),
            models.Index(
                fields=["mechanic", "created_at"],
                name="fact_mechanic_created",
                condition=Q(booking=True),
            ),
            # Start-now requests sent out in the period, and ratings given in it
            # (platform): covering as above.
            models.Index(
                fields=[
                    "offered_at",
                    "wait_s",
                    "is_cancelled",
                    "cancelled_by",
                    "mechanic",
                    "plan",
                    "session",
                ],
                name="fact_start_now_cover",
                condition=Q(scheduled=False),
            ),
            models.Index(
                fields=["rated_at", "score", "scheduled", "plan", "session"],
                name="fact_rated_cover",
                condition=Q(score__isnull=False),
            ),
            # Ratings given in the period to one mechanic.
            models.Index(
                fields=["rating_mechanic", "rated_at"],
                name="fact_mechanic_rated",
                condition=Q(score__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"facts of session #{self.session_id}"


class FactDirty(models.Model):
    """Sessions whose facts may be stale, written by the triggers (never by Python). A row
    with no session asks for a full rebuild (the migration that made the table leaves
    one)."""

    id = models.BigAutoField(primary_key=True)
    session_id = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"dirty facts of session #{self.session_id}"
