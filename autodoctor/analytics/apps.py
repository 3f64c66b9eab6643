from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "autodoctor.analytics"
    label = "analytics"
