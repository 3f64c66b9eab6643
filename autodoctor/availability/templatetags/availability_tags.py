"""Template filters for wall-clock minutes ("HH:MM" in the owner's zone)."""

from django import template

from autodoctor.availability.forms import wall_label

register = template.Library()

# {{ minute|wall }}: the same label the forms and the API show.
register.filter("wall", wall_label)
