"""A password check that records each call (for tests/server_settings.py)."""

import os
import time

from core.auth_backend import ModelBackend


class RecordingBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        with open(os.environ["LOGIN_CHECK_LOG"], "a") as log:  # one short append per call: atomic
            log.write(f"{username}\n")
        time.sleep(0.3)
        return super().authenticate(request, username=username, password=password, **kwargs)
