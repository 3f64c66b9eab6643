"""JSON API routes of the workshops app (mounted under /api/ in autodoctor/api.py)."""

from ninja import Router

router = Router(tags=["workshops"])
