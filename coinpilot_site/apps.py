from django.apps import AppConfig


class CoinPilotSiteConfig(AppConfig):
    name = "coinpilot_site"
    verbose_name = "Operations"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            login_lockout,  # noqa: F401  (logs each login lock-out)
        )
