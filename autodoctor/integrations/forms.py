from django import forms
from django.utils.translation import gettext_lazy as _

from .events import EVENT_TYPES
from .models import URL_MAX
from .services import DESCRIPTION_MAX


class EndpointForm(forms.Form):
    url = forms.CharField(max_length=URL_MAX, label=_("Address (https://…)"))
    description = forms.CharField(max_length=DESCRIPTION_MAX, required=False)
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES], widget=forms.CheckboxSelectMultiple, required=False
    )
