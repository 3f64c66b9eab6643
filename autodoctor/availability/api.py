"""JSON API routes of the availability app (mounted under /api/ in autodoctor/api.py)."""

from ninja import Router

router = Router(tags=["availability"])
