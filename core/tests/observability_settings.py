"""Settings for the gunicorn of the error-tracking and log tests: a test server serving only the
views of core/tests/observability.py (and /healthz)."""

from tests.server_settings import *  # noqa: F403

ROOT_URLCONF = "core.tests.observability"
