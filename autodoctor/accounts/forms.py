"""Forms of the account pages: they parse and render; the rules are in the services
(registration, profiles, mechanics, workshops, privacy), whose InvalidInput lands on the
field it names (`add_domain_error`)."""

import zoneinfo
from functools import cache

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

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
        super().__init__(choices=zone_choices, label=_("Time zone"), **kwargs)  # type: ignore[arg-type]
        # static/accounts/zone.js fills this from the browser when the page opens.
        self.widget.attrs.update({"data-suggest-zone": "true"})


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a service's refusal on the field it names (or above the form)."""
    field = exc.data.get("field")
    form.add_error(field if field in form.fields else None, exc.message)


class LanguageField(forms.ChoiceField):
    """Français / English: the language of this person's pages, emails, SMS and calendar
    files (User.language). Each language is named in itself."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", gettext_lazy("Language"))
        # Optional: a post without it (an older form, a script) keeps the current language.
        kwargs.setdefault("required", False)
        super().__init__(choices=settings.LANGUAGES, **kwargs)


class SignupForm(forms.Form):
    full_name = forms.CharField(max_length=150, label=gettext_lazy("Your name"))
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("At least 8 characters; not a common or all-digit password."),
    )
    role = forms.ChoiceField(
        choices=[
            ("customer", gettext_lazy("I own a car and want advice")),
            ("mechanic", gettext_lazy("I am a mechanic")),
        ],
        widget=forms.RadioSelect,
        initial="customer",
        label=gettext_lazy("I am signing up as"),
    )
    time_zone = ZoneField(initial=settings.DEFAULT_DISPLAY_ZONE)
    # The sign-up view preselects the browser's language (LocaleMiddleware's pick).
    language = LanguageField()


class ProfileForm(forms.Form):
    full_name = forms.CharField(max_length=150, label=gettext_lazy("Name"))
    time_zone = ZoneField()
    language = LanguageField()
    city = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=10, required=False, label=gettext_lazy("Postal code"))
    phone = forms.CharField(
        max_length=20,
        required=False,
        label=gettext_lazy("Phone"),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    sms_opt_in = forms.BooleanField(
        required=False,
        label=gettext_lazy("Text me about my bookings (SMS; standard rates may apply)"),
    )


class VehicleForm(forms.Form):
    year = forms.IntegerField(min_value=1900, max_value=2100)
    make = forms.CharField(max_length=50)
    model = forms.CharField(max_length=50)
    vin = forms.CharField(
        max_length=24,
        required=False,
        label=gettext_lazy("VIN (optional)"),
        help_text=gettext_lazy("17 characters"),
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        label=gettext_lazy("Your password"),
    )


class ApplicationForm(forms.Form):
    years_experience = forms.IntegerField(
        min_value=0, max_value=70, label=gettext_lazy("Years of experience")
    )
    brands = forms.CharField(
        max_length=1000,
        required=False,
        help_text=gettext_lazy("Comma separated, e.g. Honda, Toyota"),
    )
    specialties = forms.CharField(
        max_length=1000,
        required=False,
        help_text=gettext_lazy("Comma separated, e.g. brakes, electrical"),
    )
    languages = forms.CharField(
        max_length=1000,
        required=False,
        help_text=gettext_lazy(
            "Languages you speak with customers, comma separated, e.g. English, French"
        ),
    )
    bio = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 4}))
    photo = forms.FileField(
        required=False,
        help_text=gettext_lazy("JPEG, PNG or WebP, up to 5 MB; we resize it to 512 pixels."),
    )
    city = forms.CharField(max_length=100)
    postal_code = forms.CharField(max_length=10, label=gettext_lazy("Postal code"))
    time_zone = ZoneField()
    work_mode = forms.ChoiceField(
        choices=[
            ("virtual", gettext_lazy("Virtual only: remote sessions in the hours I set")),
            ("independent", gettext_lazy("I own and run a workshop")),
            (
                "affiliated",
                gettext_lazy("I work with a workshop that invited me (it sets my hours)"),
            ),
        ],
        widget=forms.RadioSelect,
        label=gettext_lazy("How I work"),
    )
    shop_name = forms.CharField(max_length=200, required=False, label=gettext_lazy("Workshop name"))
    shop_address = forms.CharField(
        max_length=255, required=False, label=gettext_lazy("Workshop address")
    )
    shop_city = forms.CharField(max_length=100, required=False, label=gettext_lazy("Workshop city"))
    shop_postal_code = forms.CharField(
        max_length=10, required=False, label=gettext_lazy("Workshop postal code")
    )
    invitation_token = forms.CharField(max_length=128, required=False, widget=forms.HiddenInput)

    @staticmethod
    def split(raw: str) -> list[str]:
        return [part.strip() for part in (raw or "").split(",") if part.strip()]


class WorkshopForm(forms.Form):
    name = forms.CharField(max_length=200)
    address = forms.CharField(max_length=255, required=False)
    city = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=10, required=False, label=gettext_lazy("Postal code"))
    time_zone = ZoneField()
    bays = forms.IntegerField(
        min_value=1, max_value=50, label=gettext_lazy("Bays (appointments at once)")
    )
    payout_account_id = forms.CharField(
        max_length=100,
        required=False,
        label=gettext_lazy("Payout account"),
        help_text=gettext_lazy("e.g. acct_…"),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(max_length=254)
    kind = forms.ChoiceField(choices=InvitationKind.choices, label=gettext_lazy("As"))
    partnership_type = forms.ChoiceField(
        choices=[("", "—")]
        + [(c, label) for c, label in PartnershipType.choices if c in ("employee", "contractor")],
        required=False,
        label=gettext_lazy("Mechanics: employee or contractor"),
    )


class InvitationSignupForm(forms.Form):
    full_name = forms.CharField(max_length=150, label=gettext_lazy("Your name"))
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
