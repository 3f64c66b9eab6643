"""JSON API routes of the analytics app (mounted under /api/ in autodoctor/api.py)."""

from ninja import Router

router = Router(tags=["analytics"])
