"""What mechanics and workshops say about their own hours (plan §1.1).

Weekly hours are local wall time in the owner's IANA zone, stored as minutes
after local midnight (0..1440, so a block may end at 24:00). Time off is
stored as UTC instants. The availability service turns all of this into
bookable UTC intervals.
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from autodoctor.accounts.models import MechanicProfile, Workshop

# Longest time-off reason or special-date note (model, forms and API share it).
TEXT_NOTE_MAX = 200

# The longest buffer a mechanic may keep around sessions (4 h). The check constraint below
# enforces it; the settings service and the "who is free" search read it from here.
MAX_BUFFER_MINUTES = 240


class DayOfWeek(models.IntegerChoices):
    # plan §1.1: 0=Sunday … 6=Saturday
    SUNDAY = 0, _("Sunday")
    MONDAY = 1, _("Monday")
    TUESDAY = 2, _("Tuesday")
    WEDNESDAY = 3, _("Wednesday")
    THURSDAY = 4, _("Thursday")
    FRIDAY = 5, _("Friday")
    SATURDAY = 6, _("Saturday")


def _minute_range(prefix: str, start: str, end: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(
                **{f"{start}__gte": 0, f"{start}__lt": 1440, f"{end}__gt": 0, f"{end}__lte": 1440}
            ),
            name=f"{prefix}_minutes_in_day",
        ),
        models.CheckConstraint(
            condition=Q(**{f"{start}__lt": F(end)}), name=f"{prefix}_start_before_end"
        ),
    ]


class WeeklyBlock(models.Model):
    """One recurring stretch of hours a mechanic offers (several per day allowed)."""

    mechanic = models.ForeignKey(
        MechanicProfile, on_delete=models.CASCADE, related_name="weekly_blocks"
    )
    day_of_week = models.PositiveSmallIntegerField(choices=DayOfWeek.choices)
    start_minute = models.PositiveSmallIntegerField()
    end_minute = models.PositiveSmallIntegerField()
    # The week is rewritten whole on every edit: the newest block's time is the last edit
    # (analytics.nudges: the weekly "review your hours" email).
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["mechanic", "day_of_week", "start_minute"]
        indexes = [models.Index(fields=["day_of_week", "start_minute", "end_minute"])]
        constraints = [
            *_minute_range("weeklyblock", "start_minute", "end_minute"),
            models.CheckConstraint(condition=Q(day_of_week__lte=6), name="weeklyblock_day_of_week"),
            models.UniqueConstraint(
                fields=["mechanic", "day_of_week", "start_minute"], name="weeklyblock_unique_start"
            ),
        ]

    def __str__(self) -> str:
        from .engine import minute_label

        return f"{self.get_day_of_week_display()} {minute_label(self.start_minute)}–{minute_label(self.end_minute)}"


class WorkshopHours(models.Model):
    """Opening hours of a workshop for one day of the week, with an optional break."""

    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="hours")
    day_of_week = models.PositiveSmallIntegerField(choices=DayOfWeek.choices)
    is_open = models.BooleanField(default=True)
    open_minute = models.PositiveSmallIntegerField(default=9 * 60)
    close_minute = models.PositiveSmallIntegerField(default=17 * 60)
    break_start_minute = models.PositiveSmallIntegerField(null=True, blank=True)
    break_end_minute = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["workshop", "day_of_week"]
        verbose_name_plural = "workshop hours"
        constraints = [
            *_minute_range("workshophours", "open_minute", "close_minute"),
            models.UniqueConstraint(
                fields=["workshop", "day_of_week"], name="workshophours_one_row_per_day"
            ),
            models.CheckConstraint(
                condition=Q(break_start_minute__isnull=True, break_end_minute__isnull=True)
                | Q(
                    break_start_minute__gt=F("open_minute"),
                    break_end_minute__gt=F("break_start_minute"),
                    break_end_minute__lt=F("close_minute"),
                ),
                name="workshophours_break_inside_opening",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workshop} {self.get_day_of_week_display()}"


class DateOverride(models.Model):
    """Replaces the weekly hours for one local date (a holiday, a Saturday shift).

    Several rows for the same owner and date are the hours of that date; a row with
    no times means closed all day.
    """

    mechanic = models.ForeignKey(
        MechanicProfile,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="date_overrides",
    )
    workshop = models.ForeignKey(
        Workshop, null=True, blank=True, on_delete=models.CASCADE, related_name="date_overrides"
    )
    day = models.DateField()
    start_minute = models.PositiveSmallIntegerField(null=True, blank=True)
    end_minute = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.CharField(max_length=TEXT_NOTE_MAX, blank=True)

    class Meta:
        ordering = ["day", "start_minute"]
        constraints = [
            models.CheckConstraint(
                condition=Q(mechanic__isnull=False, workshop__isnull=True)
                | Q(mechanic__isnull=True, workshop__isnull=False),
                name="dateoverride_one_owner",
            ),
            models.CheckConstraint(
                condition=Q(start_minute__isnull=True, end_minute__isnull=True)
                | Q(start_minute__gte=0, end_minute__lte=1440, start_minute__lt=F("end_minute")),
                name="dateoverride_closed_or_valid_hours",
            ),
        ]

    def __str__(self) -> str:
        owner = self.mechanic or self.workshop
        return f"{owner} {self.day}: {'closed' if self.is_closed else 'special hours'}"

    @property
    def is_closed(self) -> bool:
        return self.start_minute is None


class TimeOffStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("time off", "Pending")
    APPROVED = "approved", pgettext_lazy("time off", "Approved")
    DECLINED = "declined", pgettext_lazy("time off", "Declined")


class TimeOff(models.Model):
    mechanic = models.ForeignKey(MechanicProfile, on_delete=models.CASCADE, related_name="time_off")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    all_day = models.BooleanField(default=False, help_text=_("Entered as whole local dates"))
    reason = models.CharField(max_length=TEXT_NOTE_MAX, blank=True)
    status = models.CharField(
        max_length=10, choices=TimeOffStatus.choices, default=TimeOffStatus.PENDING
    )
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["mechanic", "starts_at", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="timeoff_start_before_end"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.mechanic} off {self.starts_at:%Y-%m-%d}–{self.ends_at:%Y-%m-%d} ({self.status})"
        )


class MechanicSettings(models.Model):
    """Booking rules a mechanic sets for themselves (plan Phase 1 defaults)."""

    mechanic = models.OneToOneField(
        MechanicProfile, on_delete=models.CASCADE, related_name="settings"
    )
    buffer_minutes = models.PositiveSmallIntegerField(default=15)
    max_advance_days = models.PositiveSmallIntegerField(default=30)
    min_notice_minutes = models.PositiveIntegerField(default=120)
    allow_instant_booking = models.BooleanField(default=True)
    slot_step_minutes = models.PositiveSmallIntegerField(default=15)

    class Meta:
        verbose_name_plural = "mechanic settings"
        # The smallest notice anyone has: where the earliest-slot search starts (O(log n)).
        indexes = [models.Index(fields=["min_notice_minutes"], name="settings_min_notice")]
        constraints = [
            models.CheckConstraint(
                condition=Q(buffer_minutes__lte=MAX_BUFFER_MINUTES),
                name="settings_buffer_at_most_4h",
            ),
            models.CheckConstraint(
                condition=Q(max_advance_days__gte=1, max_advance_days__lte=365),
                name="settings_advance_1_365",
            ),
            models.CheckConstraint(
                condition=Q(slot_step_minutes__gte=5, slot_step_minutes__lte=240),
                name="settings_step_5_240",
            ),
        ]

    def __str__(self) -> str:
        return f"Settings for {self.mechanic}"


class WorkshopVisitSettings(models.Model):
    """Booking rules a workshop sets for in-person visits (issue 11); a workshop
    without a row uses the field defaults. Durations per service type override the
    diagnosis estimate's fallback (DEFAULT_VISIT_MINUTES)."""

    workshop = models.OneToOneField(
        Workshop, on_delete=models.CASCADE, related_name="visit_settings"
    )
    min_notice_minutes = models.PositiveIntegerField(default=120)
    max_advance_days = models.PositiveSmallIntegerField(default=60)
    slot_step_minutes = models.PositiveSmallIntegerField(default=30)
    response_hours = models.PositiveSmallIntegerField(
        default=24, help_text=_("How long a request holds its time while the workshop answers")
    )
    durations = models.JSONField(
        default=dict,
        blank=True,
        help_text=_('Visit minutes per service type, e.g. {"brakes": 120}'),
    )

    class Meta:
        verbose_name_plural = "workshop visit settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_advance_days__gte=1, max_advance_days__lte=365),
                name="visit_settings_advance_1_365",
            ),
            models.CheckConstraint(
                condition=Q(slot_step_minutes__gte=5, slot_step_minutes__lte=240),
                name="visit_settings_step_5_240",
            ),
            models.CheckConstraint(
                condition=Q(response_hours__gte=1, response_hours__lte=168),
                name="visit_settings_response_1_168",
            ),
        ]

    def __str__(self) -> str:
        return f"Visit settings for {self.workshop}"


