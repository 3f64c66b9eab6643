"""JSON API routes of the payments app (mounted under /api/ in autodoctor/api.py)."""

from ninja import Router

router = Router(tags=["payments"])
