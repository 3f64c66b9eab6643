"""Outgoing webhooks: an integrator's endpoints and the deliveries to them.

The Delivery rows are the outbox: written in the transaction of the change they announce
(events.py), sent by the worker (delivery.py), at least once, in order per resource.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

URL_MAX = 500
RESPONSE_MAX = 500  # of a receiver's answer we keep this much, no more
ERROR_MAX = 500


class Endpoint(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=URL_MAX)
    description = models.CharField(max_length=100, blank=True)
    event_types = models.JSONField(default=list)  # names from events.EVENT_TYPES
    # Signs every body (HMAC-SHA256). Kept readable since we must sign with it; shown to
    # its owner once, when the endpoint is created, never again.
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)  # by us, after failures
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40)  # the same for every endpoint told of it
    event_type = models.CharField(max_length=40)
    # "session:12", "visit:3", "payment:7": deliveries about one resource go out in order.
    resource = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.CharField(max_length=RESPONSE_MAX, blank=True)
    last_error = models.CharField(max_length=ERROR_MAX, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "resource", "status"], name="webhook_delivery_order"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"
