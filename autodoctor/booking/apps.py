from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "autodoctor.booking"
    label = "booking"
