from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "autodoctor.integrations"
    label = "integrations"
    verbose_name = "Integrations (outgoing webhooks)"

    def ready(self) -> None:
        # Deliveries are written in the same transaction as the change (invariant 7), so a
        # change that rolls back announces nothing.
        from autodoctor.booking.events import register_event_listener
        from autodoctor.workshops.events import register_visit_listener

        from .events import on_session_event, on_visit_event

        register_event_listener(on_session_event)
        register_visit_listener(on_visit_event)
