"""Reads of the workshops app: which visits hold bays, who may see which visit, and
which workshops are near a customer.

Access (Zulip-style `access_*`): the visit's customer, the staff and owner of its
workshop, and the mechanic assigned to it see a visit; anyone else gets NotFound, the
same as for a visit that does not exist.
"""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from autodoctor.accounts.models import User, Workshop
from autodoctor.availability.engine import Interval
from autodoctor.errors import NotFound

from .models import HOLDING_STATUSES, WAITING_STATUSES, Visit, VisitStatus

# Canada Post: the first letter of a postal code names the province or territory.
PROVINCE_OF_LETTER = {
    "A": "NL",
    "B": "NS",
    "C": "PE",
    "E": "NB",
    "G": "QC",
    "H": "QC",
    "J": "QC",
    "K": "ON",
    "L": "ON",
    "M": "ON",
    "N": "ON",
    "P": "ON",
    "R": "MB",
    "S": "SK",
    "T": "AB",
    "V": "BC",
    "X": "NT",
    "Y": "YT",
}


def province_of(postal_code: str) -> str:
    return PROVINCE_OF_LETTER.get((postal_code or "")[:1].upper(), "")


def holding_visits(*, now: datetime) -> QuerySet[Visit]:
    """Visits that hold a bay right now: confirmed and checked-in ones, and requests or
    offered times still inside their answer window (a lapsed one never blocks, whether
    or not the expiry job ran)."""
    return Visit.objects.filter(
        Q(status__in=[VisitStatus.CONFIRMED, VisitStatus.CHECKED_IN])
        | Q(status__in=WAITING_STATUSES, expires_at__gt=now)
    )


def bay_load(
    workshop_id: int, window: Interval, *, now: datetime, ignore: Collection[int] = ()
) -> dict[int, list[Interval]]:
    """Bay load source for the availability service (WorkshopsConfig.ready): one query,
    the rows `holding_visits` selects. Plain SQL: it runs on every visit-time listing,
    and building the ORM query and converting its rows cost more than running it."""
    adapt = connection.ops.adapt_datetimefield_value
    waiting = [str(s) for s in WAITING_STATUSES]
    held = [str(VisitStatus.CONFIRMED), str(VisitStatus.CHECKED_IN)]
    ignored = list(ignore)
    sql = (
        f"SELECT bay, starts_at, ends_at FROM {connection.ops.quote_name(Visit._meta.db_table)}"
        " WHERE workshop_id = %s AND starts_at < %s AND ends_at > %s"
        f" AND (status IN ({', '.join(['%s'] * len(held))})"
        f" OR (status IN ({', '.join(['%s'] * len(waiting))}) AND expires_at > %s))"
        + (f" AND id NOT IN ({', '.join(['%s'] * len(ignored))})" if ignored else "")
    )
    params = [workshop_id, adapt(window.end), adapt(window.start), *held, *waiting, adapt(now)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params + ignored)
        rows = cursor.fetchall()
    load: dict[int, list[Interval]] = defaultdict(list)
    for bay, start, end in rows:
        load[bay].append(Interval(_aware(start), _aware(end)))
    return load


def _aware(value: datetime | str) -> datetime:
    # SQLite answers text ("2026-06-08 14:00:00", UTC), PostgreSQL aware datetimes.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- access


def staff_workshop_ids(user: User) -> list[int]:
    """Workshops whose visits `user` acts on: owned or staffed (admins: all)."""
    qs = Workshop.objects.all()
    if not user.is_platform_admin:
        qs = qs.filter(Q(owner=user) | Q(staff=user))
    return list(qs.values_list("pk", flat=True).distinct())


def visits_visible_to(user: User) -> QuerySet[Visit]:
    if user.is_platform_admin:
        return Visit.objects.all()
    mechanic = getattr(user, "mechanic_profile", None) if user.is_mechanic else None
    seen = Q(customer=user) | Q(workshop__owner=user) | Q(workshop__staff=user)
    if mechanic is not None:
        seen |= Q(assigned_mechanic=mechanic)
    return Visit.objects.filter(seen).distinct()


def access_visit(user: User, visit_id: int) -> Visit:
    visit = (
        visits_visible_to(user)
        .filter(pk=visit_id)
        .select_related("workshop", "customer", "assigned_mechanic__user", "session")
        .first()
    )
    if visit is None:
        raise NotFound(_("No such visit."))
    return visit


