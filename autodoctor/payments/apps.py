from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "autodoctor.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from autodoctor.booking.events import register_event_listener
        from autodoctor.periodic import PERIODIC_TASKS

        from . import checks  # noqa: F401  (registers the system checks)
        from .services.checkout import on_booking_event

        # Settle payments when a booking confirms, refund when it is cancelled, in the
        # booking's own transaction (see services/checkout.py "The hook").
        register_event_listener(on_booking_event)
        for job in (
            (300, "autodoctor.payments.tasks.refunds_retry"),
            (300, "autodoctor.payments.tasks.checkouts_close_retry"),
            (60, "autodoctor.payments.tasks.simulated_checkouts_expire"),
            (3600, "autodoctor.payments.tasks.payouts_run"),
            (300, "autodoctor.payments.tasks.payouts_retry"),
        ):
            if job not in PERIODIC_TASKS:
                PERIODIC_TASKS.append(job)
