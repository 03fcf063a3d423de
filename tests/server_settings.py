"""Settings for a gunicorn started by a test (tests/web_server.py): the production settings, with
static files served from the finders (no collectstatic for a test server). With $LOGIN_CHECK_LOG
set, each password check is recorded there and takes as long as a production password hash."""

import os

from coinpilot_site.settings import *  # noqa: F403

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
if os.environ.get("LOGIN_CHECK_LOG"):
    AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "tests.recording_backend.RecordingBackend",
    ]
