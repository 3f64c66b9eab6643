"""Forms of the analytics pages and API: they parse input only; the rules live in
services and metrics. The pages and `GET /api/analytics/...` read their period and
filters through the same forms, so both accept the same values."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import RATING_COMMENT_MAX, RATING_MAX, RATING_MIN


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        coerce=int,
        choices=[(n, str(n)) for n in range(RATING_MAX, RATING_MIN - 1, -1)],
        widget=forms.RadioSelect,
        label=gettext_lazy("Your rating (5 is best)"),
    )
    comment = forms.CharField(
        max_length=RATING_COMMENT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=gettext_lazy("Comment (optional)"),
    )


PERIOD_CHOICES = (7, 30, 90)
MAX_PERIOD_DAYS = 400


class PeriodForm(forms.Form):
    """The dashboards' period: the last 7/30/90 days (`days`), or a custom range of local
    dates `from`–`to` (both included, at most MAX_PERIOD_DAYS days) in the viewer's zone."""

    days = forms.TypedChoiceField(
        coerce=int, choices=[(d, f"Last {d} days") for d in PERIOD_CHOICES], required=False
    )
    start = forms.DateField(label=gettext_lazy("From"), required=False)
    end = forms.DateField(label=gettext_lazy("To"), required=False)

    def __init__(self, data, **kwargs) -> None:
        # `from` / `to` in the query string: `from` is a Python keyword, hence the mapping.
        data = {"days": data.get("days"), "start": data.get("from"), "end": data.get("to")}
        super().__init__(data, **kwargs)

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if self.errors:
            return cleaned
        if (start is None) != (end is None):
            raise forms.ValidationError(_("Give both dates of a custom range, or neither."))
        if start is not None and end is not None:
            if end < start:
                raise forms.ValidationError(_("The range must end on or after its first day."))
            if (end - start).days + 1 > MAX_PERIOD_DAYS:
                raise forms.ValidationError(
                    _("A custom range is at most %(max)s days; this one has %(days)s.")
                    % {"max": MAX_PERIOD_DAYS, "days": (end - start).days + 1}
                )
        return cleaned


class ApiPeriodForm(PeriodForm):
    """The API's period: as the page's, but `days` is any whole number up to a year
    (the API has always taken `?days=N`)."""

    days = forms.IntegerField(min_value=1, max_value=366, required=False)


def period_from(form: PeriodForm, *, now: datetime, zone: str):
    """A valid form's period: the custom range from local midnight of its first day to
    local midnight after its last day in `zone`, or the last N days up to now (default
    30; also when the form has errors, which the page shows)."""
    from .metrics import Period

    data = form.cleaned_data if form.is_valid() else {}
    if data.get("start") and data.get("end"):
        tz = ZoneInfo(zone)
        first = datetime.combine(data["start"], time(0), tz)
        after = datetime.combine(data["end"] + timedelta(days=1), time(0), tz)
        return Period(first.astimezone(UTC), after.astimezone(UTC))
    return Period.last_days(data.get("days") or 30, now=now)


def _province_choices() -> list[tuple[str, str]]:
    from autodoctor.workshops.selectors import PROVINCE_OF_LETTER

    return [("", _("All provinces"))] + [(c, c) for c in sorted(set(PROVINCE_OF_LETTER.values()))]


class FilterForm(forms.Form):
    """The admin dashboard's filters (metrics.Scope): plan, mechanic type, province."""

    plan = forms.ChoiceField(required=False, label=gettext_lazy("Plan"))
    mechanic_type = forms.ChoiceField(required=False, label=gettext_lazy("Mechanic type"))
    province = forms.ChoiceField(required=False, label=gettext_lazy("Province"))

    def __init__(self, data, **kwargs) -> None:
        from autodoctor.accounts.mechanic_types import MechanicType
        from autodoctor.booking.models import Plan

        super().__init__(data, **kwargs)
        plans = Plan.objects.order_by("name").values_list("code", "name")
        self.fields["plan"].choices = [("", _("All plans")), *plans]
        self.fields["mechanic_type"].choices = [("", _("All types")), *MechanicType.choices]
        self.fields["province"].choices = _province_choices()

    def filters(self) -> dict[str, str]:
        """The valid filters as metrics.Scope keywords (an invalid one is dropped)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {key: data[key] for key in self.fields if data.get(key)}
