from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "autodoctor.booking"
    label = "booking"

    def ready(self) -> None:
        from autodoctor.availability.service import register_busy_source

        from .selectors import reservation_busy

        # Active reservations (holds not past expiry, confirmed bookings, accepted
        # immediate sessions) make a mechanic busy for every availability caller.
        register_busy_source(reservation_busy)

        # Freed time goes to the waitlist; a claim's booking settles its entry.
        from .events import register_event_listener
        from .waitlist import on_session_event

        register_event_listener(on_session_event)
