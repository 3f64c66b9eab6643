"""The search page's GET form: what the customer may filter by, parsed to a MechanicQuery."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy

from autodoctor.accounts.models import User
from autodoctor.availability.forms import parse_instant
from autodoctor.errors import InvalidInput

from .selectors import DEFAULT_MINUTES, SESSION_MINUTES, MechanicQuery

TEXT_MAX = 50
RATING_CHOICES = [
    ("", gettext_lazy("Any rating")),
    ("3", gettext_lazy("3 and up")),
    ("4", gettext_lazy("4 and up")),
    ("4.5", gettext_lazy("4.5 and up")),
]


class SearchForm(forms.Form):
    brand = forms.CharField(
        max_length=TEXT_MAX, required=False, widget=forms.TextInput({"placeholder": "Honda"})
    )
    keyword = forms.CharField(
        label=gettext_lazy("Specialty"),
        max_length=TEXT_MAX,
        required=False,
        widget=forms.TextInput({"placeholder": "brakes"}),
    )
    place = forms.CharField(
        label=gettext_lazy("City or postal code"),
        max_length=TEXT_MAX,
        required=False,
        widget=forms.TextInput({"placeholder": "Toronto or M4C"}),
    )
    language = forms.CharField(
        max_length=TEXT_MAX, required=False, widget=forms.TextInput({"placeholder": "French"})
    )
    min_rating = forms.ChoiceField(
        label=gettext_lazy("Rating"), choices=RATING_CHOICES, required=False
    )
    free_at = forms.CharField(
        label=gettext_lazy("Free at"),
        required=False,
        max_length=40,
        widget=forms.DateTimeInput({"type": "datetime-local"}),
        help_text=gettext_lazy("Your time zone"),
    )
    minutes = forms.TypedChoiceField(
        label=gettext_lazy("For"),
        coerce=int,
        choices=[(m, f"{m} min") for m in SESSION_MINUTES],
        initial=DEFAULT_MINUTES,
        required=False,
        empty_value=DEFAULT_MINUTES,
    )
    page = forms.IntegerField(
        min_value=1, max_value=10_000, required=False, widget=forms.HiddenInput
    )

    def query(self, user: User) -> MechanicQuery:
        """The MechanicQuery of a valid form; InvalidInput naming the field otherwise."""
        if not self.is_valid():
            field, errors = next(iter(self.errors.items()))
            raise InvalidInput(f"{self[field].label}: {errors[0]}", field=field)
        data = self.cleaned_data
        free_at = data["free_at"].strip()
        return MechanicQuery(
            brand=data["brand"],
            keyword=data["keyword"],
            place=data["place"],
            language=data["language"],
            min_rating=Decimal(data["min_rating"]) if data["min_rating"] else None,
            free_at=parse_instant(free_at, zone=user.time_zone, field="free_at")
            if free_at
            else None,
            minutes=data["minutes"] or DEFAULT_MINUTES,
            page=data["page"] or 1,
        )
