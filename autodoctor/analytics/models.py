"""Post-session ratings (issue 12, customer satisfaction).

A customer rates a completed session once, 1–5 with an optional comment, and may edit
it for RATING_EDIT_DAYS after first giving it. The mechanic's `MechanicProfile.rating`
(what matching reads) is the average of these rows, kept by `services.rating_save`.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from autodoctor.accounts.models import MechanicProfile
from autodoctor.booking.models import Session

RATING_MIN, RATING_MAX = 1, 5
RATING_COMMENT_MAX = 1000
RATING_EDIT_WINDOW = timedelta(days=7)


class SessionRating(models.Model):
    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="rating")
    # Copied from the session (fixed once it is completed) so a mechanic's average is
    # one indexed aggregate.
    mechanic = models.ForeignKey(
        MechanicProfile, on_delete=models.CASCADE, related_name="session_ratings"
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_ratings"
    )
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=RATING_COMMENT_MAX)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["mechanic", "created_at"]),
            # The platform's satisfaction figure reads a period of ratings (metrics.satisfaction).
            models.Index(fields=["created_at"], name="sessionrating_created_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=RATING_MIN, score__lte=RATING_MAX),
                name="session_rating_score_1_to_5",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("comment"), RATING_COMMENT_MAX),
                name="session_rating_comment_length",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.score}/5 for session #{self.session_id}"

    @property
    def editable_until(self):
        return self.created_at + RATING_EDIT_WINDOW
