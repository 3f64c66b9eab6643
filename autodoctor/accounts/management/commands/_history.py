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
- 40 % of completed sessions rated (mostly 4–5), half of those with a comment; each
  mechanic's `rating` (what matching reads) is then the mean of their ratings, as
  `analytics.services.mechanic_rating_refresh` keeps it.

Idempotent: every generated session carries `metadata["demo_history"]`; a mechanic who
already has such a session is skipped.

Speed (5,000 mechanics × a year is about 1.6 million sessions and 4 million rows): rows
are plain tuples, not model instances, written per chunk of mechanics in one transaction
by `copy_rows` — PostgreSQL's COPY, or one `executemany` on SQLite. Ids are allocated up
front (PostgreSQL: from the table's own sequence; SQLite: after the current maximum, under
the write lock IMMEDIATE transactions take) so child rows can point at their session.
The database guards stay on: the reservation overlap exclusion constraint (PostgreSQL)
and triggers (SQLite) check every generated reservation, as they would any other.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from django.db import connection, models, transaction
from django.db.models import Avg

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
# Mechanics per transaction (about 65,000 sessions for a year).
CHUNK = 250
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
_OUTCOMES, _OUTCOME_WEIGHTS = zip(*ADVANCE_OUTCOMES, strict=True)
_SCORES, _SCORE_WEIGHTS = (5, 4, 3, 2, 1), (55, 28, 10, 4, 3)
_MARKER_JSON = json.dumps({MARKER: 1})
COMPLETED, CANCELLED = SessionStatus.COMPLETED.value, SessionStatus.CANCELLED.value
CONFIRMED, RELEASED = ReservationStatus.CONFIRMED.value, ReservationStatus.RELEASED.value
CANCELLED_ACTION = "booking.session.cancelled"


def _plain(value: object) -> object:
    """A default as the database takes it (an enum member as its value, JSON as text)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


class Table:
    """The rows of one model to write: tuples of `columns` (generated), completed by
    the model's defaults for its other columns (an auto primary key left out is given by
    the database). A column with neither a default nor NULL allowed fails here, before
    anything is written."""

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.model, self.columns = model, tuple(columns)
        fields = {f.column: f for f in model._meta.concrete_fields}
        rest = [f for f in fields.values() if f.column not in self.columns and not f.primary_key]
        self.tail = tuple(_plain(f.get_default()) for f in rest)
        for field, value in zip(rest, self.tail, strict=True):
            if value is None and not field.null:
                raise RuntimeError(f"the demo history does not fill {model.__name__}.{field.name}")
        self.all_columns = self.columns + tuple(f.column for f in rest)
        self.datetimes = [
            i
            for i, column in enumerate(self.all_columns)
            if isinstance(fields[column], models.DateTimeField)
        ]
        self.rows: list[tuple] = []


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh primary keys of `model`, before its rows are written. PostgreSQL:
    taken from the table's sequence (so later inserts never collide); SQLite: after the
    current maximum (the caller's IMMEDIATE transaction holds the write lock)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        first = cursor.fetchone()[0] + 1
    return list(range(first, first + count))


def _sqlite_datetime(value: datetime | None) -> str | None:
    # Django's SQLite format: naive UTC text (DatabaseOperations.adapt_datetimefield_value).
    return None if value is None else str(value.astimezone(UTC).replace(tzinfo=None))


def copy_rows(table: Table, rows: Iterable[tuple]) -> int:
    """Write `rows` (tuples of `table.columns`) in one statement stream: COPY on
    PostgreSQL, executemany on SQLite. Constraints and triggers apply as to any insert."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in table.all_columns)
    target = quote(table.model._meta.db_table)
    tail, count = table.tail, 0
    # The raw driver cursor (COPY has no Django spelling): its errors are turned into
    # Django's (IntegrityError …) as the ORM's would be.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + tail)
                    count += 1
            return count
        marks = ", ".join("?" * len(table.all_columns))
        dates = table.datetimes

        def converted() -> Iterable[list]:
            nonlocal count
            for row in rows:
                values = list(row + tail)
                for i in dates:
                    values[i] = _sqlite_datetime(values[i])
                count += 1
                yield values

        cursor.cursor.executemany(f"INSERT INTO {target} ({names}) VALUES ({marks})", converted())
    return count


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


