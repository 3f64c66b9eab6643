from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "autodoctor.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Messages are written in the same transaction as the booking change (invariant 7).
        from autodoctor.booking.events import register_event_listener
        from autodoctor.workshops.events import register_visit_listener

        from .events import on_session_event, on_visit_event

        register_event_listener(on_session_event)
        register_visit_listener(on_visit_event)
