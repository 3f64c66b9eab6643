from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "autodoctor.payments"
    label = "payments"
