"""What the Telegram bot must remember across restarts and processes."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Confirmation(models.Model):
    """A control command waiting for its Confirm button; claimed atomically, so it acts at most once
    (a double tap, a redelivered update or a second bot process finds it already claimed)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")  # claimed: the action is being carried out
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    key = models.CharField(
        _("key"), max_length=32, unique=True, help_text=_("Sent in the buttons' callback data.")
    )
    chat_id = models.BigIntegerField(_("chat id"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("user")
    )
    action = models.CharField(_("action"), max_length=20)
    symbol = models.CharField(_("symbol"), max_length=20, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    summary = models.TextField(_("summary"), help_text=_("What would happen, as shown with the buttons."))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    outcome = models.TextField(_("outcome"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        db_table = "remote_confirmation"
        ordering = ["-created_at"]
        verbose_name = _("Telegram confirmation")
        verbose_name_plural = _("Telegram confirmations")

    def __str__(self) -> str:
        return f"{self.action} {self.symbol} ({self.state})".replace("  ", " ")


class HandledUpdate(models.Model):
    """A Telegram update already handled: Telegram redelivers an update until the next getUpdates
    confirms it, so one handled just before a crash is skipped when it comes again."""

    update_id = models.BigIntegerField(_("update id"), primary_key=True)
    handled_at = models.DateTimeField(_("handled at"), default=timezone.now)

    class Meta:
        db_table = "remote_handled_update"
        verbose_name = _("handled Telegram update")
        verbose_name_plural = _("handled Telegram updates")

    def __str__(self) -> str:
        return f"update {self.update_id}"
