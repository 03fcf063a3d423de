#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coinpilot_site.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018  (load the settings now)
    except ImproperlyConfigured as exc:
        # Django would swallow this and fail later with an unrelated AppRegistryNotReady.
        sys.exit(f"CoinPilot is not configured: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
