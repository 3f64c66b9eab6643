"""JSON API routes of the notifications app (mounted under /api/ in autodoctor/api.py)."""

from ninja import Router

router = Router(tags=["notifications"])
