"""Forms of the booking pages. They parse input only; the rules (concern length,
availability, cut-offs) live in the services and come back as DomainErrors."""

from datetime import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from autodoctor.accounts.models import Vehicle

from .attachments import ACCEPT as ATTACHMENT_ACCEPT
from .models import CANCELLATION_REASON_MAX, CONCERN_MAX, Plan, SessionType

NEW_VEHICLE = "new"


class VehicleForm(forms.Form):
    vehicle = forms.ChoiceField(widget=forms.RadioSelect, label=gettext_lazy("Which vehicle?"))
    year = forms.IntegerField(min_value=1900, max_value=2100, required=False)
    make = forms.CharField(max_length=50, required=False)
    model = forms.CharField(max_length=50, required=False)

    def __init__(self, *args: object, vehicles: list[Vehicle], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.vehicles = {str(v.pk): v for v in vehicles}
        self.fields["vehicle"].choices = [(str(v.pk), str(v)) for v in vehicles] + [
            (NEW_VEHICLE, _("Another vehicle"))
        ]

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("vehicle") == NEW_VEHICLE:
            for name in ("year", "make", "model"):
                if not data.get(name):
                    self.add_error(name, _("Needed for another vehicle."))
        return data

    def answers(self) -> dict:
        data = self.cleaned_data
        vehicle = self.vehicles.get(data["vehicle"])
        if vehicle is not None:
            return {"vehicle_id": vehicle.pk, "vehicle_label": str(vehicle), "brand": vehicle.make}
        make = data["make"].strip()
        return {
            "vehicle_id": None,
            "vehicle_label": f"{data['year']} {make} {data['model'].strip()}",
            "brand": make,
        }


class PlanForm(forms.Form):
    plan = forms.ChoiceField(widget=forms.RadioSelect, label=gettext_lazy("Plan"))
    session_type = forms.ChoiceField(
        choices=[c for c in SessionType.choices if c[0] != SessionType.DIAGNOSTIC],
        initial=SessionType.VIDEO,
        widget=forms.RadioSelect,
        label=gettext_lazy("How do you want to talk?"),
    )

    def __init__(self, *args: object, plans: list[Plan], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["plan"].choices = [(p.code, p.title) for p in plans]


class WhenForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[
            ("now", gettext_lazy("Start now")),
            ("scheduled", gettext_lazy("Schedule for later")),
        ],
        initial="now",
        widget=forms.RadioSelect,
    )
    start = forms.CharField(required=False)

    def clean_start(self) -> datetime | None:
        raw = self.cleaned_data.get("start") or ""
        if not raw:
            return None
        return parse_start(raw)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("mode") == "scheduled" and not data.get("start") and "start" not in self.errors:
            self.add_error("start", _("Pick a day, then one of its free times."))
        return data


class MechanicForm(forms.Form):
    mechanic = forms.ChoiceField(widget=forms.RadioSelect, label=gettext_lazy("Mechanic"))

    def __init__(self, *args: object, choices: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["mechanic"].choices = choices


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by booking/attachments.py, which
    decides by content (the browser's `accept` list is only a hint)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ATTACHMENT_ACCEPT}))
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def clean(self, data: object, initial: object = None) -> list:
        one = super().clean
        if isinstance(data, list | tuple):
            return [one(item, initial) for item in data]
        return [one(data, initial)] if data else []


class ConcernForm(forms.Form):
    concern = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        label=gettext_lazy("What is going on with the car?"),
        required=False,
        max_length=CONCERN_MAX,
    )
    attachments = MultipleFileField(
        required=False, label=gettext_lazy("Photos or a short video (optional)")
    )


class AttachmentsForm(forms.Form):
    attachments = MultipleFileField(label=gettext_lazy("Add photos or a short video"))


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=CANCELLATION_REASON_MAX, required=False, label=gettext_lazy("Reason")
    )


class RescheduleForm(forms.Form):
    start = forms.CharField(label=gettext_lazy("New time"))

    def clean_start(self) -> datetime:
        return parse_start(self.cleaned_data["start"])


def parse_start(raw: str) -> datetime:
    """An offered slot start (ISO 8601 with offset) back to an aware datetime."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise forms.ValidationError(_("That is not a time we offered; pick one again.")) from None
    if timezone.is_naive(value):
        raise forms.ValidationError(_("That time has no zone; pick one again."))
    return value


class WaitlistJoinForm(forms.Form):
    """The waitlist's answers beyond the wizard's (vehicle, plan, how to talk)."""

    mechanic = forms.ChoiceField(widget=forms.RadioSelect, label=gettext_lazy("With"))
    first_day = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    last_day = forms.DateField(
        label=gettext_lazy("Until"), widget=forms.DateInput(attrs={"type": "date"})
    )
    concern = forms.CharField(
        max_length=CONCERN_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=gettext_lazy("What is the problem?"),
    )

    def __init__(self, *args: object, mechanics: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["mechanic"].choices = mechanics
