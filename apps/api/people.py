"""API: people."""

from ninja import Router

router = Router(tags=["people"])
