"""The waitlist (issue 16, part 3): customers waiting for time with a mechanic, or any
mechanic, within a range of days, for one plan; and the offer of freed time to them.

Joining and leaving are plain writes. When time frees — a cancel, a reschedule away, an
expired or released hold (`on_session_event`, after commit), or new hours (the periodic
`waitlist_sweep`) — `waitlist_offer_next` walks the waiting entries in the order they
joined and gives the first one whose range and plan fit a free slot (by the availability
service) an exclusive claim: a real hold through `services.reservation_hold_locked`, held
for WAITLIST_CLAIM_MINUTES, announced by email (`booking.session.waitlist_offered` →
notifications kind `waitlist_claim`). An unclaimed hold expires like any other and the
time passes to the next entry.

Races: the entry row is locked before its claim is written (so one entry never gets two
claims), and the reservation overlap guard decides between entries racing for one slot;
the slot search is only a candidate, so a time taken meanwhile is never handed out.
"""

import contextlib
import logging
from datetime import date, datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import MechanicProfile, User
from autodoctor.dates import date_in_range
from autodoctor.errors import Busy, Conflict, DomainError, InvalidInput, NotFound

from . import services
from .models import (
    ACTIVE_WAITLIST_STATUSES,
    Reservation,
    ReservationStatus,
    SessionEvent,
    WaitlistEntry,
    WaitlistStatus,
)

log = logging.getLogger("autodoctor.booking.waitlist")

ENTRY_KEY = "waitlist_entry_id"  # in a claim session's metadata
OFFERED_ACTION = "booking.session.waitlist_offered"
# Booking events after which a mechanic may have free time again.
FREES_TIME = frozenset(
    {
        "booking.session.cancelled",
        "booking.session.rescheduled",
        "booking.session.hold_expired",
        "booking.session.hold_released",
        "booking.session.request_declined",
    }
)
SCAN_LIMIT = 200  # entries looked at per run; the next run goes on
CLAIM_ATTEMPTS = 3  # per entry and run: a slot taken meanwhile is searched again


# --------------------------------------------------------------------------- reads


def waitlist_for_customer(customer: User) -> QuerySet[WaitlistEntry]:
    """The customer's entries, newest first."""
    return (
        WaitlistEntry.objects.filter(customer=customer)
        .select_related("mechanic__user", "plan", "claim_session")
        .order_by("-created_at", "-pk")
    )


def waitlist_entry_for_customer(entry_id: int, customer: User) -> WaitlistEntry:
    """One of the customer's entries; 404 for anyone else's (no probing)."""
    entry = waitlist_for_customer(customer).filter(pk=entry_id).first()
    if entry is None:
        raise NotFound(_("No such waitlist entry."))
    return entry


def claim_for_customer(session_id: int, customer: User) -> tuple[WaitlistEntry, Reservation]:
    """The waitlist entry whose claim is `session_id`, and the claim's hold; 404 for
    anyone else's session or one that is no waitlist claim."""
    entry = waitlist_for_customer(customer).filter(claim_session_id=session_id).first()
    hold = (
        Reservation.objects.filter(session_id=session_id, session__customer=customer)
        .select_related("mechanic__user", "session__plan")
        .order_by("-pk")
        .first()
    )
    if entry is None or hold is None:
        raise NotFound(_("No such waitlist claim."))
    return entry, hold


# --------------------------------------------------------------------------- join, leave


def _range_instants(first_day: date, last_day: date, zone: str) -> tuple[datetime, datetime]:
    from autodoctor.availability.service import local_instant

    return local_instant(first_day, 0, zone), local_instant(last_day + timedelta(days=1), 0, zone)


