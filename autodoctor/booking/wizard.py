"""The booking wizard's answers, kept in the user's Django session between steps.

The wizard is a row of plain pages (one URL per step), so a refresh or the browser's
back button simply shows the step again with the answers given so far. Changing an
answer forgets the answers that depended on it (a new plan changes the slot length,
so the chosen time and mechanic must be picked again).
"""

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

SESSION_KEY = "booking_wizard"
STEPS = ("vehicle", "plan", "when", "mechanic", "concern", "review")
STEP_TITLES = {
    "vehicle": _("Vehicle"),
    "plan": _("Plan"),
    "when": _("When"),
    "mechanic": _("Mechanic"),
    "concern": _("Concern"),
    "review": _("Review"),
}
# Answers that stop being valid when an earlier answer changes.
DEPENDENTS = {
    "plan": ("when", "mechanic"),
    "when": ("mechanic",),
}
ANY_MECHANIC = "any"


@dataclass
class WizardState:
    vehicle_id: int | None = None
    vehicle_label: str = ""
    brand: str = ""
    plan: str = ""
    session_type: str = "video"
    mode: str = "now"  # "now" (the default, plan §10.1) or "scheduled"
    start: str = ""  # ISO instant of the chosen slot (scheduled only)
    mechanic: str = ""  # a mechanic id, or ANY_MECHANIC
    concern: str = ""
    preferred_mechanic: int | None = None  # arrived from a mechanic's profile page
    attachments: list[int] = field(default_factory=list)  # pending uploads (concern step)
    done: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, request: HttpRequest) -> "WizardState":
        raw = request.session.get(SESSION_KEY) or {}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def save(self, request: HttpRequest) -> None:
        request.session[SESSION_KEY] = asdict(self)

    @staticmethod
    def clear(request: HttpRequest) -> None:
        request.session.pop(SESSION_KEY, None)

    def complete(self, step: str, **answers: object) -> None:
        """Record a step's answers; forget later answers that depended on changed ones."""
        changed = any(getattr(self, k) != v for k, v in answers.items())
        for key, value in answers.items():
            setattr(self, key, value)
        if changed:
            for dependent in DEPENDENTS.get(step, ()):
                if dependent in self.done:
                    self.done.remove(dependent)
                if dependent == "when":
                    self.start = ""
                if dependent == "mechanic":
                    self.mechanic = ""
        if step not in self.done:
            self.done.append(step)

    def first_open_step(self) -> str:
        return next((s for s in STEPS if s not in self.done), "review")

    def may_open(self, step: str) -> bool:
        return all(s in self.done for s in STEPS[: STEPS.index(step)])

    @property
    def scheduled(self) -> bool:
        return self.mode == "scheduled"

    @property
    def start_at(self) -> datetime | None:
        return datetime.fromisoformat(self.start) if self.start else None

    @property
    def mechanic_id(self) -> int | None:
        return int(self.mechanic) if self.mechanic.isdigit() else None

    @property
    def any_mechanic(self) -> bool:
        return self.mechanic == ANY_MECHANIC


def previous_step(step: str) -> str | None:
    index = STEPS.index(step)
    return STEPS[index - 1] if index else None


def next_step(step: str) -> str:
    return STEPS[min(STEPS.index(step) + 1, len(STEPS) - 1)]
