from django import forms
from django.utils.translation import gettext_lazy as _

from .models import NotificationPreference


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["email_enabled", "sms_enabled", "remind_24h", "remind_1h", "hours_review_weekly"]
        # One switch for both reminders shortly before (1 hour and 15 minutes).
        labels = {"remind_1h": _("Reminders 1 hour and 15 minutes before")}
