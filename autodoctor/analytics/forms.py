"""Forms of the analytics pages: they parse input only; the rules live in services."""

from django import forms

from .models import RATING_COMMENT_MAX, RATING_MAX, RATING_MIN


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        coerce=int,
        choices=[(n, str(n)) for n in range(RATING_MAX, RATING_MIN - 1, -1)],
        widget=forms.RadioSelect,
        label="Your rating (5 is best)",
    )
    comment = forms.CharField(
        max_length=RATING_COMMENT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Comment (optional)",
    )
