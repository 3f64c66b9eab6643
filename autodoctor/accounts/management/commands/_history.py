"""`seed_demo --history DAYS`: a realistic past for the existing mechanics, in bulk.

Per mechanic and past day 0–3 sessions (about 0.9 a day) at distinct hours between 14:00
and 21:00 UTC (a North American working day), so no two active reservations of a
mechanic overlap:
- 70 % booked in advance, lead time from 30 minutes to two weeks: 83 % completed, 9 %
  cancelled by the customer and 3 % by the mechanic (at every lateness), 3 % the mechanic
  did not show and 2 % the customer did not (recorded after the grace period, as the
  no-show sweep does); 8 % rescheduled once;
- 30 % start-now: paid and sent out, taken within 1–12 minutes (an accepted offer), or
  6 % closed by the system untaken;
- 40 % of completed sessions rated (mostly 4–5), half of those with a comment.

Idempotent: every generated session carries `metadata["demo_history"]`; a mechanic who
already has such a session is skipped. Rows go in with bulk_create (timestamps written
as generated, not "now").
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import models, transaction

from autodoctor.accounts.models import CustomerProfile, MechanicProfile, Role, User
from autodoctor.analytics.models import SessionRating
from autodoctor.booking.models import (
    Offer,
    OfferKind,
    OfferStatus,
    Plan,
    Reservation,
    ReservationStatus,
    Session,
    SessionEvent,
    SessionStatus,
)

MARKER = "demo_history"
CUSTOMER_PREFIX = "history-customer-"
CUSTOMERS = 60
BATCH = 5000
CONCERNS = (
    "Check engine light after refuelling",
    "Grinding noise when braking",
    "Car pulls to the left at highway speed",
    "Battery drains overnight",
    "Should I buy this used SUV? Second opinion on an inspection",
    "Transmission shifts hard from 2nd to 3rd",
)
COMMENTS = (
    "Clear explanation, saved me a trip to the dealer.",
    "Knew my model well.",
    "Helpful, a bit rushed at the end.",
    "Found the fault in ten minutes.",
    "Good advice on what to ask the shop.",
    "Video kept freezing, but the advice was right.",
)
# (outcome, weight) of advance bookings; see the module docstring.
ADVANCE_OUTCOMES = (
    ("completed", 83),
    ("customer_cancelled", 9),
    ("mechanic_cancelled", 3),
    ("mechanic_no_show", 3),
    ("customer_no_show", 2),
)


@contextmanager
def written_as_given(*fields: models.DateTimeField) -> Iterator[None]:
    """Let bulk_create keep the generated auto_now / auto_now_add timestamps."""
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f, *_ in saved:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def _history_customers(password_hash: str, now: datetime) -> list[int]:
    emails = [f"{CUSTOMER_PREFIX}{n:03d}@demo.autodoctor.test" for n in range(CUSTOMERS)]
    existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    User.objects.bulk_create(
        User(
            email=email,
            full_name=f"History Customer {n:03d}",
            role=Role.CUSTOMER,
            time_zone="America/Toronto",
            password=password_hash,
            email_verified_at=now,
        )
        for n, email in enumerate(emails)
        if email not in existing
    )
    ids = list(User.objects.filter(email__in=emails).order_by("pk").values_list("pk", flat=True))
    have = set(CustomerProfile.objects.filter(user_id__in=ids).values_list("user_id", flat=True))
    CustomerProfile.objects.bulk_create(CustomerProfile(user_id=i) for i in ids if i not in have)
    return ids


def _field(model: type[models.Model], name: str) -> models.DateTimeField:
    return model._meta.get_field(name)  # type: ignore[return-value]


class _Day:
    """The rows of one generated session, filled in by `History.session`."""

    __slots__ = ("event", "offer", "rating", "reservation", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.reservation: Reservation | None = None
        self.event: SessionEvent | None = None
        self.offer: Offer | None = None
        self.rating: SessionRating | None = None


class History:
    def __init__(self, *, days: int, now: datetime, rng: random.Random, password_hash: str):
        self.days, self.now, self.rng = days, now, rng
        self.password_hash = password_hash

    def run(self) -> tuple[int, int]:
        """Returns (mechanics given a history, sessions created)."""
        done = set(
            Session.objects.filter(metadata__has_key=MARKER)
            .values_list("mechanic_id", flat=True)
            .distinct()
        )
        mechanics = list(
            MechanicProfile.objects.exclude(pk__in=done).order_by("pk").values_list("pk", flat=True)
        )
        if not mechanics or self.days <= 0:
            return 0, 0
        self.customers = _history_customers(self.password_hash, self.now)
        self.plans = list(Plan.objects.order_by("pk").values_list("pk", flat=True))
        created = 0
        for first in range(0, len(mechanics), 200):
            chunk = mechanics[first : first + 200]
            busy = self._busy(chunk)
            created += self._write([self._mechanic(m, busy.get(m, [])) for m in chunk])
        return len(mechanics), created

    def _busy(self, mechanics: list[int]) -> dict[int, list[tuple[datetime, datetime]]]:
        """Active reservations the mechanics already have in the history's days (the
        demo's own sessions and visits): generated sessions keep clear of them."""
        start = self.now - timedelta(days=self.days + 1)
        busy: dict[int, list[tuple[datetime, datetime]]] = {}
        rows = Reservation.objects.filter(
            mechanic_id__in=mechanics,
            status__in=(ReservationStatus.RESERVED, ReservationStatus.CONFIRMED),
            blocked_until__gt=start,
            starts_at__lt=self.now,
        ).values_list("mechanic_id", "starts_at", "blocked_until")
        for mid, starts, until in rows:
            busy.setdefault(mid, []).append((starts, until))
        return busy

    def _mechanic(self, mechanic_id: int, busy: list[tuple[datetime, datetime]]) -> list[_Day]:
        rng = self.rng
        today = self.now.replace(hour=0, minute=0, second=0, microsecond=0)
        out = []
        for back in range(self.days, 0, -1):
            day = today - timedelta(days=back)
            count = rng.choices((0, 1, 2, 3), weights=(40, 35, 20, 5))[0]
            for hour in rng.sample(range(14, 22), count):
                # Each session fits in its own hour, so a mechanic's never overlap.
                minutes = rng.choice((15, 30, 30, 45, 60))
                offset = rng.choice([m for m in (0, 15, 30) if m + minutes <= 60])
                at = day + timedelta(hours=hour, minutes=offset)
                end = at + timedelta(minutes=minutes)
                if any(s < end and at < u for s, u in busy):
                    continue
                if rng.random() < 0.7:
                    out.append(self._advance(mechanic_id, at, minutes))
                else:
                    out.append(self._start_now(mechanic_id, at, minutes))
        return out

    def _base(self, mechanic_id: int | None, created: datetime, minutes: int, **fields) -> Session:
        rng = self.rng
        return Session(
            customer_id=rng.choice(self.customers),
            mechanic_id=mechanic_id,
            plan_id=rng.choice(self.plans),
            concern=rng.choice(CONCERNS),
            duration_minutes=minutes,
            created_at=created,
            metadata={MARKER: 1},
            **fields,
        )

    def _advance(self, mechanic_id: int, at: datetime, minutes: int) -> _Day:
        rng = self.rng
        lead = timedelta(minutes=int(30 * (2 ** rng.uniform(0, 9.4))))  # 30 min – ~14 days
        created = at - lead
        outcome = rng.choices(*zip(*ADVANCE_OUTCOMES, strict=True))[0]
        session = self._base(mechanic_id, created, minutes, scheduled_for=at)
        session.reschedule_count = 1 if rng.random() < 0.08 else 0
        row = _Day(session)
        end = at + timedelta(minutes=session.duration_minutes)
        if outcome == "completed":
            session.status = SessionStatus.COMPLETED
            session.started_at, session.ended_at = at, end
            session.updated_at = end
            self._maybe_rate(row, end)
        else:
            session.status = SessionStatus.CANCELLED
            no_show = outcome.endswith("no_show")
            if no_show:
                # Who cancelled is who was there: the customer when the mechanic was absent.
                session.cancelled_by = "customer" if outcome == "mechanic_no_show" else "mechanic"
                cancelled_at = at + timedelta(minutes=16)
            else:
                session.cancelled_by = outcome.split("_")[0]
                cancelled_at = created + (at - created) * rng.uniform(0.2, 0.99)
            session.updated_at = cancelled_at
            hours = round((at - cancelled_at).total_seconds() / 3600, 2)
            data = {"hours_before_start": hours}
            if no_show:
                data["mechanic_no_show"] = True
            row.event = SessionEvent(session=session, action="booking.session.cancelled", data=data)
            row.event.created_at = cancelled_at
        row.reservation = Reservation(
            mechanic_id=mechanic_id,
            session=session,
            starts_at=at,
            ends_at=end,
            blocked_until=end,
            status=(
                ReservationStatus.CONFIRMED
                if session.status == SessionStatus.COMPLETED
                else ReservationStatus.RELEASED
            ),
            reserved_at=created,
            confirmed_at=created + timedelta(minutes=2),
            released_at=None if session.status == SessionStatus.COMPLETED else session.updated_at,
        )
        return row

    def _start_now(self, mechanic_id: int, at: datetime, minutes: int) -> _Day:
        rng = self.rng
        if rng.random() < 0.06:
            session = self._base(None, at, minutes, offered_at=at, status=SessionStatus.CANCELLED)
            session.cancelled_by, session.updated_at = "system", at + timedelta(minutes=20)
            return _Day(session)
        taken = at + timedelta(seconds=rng.randint(60, 720))
        session = self._base(
            mechanic_id, at, minutes, offered_at=at, status=SessionStatus.COMPLETED
        )
        session.started_at = taken + timedelta(minutes=2)
        session.ended_at = session.started_at + timedelta(minutes=session.duration_minutes)
        session.updated_at = session.ended_at
        row = _Day(session)
        row.offer = Offer(
            session=session,
            kind=OfferKind.BROADCAST,  # sent to every match; `accepted_by` took it
            status=OfferStatus.ACCEPTED,
            offered_at=at,
            responded_at=taken,
            accepted_by_id=mechanic_id,
        )
        self._maybe_rate(row, session.ended_at)
        return row

    def _maybe_rate(self, row: _Day, ended: datetime) -> None:
        rng = self.rng
        if rng.random() >= 0.4:
            return
        at = ended + timedelta(hours=rng.randint(1, 48))
        if at >= self.now:
            return
        session = row.session
        row.rating = SessionRating(
            session=session,
            mechanic_id=session.mechanic_id,
            customer_id=session.customer_id,
            score=rng.choices((5, 4, 3, 2, 1), weights=(55, 28, 10, 4, 3))[0],
            comment=rng.choice(COMMENTS) if rng.random() < 0.5 else "",
            created_at=at,
            updated_at=at,
        )

    def _write(self, per_mechanic: list[list[_Day]]) -> int:
        rows = [row for days in per_mechanic for row in days]
        if not rows:
            return 0
        with (
            transaction.atomic(),
            written_as_given(
                _field(Session, "created_at"),
                _field(Session, "updated_at"),
                _field(SessionEvent, "created_at"),
                _field(Reservation, "reserved_at"),
                _field(Offer, "offered_at"),
            ),
        ):
            for row in rows:
                if row.session.updated_at is None:
                    row.session.updated_at = row.session.created_at
            sessions = Session.objects.bulk_create([r.session for r in rows], batch_size=BATCH)
            if sessions and sessions[0].pk is None:  # no RETURNING: read the ids back
                raise RuntimeError("seed_demo --history needs a backend returning bulk ids")
            for kind, model in (
                ("reservation", Reservation),
                ("event", SessionEvent),
                ("offer", Offer),
                ("rating", SessionRating),
            ):
                objects = [getattr(r, kind) for r in rows if getattr(r, kind) is not None]
                for obj in objects:
                    obj.session_id = obj.session.pk  # assigned before the session had a pk
                model.objects.bulk_create(objects, batch_size=BATCH)
        return len(rows)