def visit_role(visit: Visit, user: User) -> str:
    """How `user` relates to a visit they can see: customer, workshop (staff, owner,
    admin) or mechanic (assigned)."""
    if visit.customer_id == user.pk:
        return "customer"
    if user.is_platform_admin or visit.workshop_id in staff_workshop_ids(user):
        return "workshop"
    return "mechanic"


# --------------------------------------------------------------------------- lists


def visits_for_customer(user: User) -> QuerySet[Visit]:
    return (
        Visit.objects.filter(customer=user)
        .select_related("workshop", "assigned_mechanic__user")
        .order_by("-starts_at")
    )


def visits_for_mechanic(user: User) -> QuerySet[Visit]:
    mechanic = getattr(user, "mechanic_profile", None)
    if mechanic is None:
        return Visit.objects.none()
    return (
        Visit.objects.filter(assigned_mechanic=mechanic)
        .select_related("workshop", "customer")
        .order_by("starts_at")
    )


TABS = {
    "pending": WAITING_STATUSES,
    "confirmed": (VisitStatus.CONFIRMED, VisitStatus.CHECKED_IN),
    "completed": (VisitStatus.COMPLETED,),
    "closed": (
        VisitStatus.DECLINED,
        VisitStatus.EXPIRED,
        VisitStatus.CANCELLED,
        VisitStatus.NO_SHOW,
    ),
}


def workshop_tab_counts(workshop_id: int) -> dict[str, int]:
    """Visits per tab of the Appointments page, in one query."""
    counts = dict(
        Visit.objects.filter(workshop_id=workshop_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {tab: sum(counts.get(s, 0) for s in statuses) for tab, statuses in TABS.items()}


def workshop_visits(workshop_id: int, tab: str) -> QuerySet[Visit]:
    statuses = TABS.get(tab, TABS["pending"])
    qs = Visit.objects.filter(workshop_id=workshop_id, status__in=statuses).select_related(
        "customer", "assigned_mechanic__user", "session"
    )
    return qs.order_by("-starts_at") if tab in ("completed", "closed") else qs


def board_visits(workshop_id: int, start: datetime, end: datetime) -> QuerySet[Visit]:
    """Confirmed and checked-in visits overlapping [start, end), for the bay board."""
    return (
        Visit.objects.filter(
            workshop_id=workshop_id,
            status__in=[VisitStatus.CONFIRMED, VisitStatus.CHECKED_IN, VisitStatus.COMPLETED],
            starts_at__lt=end,
            ends_at__gt=start,
        )
        .select_related("customer", "assigned_mechanic__user")
        .order_by("bay", "starts_at")
    )


# --------------------------------------------------------------------------- finding


@dataclass(frozen=True)
class NearbyWorkshop:
    workshop: Workshop
    basis: str  # "same area (FSA)", "same city", "same province", "elsewhere"
    rank: int
    mechanic_works_here: bool


def workshops_near(
    *, postal_code: str = "", city: str = "", mechanic_workshop_id: int | None = None
) -> list[NearbyWorkshop]:
    """Every workshop, nearest first by what we know without geocoding: the same
    forward sortation area (first three characters of the postal code), then the same
    city, then the same province, then the rest; ties by name. Two queries."""
    fsa = (postal_code or "").replace(" ", "").upper()[:3]
    province = province_of(fsa)
    city_key = (city or "").strip().casefold()
    found = []
    for workshop in Workshop.objects.prefetch_related("hours").order_by("name"):
        if fsa and workshop.fsa == fsa:
            rank, basis = 0, "same area"
        elif city_key and workshop.city.strip().casefold() == city_key:
            rank, basis = 1, "same city"
        elif province and province_of(workshop.postal_code) == province:
            rank, basis = 2, "same province"
        else:
            rank, basis = 3, "farther away"
        found.append(
            NearbyWorkshop(
                workshop=workshop,
                basis=basis,
                rank=rank,
                mechanic_works_here=mechanic_workshop_id == workshop.pk,
            )
        )
    found.sort(key=lambda n: (n.rank, not n.mechanic_works_here, n.workshop.name))
    return found


__all__ = [
    "HOLDING_STATUSES",
    "TABS",
    "access_visit",
    "bay_load",
    "board_visits",
    "holding_visits",
    "visit_role",
    "visits_for_customer",
    "visits_for_mechanic",
    "visits_visible_to",
    "workshop_tab_counts",
    "workshop_visits",
    "workshops_near",
]
