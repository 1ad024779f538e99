"""Access tokens for the REST API.

A token is shown once, when it is made; only its SHA-256 digest is stored, so a leaked database
holds nothing a caller could send. The secret has 256 bits of randomness, which is why a plain
digest (no salt, no slow hash) is enough: there is nothing to guess. A personal token acts as
the person who made it; a service token belongs to a team and acts as Relay automation for it,
with the token's name written into the history of what it does (apps.api.auth.Caller).
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PREFIX = "relay_"


class Scope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Read and write")


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class ApiToken(models.Model):
    # Who made it: the person a personal token acts as; the lead who made a service token.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    # Set for a service token: the team whose automation it is (and the only team it sees).
    team = models.ForeignKey(
        "people.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="service_tokens",
    )
    name = models.CharField(max_length=60)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The secret's first characters, to tell tokens apart on the settings page.
    hint = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="api_token_has_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_service(self) -> bool:
        return self.team_id is not None

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now

    @property
    def actor_label(self) -> str:
        """How the history names what a service token did: "CI (service token) for Data
        Science"; a personal token's actions are simply the person's."""
        if not self.is_service:
            return ""
        return _("%(name)s (service token) for %(team)s") % {
            "name": self.name,
            "team": self.team.name,
        }
