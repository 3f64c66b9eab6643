from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "autodoctor.web"
    label = "web"
    verbose_name = "Web pages"
