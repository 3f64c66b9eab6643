"""JSON API routes of the booking app (mounted under /api/ in autodoctor/api.py)."""

from ninja import Router

router = Router(tags=["booking"])
