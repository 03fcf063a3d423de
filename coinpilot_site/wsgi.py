import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coinpilot_site.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: refuse to serve what `manage.py check` refuses (no REDIS_URL or
# DATABASE_URL in production, live trading without keys, ...), as the other processes do at start.
from coinpilot_site.checks import refuse_to_serve_misconfigured  # noqa: E402

refuse_to_serve_misconfigured()
