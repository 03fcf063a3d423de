"""Personal access tokens of the token API: only a hash of the secret is kept."""

from django.conf import settings
from django.db import models


class AccessToken(models.Model):
    """One bearer token of one user; the plain token is shown once when it is created."""

    class Scope(models.TextChoices):
        READ = "read", "read (GET endpoints only)"
        CONTROL = "control", "control (read, and the kill switch, flatten, close, pause, resume)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'Grafana' or 'phone'.")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(
        max_length=12,
        editable=False,
        help_text="The token's first characters, to recognise it; not a secret.",
    )
    digest = models.CharField(max_length=64, unique=True, editable=False, help_text="SHA-256 of the token.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "api_access_token"
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.scope}, {self.prefix}…)"
