from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RemoteConfig(AppConfig):
    """Remote control: the Telegram bot (`manage.py run_telegram`). Top floor, beside coinpilot_site."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "remote"
    verbose_name = _("Remote control")