def waitlist_join(
    *,
    customer: User,
    intake: services.Intake,
    mechanic_id: int | None,
    first_day: date,
    last_day: date,
    now: datetime | None = None,
) -> WaitlistEntry:
    """Put the customer on the waitlist for `mechanic_id` (None: any mechanic) on their
    local days [first_day, last_day] (at most WAITLIST_MAX_DAYS), for the intake's plan.
    `intake` comes from services.intake_validate (customers with a verified address only).
    Time already free in the range is offered at once (after commit), like freed time."""
    now = now or timezone.now()
    date_in_range(first_day, field="first_day")
    date_in_range(last_day, field="last_day")
    zone = customer.time_zone
    today = now.astimezone(customer.zone).date()
    if first_day < today:
        raise InvalidInput(_("The range cannot start in the past."), field="first_day")
    if last_day < first_day:
        raise InvalidInput(_("The last day comes before the first day."), field="last_day")
    days = (last_day - first_day).days + 1
    if days > settings.WAITLIST_MAX_DAYS:
        raise InvalidInput(
            _("Wait for at most %(waitlist_max_days)s days at once.")
            % {"waitlist_max_days": settings.WAITLIST_MAX_DAYS},
            field="last_day",
        )
    mechanic = None
    if mechanic_id is not None:
        mechanic = MechanicProfile.objects.approved().filter(pk=mechanic_id).first()
        if mechanic is None:
            raise NotFound(_("No such mechanic."))
    starts_after, ends_before = _range_instants(first_day, last_day, zone)

    def work() -> WaitlistEntry:
        User.objects.select_for_update(no_key=True).filter(pk=customer.pk).first()  # count + insert
        active = WaitlistEntry.objects.filter(
            customer=customer, status__in=ACTIVE_WAITLIST_STATUSES
        )
        if active.count() >= settings.WAITLIST_ENTRIES_PER_CUSTOMER:
            raise DomainError(
                _(
                    "You are on the waitlist %(waitlist_entries_per_customer)s times already. Leave one entry (My waitlist) before joining again."
                )
                % {"waitlist_entries_per_customer": settings.WAITLIST_ENTRIES_PER_CUSTOMER},
                code="waitlist_limit",
                status=429,
            )
        same = active.filter(mechanic=mechanic, plan=intake.plan, first_day__lte=last_day)
        if same.filter(last_day__gte=first_day).exists():
            raise Conflict(
                _("You are already waiting for these days with this choice of mechanic."),
                code="already_waiting",
            )
        entry = WaitlistEntry.objects.create(
            customer=customer,
            mechanic=mechanic,
            plan=intake.plan,
            session_type=intake.session_type,
            concern=intake.concern,
            vehicle=intake.vehicle,
            vehicle_label=intake.vehicle_label,
            brand=intake.brand,
            first_day=first_day,
            last_day=last_day,
            starts_after=starts_after,
            ends_before=ends_before,
        )
        log.info("booking.waitlist.joined entry=%s customer=%s", entry.pk, customer.pk)
        _offer_after_commit(mechanic.pk if mechanic else None)
        return entry

    return services.run_booking_transaction(work)


def waitlist_leave(*, entry_id: int, customer: User, now: datetime | None = None) -> WaitlistEntry:
    """The customer leaves the waitlist. A time held for them is released at once (the
    checkout's own release, so the claim's session closes the same way) and passes to the
    next customer after commit. Leaving twice changes nothing."""
    now = now or timezone.now()
    entry = waitlist_entry_for_customer(entry_id, customer)
    if entry.status == WaitlistStatus.OFFERED:
        hold = Reservation.objects.filter(
            session_id=entry.claim_session_id, status=ReservationStatus.RESERVED
        ).first()
        if hold is not None:
            # The listener ends the entry as LEFT in the release's transaction; a hold
            # confirmed or ended meanwhile is settled below.
            with contextlib.suppress(Conflict):
                services.reservation_release(reservation_id=hold.pk, customer=customer, now=now)

    def work() -> WaitlistEntry:
        locked = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if locked.status in ACTIVE_WAITLIST_STATUSES:
            _end(locked, WaitlistStatus.LEFT, now=now)
        return locked

    return services.run_booking_transaction(work)


def _end(entry: WaitlistEntry, status: str, *, now: datetime) -> None:
    entry.status = status
    entry.ended_at = now
    entry.save(update_fields=["status", "ended_at"])
    log.info("booking.waitlist.%s entry=%s", status, entry.pk)


# --------------------------------------------------------------------------- offers


def _waiting(*, mechanic_id: int | None, now: datetime) -> QuerySet[WaitlistEntry]:
    entries = WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, ends_before__gt=now)
    if mechanic_id is not None:
        entries = entries.filter(Q(mechanic_id=mechanic_id) | Q(mechanic__isnull=True))
    return entries.select_related("plan").order_by("created_at", "pk")


def slot_for_entry(
    entry: WaitlistEntry, *, mechanic_id: int | None, now: datetime
) -> tuple[int, datetime] | None:
    """(mechanic id, start) of the earliest bookable slot that suits the entry: its
    mechanic (or, for "any mechanic", `mechanic_id` when given, else anyone), inside
    its range, long enough for its plan. A candidate only: the hold's guard decides."""
    from autodoctor.availability import service as availability

    duration = timedelta(minutes=entry.plan.duration_minutes)
    after = max(entry.starts_after, now)
    if entry.mechanic_id is not None:
        slots = availability.available_slots(
            entry.mechanic_id, after, entry.ends_before, duration, now=now
        )
        return (entry.mechanic_id, slots[0].start) if slots else None
    candidates = [mechanic_id] if mechanic_id is not None else None
    found = availability.earliest_slot(duration, candidates, after=after, now=now)
    if found is None or found[1].start >= entry.ends_before:
        return None
    return found[0], found[1].start


