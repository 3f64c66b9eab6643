"""A person's own profile (writes): name, time zone, phone with SMS opt-in, city and
postal code, and a customer's vehicles (plan §1.1 customer_profiles, vehicles).

Every input is checked before anything is written; one transaction per call.
The SMS opt-in is the notification preference `sms_enabled` (one switch, also on the
notification settings page).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from autodoctor.errors import InvalidInput, NotFound

from .models import CustomerProfile, MechanicProfile, User, Vehicle
from .registration import check_language, check_name, check_zone
from .validators import check_vehicle_year, normal_phone, normal_postal_code, normal_vin


@dataclass(frozen=True)
class ProfileChanges:
    full_name: str | None = None
    time_zone: str | None = None
    language: str | None = None
    phone: str | None = None
    sms_opt_in: bool | None = None
    city: str | None = None
    postal_code: str | None = None


def _city(raw: str) -> str:
    city = " ".join((raw or "").split())
    if len(city) > 100:
        raise InvalidInput(_("The city name is longer than 100 characters."), field="city")
    return city


def profile_update(*, user: User, changes: ProfileChanges) -> User:
    """Apply the given fields (None = leave as is). Phone and SMS belong to customers."""
    from autodoctor.notifications.models import NotificationPreference

    name = check_name(changes.full_name) if changes.full_name is not None else None
    zone = check_zone(changes.time_zone) if changes.time_zone is not None else None
    language = check_language(changes.language) if changes.language is not None else None
    phone = normal_phone(changes.phone) if changes.phone is not None else None
    city = _city(changes.city) if changes.city is not None else None
    postal = normal_postal_code(changes.postal_code) if changes.postal_code is not None else None
    if (phone is not None or changes.sms_opt_in) and not user.is_customer:
        raise InvalidInput(
            _("Only customers can add a phone number for text messages."), field="phone"
        )
    with transaction.atomic(durable=True):
        user = User.objects.select_for_update().get(pk=user.pk)
        fields = []
        if name is not None:
            user.full_name, fields = name, [*fields, "full_name"]
        if zone is not None:
            user.time_zone, fields = zone, [*fields, "time_zone"]
        if language is not None:
            user.language, fields = language, [*fields, "language"]
        if fields:
            user.save(update_fields=fields)
        place: CustomerProfile | MechanicProfile | None = None
        if user.is_customer:
            place, _created = CustomerProfile.objects.get_or_create(user=user)
            if phone is not None:
                place.phone = phone
        elif user.is_mechanic:
            place = MechanicProfile.objects.filter(user=user).first()
        if place is not None:
            if city is not None:
                place.city = city
            if postal is not None:
                place.postal_code = postal
            place.save()
        if changes.sms_opt_in is not None and user.is_customer:
            assert isinstance(place, CustomerProfile)
            if changes.sms_opt_in and not place.phone:
                raise InvalidInput(
                    _("Add a phone number to get text messages."), field="sms_opt_in"
                )
            NotificationPreference.objects.update_or_create(
                user=user, defaults={"sms_enabled": changes.sms_opt_in}
            )
        elif user.is_customer and phone == "":
            # No number, no texts.
            NotificationPreference.objects.filter(user=user).update(sms_enabled=False)
    return user


# --------------------------------------------------------------------------- vehicles


@dataclass(frozen=True)
class VehicleFacts:
    year: int
    make: str
    model: str
    vin: str = ""


def _vehicle_checked(facts: VehicleFacts, *, now: datetime) -> VehicleFacts:
    year = check_vehicle_year(facts.year, now=now)
    make = " ".join((facts.make or "").split())
    model = " ".join((facts.model or "").split())
    if not make:
        raise InvalidInput(_("Enter the make (e.g. Honda)."), field="make")
    if not model:
        raise InvalidInput(_("Enter the model (e.g. Civic)."), field="model")
    if len(make) > 50:
        raise InvalidInput(_("The make is longer than 50 characters."), field="make")
    if len(model) > 50:
        raise InvalidInput(_("The model is longer than 50 characters."), field="model")
    return VehicleFacts(year=year, make=make, model=model, vin=normal_vin(facts.vin))


def _customer_profile(user: User) -> CustomerProfile:
    if not user.is_customer:
        raise InvalidInput(_("Only customers keep vehicles."), field="vehicle")
    profile, _created = CustomerProfile.objects.get_or_create(user=user)
    return profile


def vehicle_add(*, user: User, facts: VehicleFacts, now: datetime | None = None) -> Vehicle:
    checked = _vehicle_checked(facts, now=now or timezone.now())
    with transaction.atomic(durable=True):
        return Vehicle.objects.create(
            customer=_customer_profile(user),
            year=checked.year,
            make=checked.make,
            model=checked.model,
            vin=checked.vin,
        )


def access_vehicle(user: User, vehicle_id: int, *, for_update: bool = False) -> Vehicle:
    """One of the user's vehicles; someone else's and a missing one are both NotFound."""
    qs = Vehicle.objects.filter(pk=vehicle_id, customer__user=user)
    vehicle = (qs.select_for_update() if for_update else qs).first()
    if vehicle is None:
        raise NotFound(_("No such vehicle."))
    return vehicle


def vehicle_update(
    *, user: User, vehicle_id: int, facts: VehicleFacts, now: datetime | None = None
) -> Vehicle:
    checked = _vehicle_checked(facts, now=now or timezone.now())
    with transaction.atomic(durable=True):
        vehicle = access_vehicle(user, vehicle_id, for_update=True)
        vehicle.year, vehicle.make, vehicle.model, vehicle.vin = (
            checked.year,
            checked.make,
            checked.model,
            checked.vin,
        )
        vehicle.save()
    return vehicle


def vehicle_remove(*, user: User, vehicle_id: int) -> None:
    """Past sessions keep the vehicle's label ("2018 Honda Civic") after it is removed."""
    with transaction.atomic(durable=True):
        access_vehicle(user, vehicle_id, for_update=True).delete()
