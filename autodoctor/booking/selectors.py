"""Booking reads: what each party may see, and the busy intervals availability needs."""

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.accounts.models import MechanicProfile, User
from autodoctor.availability.engine import Interval
from autodoctor.availability.service import BusyPeriod, busy_rows
from autodoctor.errors import NotFound

from .models import (
    Offer,
    OfferDismissal,
    OfferKind,
    OfferStatus,
    Reservation,
    ReservationStatus,
    Session,
    SessionStatus,
)


def default_buffer_minutes() -> int:
    """The buffer of a mechanic without a settings row."""
    from autodoctor.availability.models import MechanicSettings

    return MechanicSettings._meta.get_field("buffer_minutes").get_default()


def mechanic_buffers(mechanic_ids: Collection[int]) -> dict[int, timedelta]:
    """Each mechanic's buffer after a booking (their settings, or the default)."""
    from autodoctor.availability.models import MechanicSettings

    default = default_buffer_minutes()
    found = dict(
        MechanicSettings.objects.filter(mechanic_id__in=list(mechanic_ids)).values_list(
            "mechanic_id", "buffer_minutes"
        )
    )
    return {pk: timedelta(minutes=found.get(pk, default)) for pk in mechanic_ids}


def plain_rows(sql: str, params: Sequence) -> list[tuple]:
    """Plain SQL for the booking hot paths (a hold's checks inside its transaction, the
    start-now exclusion): building their ORM queries cost more than running them.
    Datetimes in ``params`` adapted for the database, rows as the driver gives them."""
    adapt = connection.ops.adapt_datetimefield_value
    values = [adapt(v) if isinstance(v, datetime) else v for v in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.fetchall()


def active_sql(*, now: datetime, alias: str = "") -> tuple[str, list]:
    """`active_reservations` as a plain-SQL condition on ``alias``'s columns, and its
    parameters: confirmed, or a hold not yet past its expiry."""
    column = f"{alias}." if alias else ""
    return (
        f"({column}status = %s OR ({column}status = %s AND {column}expires_at > %s))",
        [ReservationStatus.CONFIRMED.value, ReservationStatus.RESERVED.value, now],
    )


def active_reservations(*, now: datetime) -> QuerySet[Reservation]:
    """Reservations that block time right now: confirmed ones, and holds not yet past
    their expiry (an expired hold never blocks, whether or not a sweeper ran)."""
    return Reservation.objects.filter(
        Q(status=ReservationStatus.CONFIRMED)
        | Q(status=ReservationStatus.RESERVED, expires_at__gt=now)
    )


def reservation_busy(
    mechanic_ids: Collection[int] | None, window: Interval, *, now: datetime
) -> list[BusyPeriod]:
    """Busy source for the availability service (registered in BookingConfig.ready):
    active reservations overlapping the window (the rows ``active_reservations`` selects),
    keyed ("reservation", id) so a reschedule can ignore the booking it moves. One plain
    query on the (mechanic, status, starts_at) index; the service widens by buffer."""
    active, active_params = active_sql(now=now)
    rows = busy_rows(
        f"SELECT id, mechanic_id, starts_at, ends_at FROM {Reservation._meta.db_table}"
        f" WHERE {active} AND starts_at < %s AND blocked_until > %s{{ids}}",
        [*active_params, window.end, window.start],
        mechanic_ids,
    )
    return [
        BusyPeriod(mechanic_id, Interval(start, end), ("reservation", pk))
        for pk, mechanic_id, start, end in rows
    ]


def sessions_for_user(user: User) -> QuerySet[Session]:
    """Sessions the user is a party to (customers their own, mechanics theirs)."""
    qs = Session.objects.select_related("plan", "mechanic__user", "customer").order_by(
        "-created_at"
    )
    if user.is_platform_admin:
        return qs
    mechanic = getattr(user, "mechanic_profile", None) if user.is_mechanic else None
    if mechanic is not None:
        return qs.filter(mechanic=mechanic)
    return qs.filter(customer=user)


def session_for_user(session_id: int, user: User) -> Session:
    session = sessions_for_user(user).filter(pk=session_id).first()
    if session is None:
        raise NotFound(_("No such session."))
    return session


def offers_visible_to(mechanic: MechanicProfile, *, now: datetime | None = None) -> QuerySet[Offer]:
    """Open offers this mechanic can act on: their own targeted offers and booking
    requests, plus broadcasts once the targeted window has passed (unless they hid it
    or were targeted for that session already)."""
    now = now or timezone.now()
    if not mechanic.is_approved:  # accounts: unapproved mechanics receive no offers
        return Offer.objects.none()
    window = timedelta(seconds=settings.TARGETED_OFFER_SECONDS)
    targeted_same_session = Offer.objects.filter(session=OuterRef("session"), mechanic=mechanic)
    dismissed = OfferDismissal.objects.filter(offer=OuterRef("pk"), mechanic=mechanic)
    return (
        Offer.objects.filter(status=OfferStatus.OFFERED, session__status=SessionStatus.PENDING)
        .exclude(request_past_deadline(now=now))  # closed even before the sweep runs
        .filter(
            Q(mechanic=mechanic, kind__in=[OfferKind.TARGETED, OfferKind.REQUEST])
            | Q(kind=OfferKind.BROADCAST, offered_at__lte=now - window)
            & ~Exists(targeted_same_session)
            & ~Exists(dismissed)
        )
        .select_related("session__plan", "session__customer")
        .order_by("offered_at")
    )


# --------------------------------------------------------------------------- booking requests


def request_deadline(*, offered_at: datetime, starts_at: datetime) -> datetime:
    """When a booking request (instant booking off) stops waiting for its mechanic: the
    earlier of BOOKING_REQUEST_RESPONSE_HOURS after it was sent and
    BOOKING_REQUEST_CUTOFF_HOURS before its start (plan §13.3: requests never hang).
    Computed, not stored, so changing the settings moves every open request's deadline."""
    return min(
        offered_at + timedelta(hours=settings.BOOKING_REQUEST_RESPONSE_HOURS),
        starts_at - timedelta(hours=settings.BOOKING_REQUEST_CUTOFF_HOURS),
    )


def offer_deadline(offer: Offer) -> datetime | None:
    """The answer-by time of a booking request offer (None for start-now offers)."""
    starts_at = offer.session.scheduled_for
    if offer.kind != OfferKind.REQUEST or starts_at is None:
        return None
    return request_deadline(offered_at=offer.offered_at, starts_at=starts_at)


def request_past_deadline(*, now: datetime) -> Q:
    """Offers that are booking requests whose deadline (`request_deadline`) is reached."""
    return Q(kind=OfferKind.REQUEST) & (
        Q(offered_at__lte=now - timedelta(hours=settings.BOOKING_REQUEST_RESPONSE_HOURS))
        | Q(
            session__scheduled_for__lte=now + timedelta(hours=settings.BOOKING_REQUEST_CUTOFF_HOURS)
        )
    )


def session_request_deadline(session: Session) -> datetime | None:
    """Until when a session waits for its mechanic to confirm the booking request, or
    None when no request of it is open."""
    offer = (
        Offer.objects.filter(session=session, kind=OfferKind.REQUEST, status=OfferStatus.OFFERED)
        .select_related("session")
        .first()
    )
    return offer_deadline(offer) if offer else None


def upcoming_sessions(user: User, *, now: datetime | None = None) -> QuerySet[Session]:
    now = now or timezone.now()
    return (
        sessions_for_user(user)
        .filter(
            status__in=[
                SessionStatus.SCHEDULED,
                SessionStatus.WAITING,
                SessionStatus.LIVE,
                SessionStatus.PENDING,
            ],
        )
        .filter(Q(scheduled_for__isnull=True) | Q(scheduled_for__gte=now - timedelta(hours=2)))
        .order_by("scheduled_for")
    )


def with_holds(sessions: QuerySet[Session]) -> QuerySet[Session]:
    """The sessions, each carrying `.holds`: its open checkout holds, loaded for the whole
    list in one more query (lists read `current_hold` per row)."""
    return sessions.prefetch_related(
        Prefetch(
            "reservations",
            queryset=Reservation.objects.filter(status=ReservationStatus.RESERVED),
            to_attr="holds",
        )
    )


def current_hold(session: Session) -> Reservation | None:
    """The session's open checkout hold: from `.holds` when the list was loaded
    `with_holds`, else one query."""
    holds = getattr(session, "holds", None)
    if holds is not None:
        return holds[0] if holds else None
    return session.reservations.filter(status=ReservationStatus.RESERVED).first()
