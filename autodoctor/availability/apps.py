from django.apps import AppConfig


class AvailabilityConfig(AppConfig):
    name = "autodoctor.availability"
    label = "availability"
