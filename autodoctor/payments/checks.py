"""System checks of the payment settings, printed by `runserver`, `migrate` and
`manage.py check` (so `./dev up` shows them at start-up)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def simulated_provider_with_public_secret(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The simulated provider signs its events with a secret; the default one is printed
    in this repository, so anyone who can reach the server can post a "paid" event and
    confirm a booking without money. Fine on a laptop, never on a shared deployment (the
    settings refuse it outright with DEBUG off)."""
    if not (
        settings.SIMULATED_PAYMENTS_ALLOWED
        and settings.SIMULATED_PAYMENTS_SECRET == settings.SIMULATED_PAYMENTS_PUBLIC_SECRET
    ):
        return []
    return [
        checks.Warning(
            "Simulated payments are on with the PUBLIC default secret: anyone who can "
            "reach this server can confirm bookings without paying.",
            hint="Only for a laptop. Set SIMULATED_PAYMENTS_SECRET to a private value, or "
            "SIMULATED_PAYMENTS_ALLOWED=false, on any server other people can reach.",
            id="payments.W001",
        )
    ]
