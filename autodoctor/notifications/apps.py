from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "autodoctor.notifications"
    label = "notifications"
