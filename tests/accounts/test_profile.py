"""Profile, phone with SMS opt-in, time zone, postal code, vehicles with VIN check digit
(issue 14 item 1), on pages and through GET/PUT /api/me."""

import pytest

from autodoctor.accounts import profiles
from autodoctor.accounts.models import Vehicle
from autodoctor.accounts.validators import normal_phone, normal_postal_code, normal_vin
from autodoctor.errors import InvalidInput, NotFound
from autodoctor.notifications.selectors import preference_for
from tests.factories import CustomerFactory, MechanicFactory, VehicleFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db

GOOD_VIN = "1M8GDM9AXKP042788"  # check digit X


@pytest.fixture
def casey(db):
    return CustomerFactory(phone="").user


def test_vin_check_digit_is_verified():
    assert normal_vin(" 1m8gdm9axkp-042788 ") == GOOD_VIN
    assert normal_vin("") == ""
    for bad, words in [
        ("1M8GDM9A1KP042788", "check digit"),
        ("1M8GDM9AXKP04278", "17 characters"),
        ("1M8GDM9AXKP04278O", "except I, O and Q"),
    ]:
        with pytest.raises(InvalidInput, match=words):
            normal_vin(bad)


def test_postal_codes_and_phones_get_one_normal_form():
    assert normal_postal_code("m5v2t6") == "M5V 2T6"
    assert normal_phone("(416) 555-0100") == "+14165550100"
    assert normal_phone("+44 20 7946 0958") == "+442079460958"
    with pytest.raises(InvalidInput):
        normal_postal_code("12345")
    with pytest.raises(InvalidInput):
        normal_phone("call me")


def test_profile_update_sets_phone_sms_zone_and_postal_code(casey):
    profiles.profile_update(
        user=casey,
        changes=profiles.ProfileChanges(
            full_name="Casey  Car",
            time_zone="America/Winnipeg",
            phone="416 555 0100",
            sms_opt_in=True,
            postal_code="r3c4t3",
            city="Winnipeg",
        ),
    )
    casey.refresh_from_db()
    assert (casey.full_name, casey.time_zone) == ("Casey Car", "America/Winnipeg")
    assert casey.customer_profile.phone == "+14165550100"
    assert casey.customer_profile.postal_code == "R3C 4T3"
    assert preference_for(casey).sms_enabled


def test_sms_needs_a_phone_and_a_refusal_writes_nothing(casey):
    with pytest.raises(InvalidInput) as refused:
        profiles.profile_update(
            user=casey, changes=profiles.ProfileChanges(full_name="New", sms_opt_in=True)
        )
    assert refused.value.data["field"] == "sms_opt_in"
    casey.refresh_from_db()
    assert casey.full_name != "New" and not preference_for(casey).sms_enabled


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Nowhere/Else"}, "time_zone"),
        ({"postal_code": "90210"}, "postal_code"),
        ({"phone": "12"}, "phone"),
        ({"full_name": ""}, "full_name"),
        ({"city": "x" * 101}, "city"),
    ],
)
def test_bad_profile_input_names_the_field(casey, changes, field):
    with pytest.raises(InvalidInput) as refused:
        profiles.profile_update(user=casey, changes=profiles.ProfileChanges(**changes))
    assert refused.value.data["field"] == field


def test_vehicles_are_added_edited_and_removed_by_their_owner_only(casey):
    vehicle = profiles.vehicle_add(
        user=casey,
        facts=profiles.VehicleFacts(year=2019, make=" Ford ", model="F-150", vin=GOOD_VIN),
        now=NOW,
    )
    assert (vehicle.make, vehicle.vin) == ("Ford", GOOD_VIN)
    other = CustomerFactory().user
    with pytest.raises(NotFound):
        profiles.vehicle_update(
            user=other,
            vehicle_id=vehicle.pk,
            facts=profiles.VehicleFacts(year=2020, make="X", model="Y"),
            now=NOW,
        )
    with pytest.raises(NotFound):
        profiles.vehicle_remove(user=other, vehicle_id=vehicle.pk)
    profiles.vehicle_remove(user=casey, vehicle_id=vehicle.pk)
    assert not Vehicle.objects.exists()


