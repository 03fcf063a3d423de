from django.apps import AppConfig


class RemoteConfig(AppConfig):
    """Remote control: the Telegram bot (`manage.py run_telegram`). Top floor, beside coinpilot_site."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "remote"