class ExternalCalendar(models.Model):
    """A mechanic's own calendar (Google / Apple / Outlook private ICS address) whose busy
    events block bookings (issue 16 part 2). ``availability.external`` fetches it.

    Security: ``url`` is a secret (anyone holding it reads the mechanic's calendar): it is
    never shown in full after saving (pages and the API show ``url_hint``) and never
    logged (log lines name the calendar id).
    """

    mechanic = models.ForeignKey(
        MechanicProfile, on_delete=models.CASCADE, related_name="external_calendars"
    )
    label = models.CharField(max_length=80, blank=True)
    url = models.CharField(max_length=2000)
    created_at = models.DateTimeField()
    # Every attempt sets last_fetched_at; a good copy sets last_ok_at and clears last_error.
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # Conditional GET: what the server said last time (If-None-Match / If-Modified-Since).
    etag = models.CharField(max_length=300, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    # The end of the horizon the stored busy rows were expanded for: a "304 Not Modified"
    # keeps them only while they still reach far enough ahead.
    busy_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["mechanic", "created_at", "pk"]
        indexes = [models.Index(fields=["last_fetched_at"])]
        constraints = [
            models.UniqueConstraint(fields=["mechanic", "url"], name="externalcalendar_unique_url")
        ]

    def __str__(self) -> str:
        return self.label or self.url_hint

    @property
    def url_hint(self) -> str:
        """What a person may see of the address: its scheme and host only."""
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or '?'}/…"


