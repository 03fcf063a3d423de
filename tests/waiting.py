"""Waiting in a test for something another thread or process does, without a fixed pause."""

import time

import pytest


def wait_for(condition, seconds: float, what: str = "the condition", every: float = 0.05):
    """The first truthy value of `condition()`, asked every `every` seconds; the test fails naming
    `what` after `seconds` (generous: a machine running two suites is slow)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")
