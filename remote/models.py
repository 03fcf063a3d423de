"""What the Telegram bot must remember across restarts and processes."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Confirmation(models.Model):
    """A control command waiting for its Confirm button; claimed atomically, so it acts at most once
    (a double tap, a redelivered update or a second bot process finds it already claimed)."""

    class State(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"  # claimed: the action is being carried out
        DONE = "done"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    key = models.CharField(max_length=32, unique=True, help_text="Sent in the buttons' callback data.")
    chat_id = models.BigIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=20)
    symbol = models.CharField(max_length=20, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    summary = models.TextField(help_text="What would happen, as shown with the buttons.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    outcome = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "remote_confirmation"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} {self.symbol} ({self.state})".replace("  ", " ")


class HandledUpdate(models.Model):
    """A Telegram update already handled: Telegram redelivers an update until the next getUpdates
    confirms it, so one handled just before a crash is skipped when it comes again."""

    update_id = models.BigIntegerField(primary_key=True)
    handled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "remote_handled_update"

    def __str__(self) -> str:
        return f"update {self.update_id}"
