import asyncio
import os

import pytest

from tests.chromium import CHROMIUM, ChromiumProcess
from tests.conftest import require_service

pytestmark = pytest.mark.browser


def test_the_browser_lives_until_stopped_and_then_gives_back_the_thread():
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing; apt-get install -y chromium")
    # This test does not ask for `chromium`: the process's own browser was stopped before it.
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ
    process = ChromiumProcess()
    browser = process.browser()
    try:
        # Playwright's loop, marked running in this thread; Django is told it never runs ours.
        assert asyncio.get_running_loop() is not None
        assert os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] == "true"
        assert process.browser() is browser
    finally:
        process.stop()
    assert not browser.is_connected()
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ
    # Started again on demand.
    again = process.browser()
    try:
        assert again.is_connected() and again is not browser
    finally:
        process.stop()
