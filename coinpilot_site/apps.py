from django.apps import AppConfig


class CoinPilotSiteConfig(AppConfig):
    """The top floor: settings, URLs, the schedule table and the pages that compose the apps."""

    name = "coinpilot_site"
    verbose_name = "Site"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the live-trading check)
            language,  # noqa: F401  (copies a saved language into the session at sign-in)
            login_lockout,  # noqa: F401  (logs each login lock-out)
        )
