"""External steps report their result here (POST /api/v1/steps/<task>/result)."""

from ninja import Router

router = Router(tags=["steps"])
