from django.apps import AppConfig


class AvailabilityConfig(AppConfig):
    name = "autodoctor.availability"
    label = "availability"

    def ready(self) -> None:
        from .external import external_busy
        from .service import register_busy_source

        # Mechanics' own calendars (stored busy rows, never the network) make them busy
        # for every availability caller, like reservations do.
        register_busy_source(external_busy)
