"""API: templates."""

from ninja import Router

router = Router(tags=["templates"])
