"""What the notifications app stores: the messages people get, their delivery outbox,
and each person's preferences (including the private calendar-feed key).

- `Notification` is one message to one person (a confirmation, a reminder, ...). It holds
  the *facts* (a JSON snapshot taken when the event happened), not rendered text: the
  worker renders subject, body, SMS text and .ics from the snapshot when it sends, so a
  template fix plus "retry failed" repairs a message, and a rendering bug can never roll
  back a booking. The notification centre lists these rows. `dedupe_key` is UNIQUE: the
  same fact is never turned into two messages (e.g. reminder job run three times).
- `OutboxMessage` is one delivery of a notification over one channel (email, SMS). It is
  written in the same transaction as the booking change that causes it and sent by the
  `outbox_send` task (see outbox.py for the claim protocol and the delivery guarantee).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    # Only for a message to someone who has no account yet (a workshop's invitation):
    # where the email goes. Messages to a person use their account's address.
    address = models.EmailField(blank=True)
    kind = models.CharField(max_length=40, db_index=True, help_text=_("A key of catalog.KINDS"))
    session = models.ForeignKey(
        "booking.Session",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    context = models.JSONField(default=dict, help_text=_("Snapshot of the facts, UTC ISO times"))
    dedupe_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"]),
            models.Index(
                fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(recipient__isnull=False) | ~Q(address=""),
                name="notification_has_recipient_or_address",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient or self.address} (#{self.pk})"


class OutboxMessage(models.Model):
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(
        max_length=100, blank=True, help_text=_("Message id from the provider")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "outbox message"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            # The dedupe key of a delivery is (notification dedupe key, channel).
            models.UniqueConstraint(
                fields=["notification", "channel"], name="outbox_one_delivery_per_channel"
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(claimed_at__isnull=False),
                name="outbox_sending_has_claim_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="outbox_sent_has_sent_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk} ({self.status})"


class NotificationPreference(models.Model):
    """A person's choices. No row means the defaults below (email on, SMS off)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_enabled = models.BooleanField(_("Email"), default=True)
    sms_enabled = models.BooleanField(
        _("Text messages (SMS)"),
        default=False,
        help_text=_("Opt-in; customers with a phone number"),
    )
    remind_24h = models.BooleanField(_("Reminder 24 hours before"), default=True)
    remind_1h = models.BooleanField(_("Reminder 1 hour before"), default=True)
    # Mechanics, opt-in (plan §13.3): a weekly email when their hours look stale.
    hours_review_weekly = models.BooleanField(
        _("Weekly reminder to review my hours when they look out of date"), default=False
    )
    # The private calendar feed: the URL carries this random key signed with SECRET_KEY
    # (services.feed_token). Empty = no feed / revoked. A copy of the database alone does
    # not reveal working feed URLs.
    feed_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    feed_created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
