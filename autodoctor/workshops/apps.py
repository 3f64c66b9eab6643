from django.apps import AppConfig


class WorkshopsConfig(AppConfig):
    name = "autodoctor.workshops"
    label = "workshops"
