"""Personal access tokens of the token API: only a hash of the secret is kept."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AccessToken(models.Model):
    """One bearer token of one user; the plain token is shown once when it is created."""

    class Scope(models.TextChoices):
        READ = "read", _("read (GET endpoints only)")
        CONTROL = "control", _("control (read, and the kill switch, flatten, close, pause, resume)")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(
        _("name"), max_length=100, help_text=_("What the token is for, e.g. 'Grafana' or 'phone'.")
    )
    scope = models.CharField(_("scope"), max_length=8, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(
        _("prefix"),
        max_length=12,
        editable=False,
        help_text=_("The token's first characters, to recognise it; not a secret."),
    )
    digest = models.CharField(
        _("digest"), max_length=64, unique=True, editable=False, help_text=_("SHA-256 of the token.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        db_table = "api_access_token"
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.scope}, {self.prefix}…)"
