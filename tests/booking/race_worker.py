"""Child-process entry for the multi-process race test. Imports nothing from Django
at module level: a spawned child must configure Django before loading any model."""

import os


def hold_in_child(
    db_url: str, customer_id: int, mechanic_id: int, start_iso: str, now_iso: str, queue
) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "autodoctor.settings"
    import django

    django.setup()
    from datetime import datetime

    from autodoctor.accounts.models import User
    from autodoctor.booking import services

    customer = User.objects.get(pk=customer_id)
    try:
        intake = services.intake_validate(
            customer=customer, plan="advice", concern="Engine stalls at idle sometimes"
        )
        services.reservation_hold(
            customer=customer,
            intake=intake,
            mechanic_id=mechanic_id,
            starts_at=datetime.fromisoformat(start_iso),
            now=datetime.fromisoformat(now_iso),
        )
        queue.put("ok")
    except Exception as exc:
        queue.put(type(exc).__name__)
