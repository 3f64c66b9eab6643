"""Forms of the account pages: they parse and render; the rules are in the services
(registration, profiles, mechanics, workshops, privacy), whose InvalidInput lands on the
field it names (`add_domain_error`)."""

import zoneinfo
from functools import cache

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms

from autodoctor.errors import DomainError

from .models import InvitationKind, PartnershipType


@cache
def zone_choices() -> list[tuple[str, str]]:
    names = sorted(z for z in zoneinfo.available_timezones() if "/" in z and "Etc" not in z)
    canada = [z for z in names if z.startswith("America/")]
    rest = [z for z in names if not z.startswith("America/")]
    return [(z, z.replace("_", " ")) for z in canada + rest]


class ZoneField(forms.ChoiceField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(choices=zone_choices, label="Time zone", **kwargs)  # type: ignore[arg-type]
        # static/accounts/zone.js fills this from the browser when the page opens.
        self.widget.attrs.update({"data-suggest-zone": "true"})


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a service's refusal on the field it names (or above the form)."""
    field = exc.data.get("field")
    form.add_error(field if field in form.fields else None, exc.message)


class SignupForm(forms.Form):
    full_name = forms.CharField(max_length=150, label="Your name")
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common or all-digit password.",
    )
    role = forms.ChoiceField(
        choices=[("customer", "I own a car and want advice"), ("mechanic", "I am a mechanic")],
        widget=forms.RadioSelect,
        initial="customer",
        label="I am signing up as",
    )
    time_zone = ZoneField(initial=settings.DEFAULT_DISPLAY_ZONE)


class ProfileForm(forms.Form):
    full_name = forms.CharField(max_length=150, label="Name")
    time_zone = ZoneField()
    city = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=10, required=False, label="Postal code")
    phone = forms.CharField(
        max_length=20,
        required=False,
        label="Phone",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    sms_opt_in = forms.BooleanField(
        required=False, label="Text me about my bookings (SMS; standard rates may apply)"
    )


class VehicleForm(forms.Form):
    year = forms.IntegerField(min_value=1900, max_value=2100)
    make = forms.CharField(max_length=50)
    model = forms.CharField(max_length=50)
    vin = forms.CharField(
        max_length=24, required=False, label="VIN (optional)", help_text="17 characters"
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        label="Your password",
    )


class ApplicationForm(forms.Form):
    years_experience = forms.IntegerField(min_value=0, max_value=70, label="Years of experience")
    brands = forms.CharField(
        max_length=1000, required=False, help_text="Comma separated, e.g. Honda, Toyota"
    )
    specialties = forms.CharField(
        max_length=1000, required=False, help_text="Comma separated, e.g. brakes, electrical"
    )
    languages = forms.CharField(
        max_length=1000,
        required=False,
        help_text="Languages you speak with customers, comma separated, e.g. English, French",
    )
    bio = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 4}))
    photo = forms.FileField(
        required=False, help_text="JPEG, PNG or WebP, up to 5 MB; we resize it to 512 pixels."
    )
    city = forms.CharField(max_length=100)
    postal_code = forms.CharField(max_length=10, label="Postal code")
    time_zone = ZoneField()
    work_mode = forms.ChoiceField(
        choices=[
            ("virtual", "Virtual only: remote sessions in the hours I set"),
            ("independent", "I own and run a workshop"),
            ("affiliated", "I work with a workshop that invited me (it sets my hours)"),
        ],
        widget=forms.RadioSelect,
        label="How I work",
    )
    shop_name = forms.CharField(max_length=200, required=False, label="Workshop name")
    shop_address = forms.CharField(max_length=255, required=False, label="Workshop address")
    shop_city = forms.CharField(max_length=100, required=False, label="Workshop city")
    shop_postal_code = forms.CharField(max_length=10, required=False, label="Workshop postal code")
    invitation_token = forms.CharField(max_length=128, required=False, widget=forms.HiddenInput)

    @staticmethod
    def split(raw: str) -> list[str]:
        return [part.strip() for part in (raw or "").split(",") if part.strip()]


class WorkshopForm(forms.Form):
    name = forms.CharField(max_length=200)
    address = forms.CharField(max_length=255, required=False)
    city = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=10, required=False, label="Postal code")
    time_zone = ZoneField()
    bays = forms.IntegerField(min_value=1, max_value=50, label="Bays (appointments at once)")
    payout_account_id = forms.CharField(
        max_length=100, required=False, label="Payout account", help_text="e.g. acct_…"
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(max_length=254)
    kind = forms.ChoiceField(choices=InvitationKind.choices, label="As")
    partnership_type = forms.ChoiceField(
        choices=[("", "—")]
        + [(c, label) for c, label in PartnershipType.choices if c in ("employee", "contractor")],
        required=False,
        label="Mechanics: employee or contractor",
    )


class InvitationSignupForm(forms.Form):
    full_name = forms.CharField(max_length=150, label="Your name")
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    time_zone = ZoneField(initial=settings.DEFAULT_DISPLAY_ZONE)


class ResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, but the email goes through our outbox (registration.
    password_reset_send), with the link minted when it is sent. Unknown addresses get
    the same "check your inbox" page and no email (no enumeration)."""

    def send_mail(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        from .registration import password_reset_send

        context = args[2] if len(args) > 2 else kwargs["context"]
        password_reset_send(user=context["user"])  # type: ignore[index]
