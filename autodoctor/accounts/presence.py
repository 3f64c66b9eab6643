"""Mechanic presence: when a mechanic was last seen, and their own "available for
start-now / away" switch (plan §5.3: being available is the mechanic's choice). Matching
scores from it (plan §3.2: online now / last 30 min / last hour / today = 50/30/20/10).

`is_online` is the switch; `last_seen_at` is written by web.middleware.PresenceMiddleware
on every signed-in page request of a mechanic (the pages' heartbeat included), at most once
a minute.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import MechanicProfile

SEEN_WRITE_EVERY = timedelta(minutes=1)
# The pages ping every 45 s: seen within two pings (plus slack) is "online now".
ONLINE_WINDOW = timedelta(minutes=2)


@dataclass(frozen=True)
class Presence:
    points: int
    # In plain words, for the mechanic's own page and matching's reasons: translated into
    # the language active where it is shown.
    label: str | Promise


AWAY = Presence(0, _("away"))
NOT_SEEN = Presence(0, "")


def presence_of(
    *, available: bool, last_seen_at: datetime | None, now: datetime, zone: ZoneInfo
) -> Presence:
    """The plan's presence factor for a mechanic. Away (their switch off) scores nothing:
    they said they are not there for start-now requests. `zone` decides "today"."""
    if not available:
        return AWAY
    if last_seen_at is None:
        return NOT_SEEN
    ago = now - last_seen_at
    if ago <= ONLINE_WINDOW:
        return Presence(50, _("online now"))
    if ago <= timedelta(minutes=30):
        return Presence(30, _("online in the last 30 minutes"))
    if ago <= timedelta(hours=1):
        return Presence(20, _("online in the last hour"))
    if last_seen_at.astimezone(zone).date() == now.astimezone(zone).date():
        return Presence(10, _("online today"))
    return NOT_SEEN


def mechanic_presence(mechanic: MechanicProfile, *, now: datetime | None = None) -> Presence:
    return presence_of(
        available=mechanic.is_online,
        last_seen_at=mechanic.last_seen_at,
        now=now or timezone.now(),
        zone=mechanic.user.zone,
    )


def mechanic_seen(*, user_id: int, now: datetime | None = None) -> bool:
    """Record that the mechanic of this user is here. One conditional UPDATE that writes
    only when the last write is SEEN_WRITE_EVERY old, so racing requests write at most
    once and most requests write nothing. True when it wrote."""
    now = now or timezone.now()
    return (
        MechanicProfile.objects.filter(user_id=user_id)
        .filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - SEEN_WRITE_EVERY))
        .update(last_seen_at=now)
        == 1
    )


def mechanic_availability_set(
    *, mechanic: MechanicProfile, available: bool, now: datetime | None = None
) -> MechanicProfile:
    """The mechanic's own switch: available for start-now requests, or away. Flipping it
    is also a sign of life, so it counts as being seen."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        MechanicProfile.objects.filter(pk=mechanic.pk).update(is_online=available, last_seen_at=now)
    mechanic.is_online, mechanic.last_seen_at = available, now
    return mechanic