@pytest.mark.parametrize(
    ("facts", "field"),
    [
        ({"year": 1899}, "year"),
        ({"year": 2028}, "year"),
        ({"make": ""}, "make"),
        ({"vin": "1M8GDM9A1KP042788"}, "vin"),
    ],
)
def test_bad_vehicles_are_refused_naming_the_field(casey, facts, field):
    data = {"year": 2018, "make": "Honda", "model": "Civic", **facts}
    with pytest.raises(InvalidInput) as refused:
        profiles.vehicle_add(user=casey, facts=profiles.VehicleFacts(**data), now=NOW)
    assert refused.value.data["field"] == field
    assert not Vehicle.objects.exists()


def test_mechanics_keep_no_vehicles():
    mechanic = MechanicFactory().user
    with pytest.raises(InvalidInput):
        profiles.vehicle_add(
            user=mechanic, facts=profiles.VehicleFacts(year=2018, make="A", model="B"), now=NOW
        )


# --------------------------------------------------------------------------- pages


def test_the_profile_page_shows_details_vehicles_security_and_data(casey, login):
    VehicleFactory(customer=casey.customer_profile, vin=GOOD_VIN)
    text = login(casey).get("/profile/").content.decode()
    for words in (
        "Your details",
        "2018 Honda Civic",
        GOOD_VIN,
        "Log out everywhere",
        "Change my password",
        "Download my data",
        "Delete my account",
        "email confirmed",
        'src="/static/accounts/zone.js"',
    ):
        assert words in text, words
    assert "<script>" not in text  # no inline script (CSP)


def test_adding_a_vehicle_with_a_bad_vin_shows_the_reason_and_adds_nothing(casey, login):
    response = login(casey).post(
        "/accounts/vehicles/",
        {"year": "2018", "make": "Honda", "model": "Civic", "vin": "1M8GDM9A1KP042788"},
    )
    assert response.status_code == 422
    assert "check digit is wrong" in response.content.decode()
    assert not Vehicle.objects.exists()


def test_saving_the_profile_page(casey, login):
    client = login(casey)
    response = client.post(
        "/accounts/profile/",
        {
            "full_name": "Casey Car",
            "time_zone": "America/Halifax",
            "city": "Halifax",
            "postal_code": "b3h1y6",
            "phone": "902-555-0100",
            "sms_opt_in": "on",
        },
        follow=True,
    )
    assert "Profile saved" in response.content.decode()
    assert "America/Halifax" in response.content.decode()
    bad = client.post(
        "/accounts/profile/",
        {"full_name": "Casey", "time_zone": "America/Halifax", "postal_code": "nope"},
    )
    assert bad.status_code == 422 and "Canadian postal code" in bad.content.decode()


def test_another_customers_vehicle_page_is_not_found(casey, login):
    vehicle = VehicleFactory()
    assert login(casey).get(f"/accounts/vehicles/{vehicle.pk}/").status_code == 404


# --------------------------------------------------------------------------- API


def test_api_me_reads_and_updates_the_profile_and_vehicles(casey, login):
    client = login(casey)
    me = client.get("/api/me").json()
    assert me["email_verified"] and me["vehicles"] == [] and me["mechanic_type"] is None
    updated = client.put(
        "/api/me",
        {"phone": "4165550100", "sms_opt_in": True, "postal_code": "m4c1b5"},
        content_type="application/json",
    ).json()
    assert (updated["phone"], updated["sms_opt_in"], updated["postal_code"]) == (
        "+14165550100",
        True,
        "M4C 1B5",
    )
    added = client.post(
        "/api/me/vehicles",
        {"year": 2020, "make": "Toyota", "model": "RAV4", "vin": GOOD_VIN},
        content_type="application/json",
    )
    assert added.status_code == 201
    vid = added.json()["id"]
    assert client.get("/api/me").json()["vehicles"][0]["vin"] == GOOD_VIN
    bad = client.put(
        f"/api/me/vehicles/{vid}",
        {"year": 2020, "make": "Toyota", "model": "RAV4", "vin": "123"},
        content_type="application/json",
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "vin")
    assert client.delete(f"/api/me/vehicles/{vid}").status_code == 204
    other = VehicleFactory()
    assert client.delete(f"/api/me/vehicles/{other.pk}").status_code == 404
    bad_zone = client.put("/api/me", {"time_zone": "X/Y"}, content_type="application/json")
    assert (bad_zone.status_code, bad_zone.json()["field"]) == (422, "time_zone")
