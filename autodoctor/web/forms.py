from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy


class EmailLoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "That email and password do not match an account. Check both and try again.",
        "inactive": "This account is disabled.",
    }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget = forms.EmailInput(
            attrs={"autofocus": True, "autocomplete": "email"}
        )


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label=gettext_lazy("Token name"))