class ExternalBusy(models.Model):
    """One busy stretch of an external calendar, UTC, replaced as a whole on each good
    fetch. ``mechanic`` repeats the calendar's so the busy source reads one indexed table."""

    calendar = models.ForeignKey(ExternalCalendar, on_delete=models.CASCADE, related_name="busy")
    mechanic = models.ForeignKey(MechanicProfile, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["mechanic", "starts_at"]
        indexes = [models.Index(fields=["mechanic", "starts_at", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="externalbusy_start_before_end"
            )
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M} UTC"


class OfferedRange(models.Model):
    """The one row saying which stretch ``OfferedPiece`` holds: [start_s, end_s) in UTC
    epoch seconds (``availability.offered``). No row: the many-mechanic reads use the
    set-based SQL only."""

    start_s = models.BigIntegerField()
    end_s = models.BigIntegerField()

    def __str__(self) -> str:
        return f"offered {self.start_s}–{self.end_s}"


class OfferedPiece(models.Model):
    """One piece of a mechanic's source hours (engine ``pieces``: hours per type,
    overrides applied, DST exact) overlapping the offered range, once per UTC hour
    (``bucket``) it touches, in epoch seconds. ``span_end_s`` is the end of the merged
    stretch of hours the piece lies in (touching pieces joined). The mechanic's booking
    rules are copied in (``MechanicSettings`` or the defaults): notice, step, advance and
    buffer, and ``grid_class`` -- notice, step and the phase of the piece's slot grid
    (``start_s`` modulo the step) in one sortable number (``offered.grid_class``) -- so
    the earliest slot reads its candidates from an index in order. Only mechanics who
    may be found (approved, account active) have rows. Bookings and time off are not in
    it: they are read live. Kept exact by ``availability.offered``; database triggers
    mark a mechanic dirty (``OfferedDirty``) on every write that changes its hours, its
    rules, its approval or active flag, and reads treat dirty mechanics by the set-based
    code until the pieces are rebuilt."""

    mechanic_id = models.BigIntegerField()
    bucket = models.BigIntegerField()
    start_s = models.BigIntegerField()
    end_s = models.BigIntegerField()
    span_end_s = models.BigIntegerField()
    notice_s = models.BigIntegerField(default=0)
    step_s = models.BigIntegerField(default=60)
    advance_s = models.BigIntegerField(default=0)
    buffer_s = models.BigIntegerField(default=0)
    grid_class = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["bucket", "start_s", "end_s", "span_end_s", "mechanic_id"],
                name="offered_bucket_start",
            ),
            models.Index(fields=["mechanic_id", "bucket"], name="offered_mechanic_bucket"),
            # The earliest slot, per grid class: pieces containing an instant in
            # mechanic order, and pieces starting after it in start order.
            models.Index(
                fields=[
                    "grid_class",
                    "bucket",
                    "mechanic_id",
                    "start_s",
                    "end_s",
                    "span_end_s",
                    "advance_s",
                ],
                name="offered_class_bucket",
            ),
            models.Index(
                fields=["grid_class", "start_s", "mechanic_id"], name="offered_class_start"
            ),
        ]

    def __str__(self) -> str:
        return f"mechanic {self.mechanic_id}: {self.start_s}–{self.end_s}"


class OfferedDirty(models.Model):
    """A mechanic whose hours changed since its pieces were built (one row per write,
    inserted by database triggers; ``availability.offered`` deletes the rows it saw)."""

    id = models.BigAutoField(primary_key=True)
    mechanic_id = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return f"mechanic {self.mechanic_id} dirty"