def _claim(entry_id: int, mechanic_id: int, starts_at: datetime, *, now: datetime) -> bool:
    """Hold `starts_at` with the mechanic for the entry if it is still waiting.
    Precondition: inside a booking transaction; SlotRace when the time is taken."""
    entry = (
        WaitlistEntry.objects.select_for_update(of=("self",))
        .select_related("plan", "vehicle", "customer")
        .filter(pk=entry_id)
        .first()
    )
    if entry is None or entry.status != WaitlistStatus.WAITING or entry.ends_before <= now:
        return False  # claimed, left or ended meanwhile (another run was first)
    mechanic = MechanicProfile.objects.approved().filter(pk=mechanic_id).first()
    if mechanic is None:
        return False
    intake = services.Intake(
        plan=entry.plan,
        session_type=entry.session_type,
        concern=entry.concern,
        vehicle=entry.vehicle,
        vehicle_label=entry.vehicle_label,
        brand=entry.brand,
    )
    expires_at = now + timedelta(minutes=settings.WAITLIST_CLAIM_MINUTES)
    reservation = services.reservation_hold_locked(
        customer=entry.customer,
        intake=intake,
        mechanic=mechanic,
        starts_at=starts_at,
        expires_at=expires_at,
        now=now,
        action=OFFERED_ACTION,
        metadata={ENTRY_KEY: entry.pk},
    )
    entry.status = WaitlistStatus.OFFERED
    entry.claim_session_id = reservation.session_id
    entry.offered_at = now
    entry.claim_expires_at = expires_at
    entry.save(update_fields=["status", "claim_session", "offered_at", "claim_expires_at"])
    log.info("booking.waitlist.offered entry=%s reservation=%s", entry.pk, reservation.pk)
    return True


def waitlist_offer_next(*, mechanic_id: int | None = None, now: datetime | None = None) -> int:
    """Offer free time to waiting entries in the order they joined (all entries, or those
    that `mechanic_id`'s free time could suit). Each entry gets at most one claim; a slot
    goes to the first entry that fits it. Idempotent and safe to run from many workers at
    once: the entry lock and the overlap guard decide. Returns how many claims it made."""
    now = now or timezone.now()
    made = 0
    for entry in list(_waiting(mechanic_id=mechanic_id, now=now)[:SCAN_LIMIT]):
        for _attempt in range(CLAIM_ATTEMPTS):
            found = slot_for_entry(entry, mechanic_id=mechanic_id, now=now)
            if found is None:
                break
            try:
                made += services.run_booking_transaction(
                    partial(_claim, entry.pk, found[0], found[1], now=now)
                )
                break
            except services.SlotRace:
                continue  # taken meanwhile: look again for this entry
            except Busy:
                log.warning("waitlist: entry %s busy, next run retries", entry.pk)
                break
    return made


def waitlist_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic job: entries whose range ended expire; claims not taken in time have
    their holds expired (the entry lapses, `on_session_event`); then free time (new hours
    included) is offered to whoever waits. Idempotent."""
    now = now or timezone.now()

    def expire_ranges() -> int:
        ended = list(
            WaitlistEntry.objects.select_for_update().filter(
                status=WaitlistStatus.WAITING, ends_before__lte=now
            )
        )
        for entry in ended:
            _end(entry, WaitlistStatus.EXPIRED, now=now)
        return len(ended)

    expired = services.run_booking_transaction(expire_ranges)
    lapsed = services.run_booking_transaction(
        lambda: services.holds_expire(
            Reservation.objects.filter(
                status=ReservationStatus.RESERVED,
                expires_at__lte=now,
                session__metadata__has_key=ENTRY_KEY,
            ),
            now=now,
        )
    )
    offered = waitlist_offer_next(now=now)
    return {"expired": expired, "lapsed": lapsed, "offered": offered}


# --------------------------------------------------------------------------- listener


def on_session_event(event: SessionEvent) -> None:
    """booking.events listener, inside the booking transaction: settles the waitlist
    entry whose claim this session is (booked, or lapsed when its hold ends untaken) and,
    when the event may free a mechanic's time, offers it to the waitlist after commit."""
    session = event.session
    entry_id = (session.metadata or {}).get(ENTRY_KEY)
    if entry_id is not None:
        _claim_settle(entry_id, event)
    if event.action in FREES_TIME and session.mechanic_id:
        _offer_after_commit(session.mechanic_id)


def _claim_settle(entry_id: int, event: SessionEvent) -> None:
    entry = WaitlistEntry.objects.select_for_update().filter(pk=entry_id).first()
    if entry is None or entry.claim_session_id != event.session_id:
        return
    now = event.created_at or timezone.now()
    booked = event.action == "booking.session.confirmed" or (
        event.action == "booking.session.requested"
        and event.data.get("mode") == "scheduled_request"
    )
    if booked and entry.status in (WaitlistStatus.OFFERED, WaitlistStatus.LAPSED):
        # LAPSED too: an expired hold a late payment revived (services.reservation_confirm).
        _end(entry, WaitlistStatus.BOOKED, now=now)
    elif entry.status == WaitlistStatus.OFFERED and event.action in FREES_TIME:
        # Expired untaken: lapsed. Released or cancelled by the customer: they left.
        lapsed = event.action == "booking.session.hold_expired"
        _end(entry, WaitlistStatus.LAPSED if lapsed else WaitlistStatus.LEFT, now=now)


def _offer_after_commit(mechanic_id: int | None) -> None:
    """Enqueue the offer of a mechanic's freed time once the change commits. Robust: a
    task backend hiccup must not fail the booking change; the periodic sweep is the
    safety net."""
    transaction.on_commit(partial(_enqueue_offer, mechanic_id), robust=True)


def _enqueue_offer(mechanic_id: int | None) -> None:
    from .tasks import waitlist_offer

    waitlist_offer.enqueue(mechanic_id)
