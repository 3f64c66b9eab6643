from django.apps import AppConfig


class WorkshopsConfig(AppConfig):
    name = "autodoctor.workshops"
    label = "workshops"
    verbose_name = "Workshop visits"

    def ready(self) -> None:
        from autodoctor.availability.service import register_bay_load_source

        from .selectors import bay_load

        # What each bay already holds, for every visit-time listing and booking.
        register_bay_load_source(bay_load)