class Chunk:
    """The rows of one chunk of mechanics. Child rows hold the *position* of their
    session in `sessions` until `write` swaps in the allocated ids."""

    def __init__(self) -> None:
        self.sessions = Table(
            Session,
            (
                "id",
                "customer_id",
                "mechanic_id",
                "plan_id",
                "concern",
                "duration_minutes",
                "status",
                "scheduled_for",
                "offered_at",
                "started_at",
                "ended_at",
                "reschedule_count",
                "cancelled_by",
                "metadata",
                "created_at",
                "updated_at",
            ),
        )
        self.reservations = Table(
            Reservation,
            (
                "session_id",
                "mechanic_id",
                "starts_at",
                "ends_at",
                "blocked_until",
                "status",
                "reserved_at",
                "confirmed_at",
                "released_at",
            ),
        )
        self.events = Table(SessionEvent, ("session_id", "action", "data", "created_at"))
        self.offers = Table(
            Offer,
            ("session_id", "kind", "status", "offered_at", "responded_at", "accepted_by_id"),
        )
        self.ratings = Table(
            SessionRating,
            (
                "session_id",
                "mechanic_id",
                "customer_id",
                "score",
                "comment",
                "created_at",
                "updated_at",
            ),
        )

    def write(self) -> int:
        """Insert every row (caller holds the transaction); returns the sessions made."""
        sessions = self.sessions.rows
        if not sessions:
            return 0
        ids = allocate_ids(Session, len(sessions))
        copy_rows(self.sessions, ((i, *row) for i, row in zip(ids, sessions, strict=True)))
        for table in (self.reservations, self.events, self.offers, self.ratings):
            copy_rows(table, ((ids[row[0]], *row[1:]) for row in table.rows))
        return len(sessions)


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
        for first in range(0, len(mechanics), CHUNK):
            ids = mechanics[first : first + CHUNK]
            with transaction.atomic():
                busy = self._busy(ids)
                chunk = Chunk()
                for mechanic_id in ids:
                    self._mechanic(chunk, mechanic_id, busy.get(mechanic_id, []))
                created += chunk.write()
                _ratings_refresh(ids)
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

    def _mechanic(
        self, chunk: Chunk, mechanic_id: int, busy: list[tuple[datetime, datetime]]
    ) -> None:
        rng = self.rng
        today = self.now.replace(hour=0, minute=0, second=0, microsecond=0)
        for back in range(self.days, 0, -1):
            day = today - timedelta(days=back)
            count = rng.choices((0, 1, 2, 3), weights=(40, 35, 20, 5))[0]
            for hour in rng.sample(range(14, 22), count):
                # Each session fits in its own hour, so a mechanic's never overlap.
                minutes = rng.choice((15, 30, 30, 45, 60))
                offset = rng.choice([m for m in (0, 15, 30) if m + minutes <= 60])
                at = day + timedelta(hours=hour, minutes=offset)
                end = at + timedelta(minutes=minutes)
                if busy and any(s < end and at < u for s, u in busy):
                    continue
                if rng.random() < 0.7:
                    self._advance(chunk, mechanic_id, at, end, minutes)
                else:
                    self._start_now(chunk, mechanic_id, at, minutes)

    def _session(
        self,
        chunk: Chunk,
        *,
        mechanic: int | None,
        minutes: int,
        status: str,
        created: datetime,
        updated: datetime,
        scheduled_for: datetime | None = None,
        offered_at: datetime | None = None,
        started: datetime | None = None,
        ended: datetime | None = None,
        rescheduled: int = 0,
        cancelled_by: str = "",
    ) -> int:
        """Add a session row (customer, plan and concern drawn here); its position."""
        rng = self.rng
        chunk.sessions.rows.append(
            (
                rng.choice(self.customers),
                mechanic,
                rng.choice(self.plans),
                rng.choice(CONCERNS),
                minutes,
                status,
                scheduled_for,
                offered_at,
                started,
                ended,
                rescheduled,
                cancelled_by,
                _MARKER_JSON,
                created,
                updated,
            )
        )
        return len(chunk.sessions.rows) - 1

    def _advance(
        self, chunk: Chunk, mechanic_id: int, at: datetime, end: datetime, minutes: int
    ) -> None:
        rng = self.rng
        lead = timedelta(minutes=int(30 * (2 ** rng.uniform(0, 9.4))))  # 30 min – ~14 days
        created = at - lead
        outcome = rng.choices(_OUTCOMES, _OUTCOME_WEIGHTS)[0]
        rescheduled = 1 if rng.random() < 0.08 else 0
        if outcome == "completed":
            position = self._session(
                chunk,
                mechanic=mechanic_id,
                minutes=minutes,
                status=COMPLETED,
                scheduled_for=at,
                started=at,
                ended=end,
                rescheduled=rescheduled,
                created=created,
                updated=end,
            )
            self._maybe_rate(chunk, position, mechanic_id, end)
            status, released = CONFIRMED, None
        else:
            no_show = outcome.endswith("no_show")
            if no_show:
                # Who cancelled is who was there: the customer when the mechanic was absent.
                by = "customer" if outcome == "mechanic_no_show" else "mechanic"
                cancelled_at = at + timedelta(minutes=16)
            else:
                by = outcome.split("_")[0]
                cancelled_at = created + (at - created) * rng.uniform(0.2, 0.99)
            position = self._session(
                chunk,
                mechanic=mechanic_id,
                minutes=minutes,
                status=CANCELLED,
                scheduled_for=at,
                rescheduled=rescheduled,
                cancelled_by=by,
                created=created,
                updated=cancelled_at,
            )
            data: dict = {
                "hours_before_start": round((at - cancelled_at).total_seconds() / 3600, 2)
            }
            if no_show:
                data["mechanic_no_show"] = True
            chunk.events.rows.append((position, CANCELLED_ACTION, json.dumps(data), cancelled_at))
            status, released = RELEASED, cancelled_at
        confirmed = created + timedelta(minutes=2)
        chunk.reservations.rows.append(
            (position, mechanic_id, at, end, end, status, created, confirmed, released)
        )

    def _start_now(self, chunk: Chunk, mechanic_id: int, at: datetime, minutes: int) -> None:
        rng = self.rng
        if rng.random() < 0.06:  # closed by the system, nobody took it
            self._session(
                chunk,
                mechanic=None,
                minutes=minutes,
                status=CANCELLED,
                offered_at=at,
                cancelled_by="system",
                created=at,
                updated=at + timedelta(minutes=20),
            )
            return
        taken = at + timedelta(seconds=rng.randint(60, 720))
        started = taken + timedelta(minutes=2)
        ended = started + timedelta(minutes=minutes)
        position = self._session(
            chunk,
            mechanic=mechanic_id,
            minutes=minutes,
            status=COMPLETED,
            offered_at=at,
            started=started,
            ended=ended,
            created=at,
            updated=ended,
        )
        # A broadcast: sent to every match; `accepted_by` took it.
        accepted = (OfferKind.BROADCAST.value, OfferStatus.ACCEPTED.value)
        chunk.offers.rows.append((position, *accepted, at, taken, mechanic_id))
        self._maybe_rate(chunk, position, mechanic_id, ended)

    def _maybe_rate(self, chunk: Chunk, position: int, mechanic_id: int, ended: datetime) -> None:
        rng = self.rng
        if rng.random() >= 0.4:
            return
        at = ended + timedelta(hours=rng.randint(1, 48))
        if at >= self.now:
            return
        score = rng.choices(_SCORES, _SCORE_WEIGHTS)[0]
        comment = rng.choice(COMMENTS) if rng.random() < 0.5 else ""
        customer = chunk.sessions.rows[position][0]
        chunk.ratings.rows.append((position, mechanic_id, customer, score, comment, at, at))


def _ratings_refresh(mechanics: list[int]) -> None:
    """Each mechanic's `rating` = the mean of all their ratings, one decimal (the rule of
    analytics.services.mechanic_rating_refresh, in one grouped query for the chunk)."""
    from decimal import ROUND_HALF_UP, Decimal

    averages = (
        SessionRating.objects.filter(mechanic_id__in=mechanics)
        .values("mechanic_id")
        .annotate(average=Avg("score"))
        .order_by()
    )
    profiles = [
        MechanicProfile(
            pk=row["mechanic_id"],
            rating=Decimal(str(row["average"])).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
        )
        for row in averages
    ]
    MechanicProfile.objects.bulk_update(profiles, ["rating"], batch_size=1000)
