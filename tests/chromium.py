"""One headless Chromium per test process, kept from one browser test to the next.

Playwright's driver and Debian's Chromium take about 0.9 s of a quiet core to start and stop
(driver 0.45 s, launch 0.25 s, close 0.15 s); started once per browser module, the 31 modules
that use it paid that on every worker. Now the browser lives while the tests that ask for it
(`chromium`, tests/browser/conftest.py) follow one another, and is stopped before the first test
that does not (tests/conftest.py's pytest_runtest_setup) and at the end of the session.

Why it must stop: while it lives, Playwright's sync API keeps its asyncio loop marked running in
this thread, so Django refuses ORM calls (SynchronousOnlyOperation) and asyncio.run() refuses to
start. For the browser tests themselves DJANGO_ALLOW_ASYNC_UNSAFE is set while it lives: the loop
is Playwright's and never runs our code, so telling Django so is safe. Set for the whole session
it would leak into the subprocesses other tests start (`check --deploy` fails on it, async.E001).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
_ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


class ChromiumProcess:
    """The process's Playwright and Chromium: started by the first `browser()`, ended by
    `stop()`."""

    def __init__(self) -> None:
        self._playwright: Any = None
        self._browser: Any = None
        self._async_unsafe_before: str | None = None

    @property
    def running(self) -> bool:
        return self._playwright is not None

    def browser(self) -> Any:
        """The running Chromium (a Playwright Browser), started if it is not."""
        if self._browser is not None and not self._browser.is_connected():
            self.stop()
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._async_unsafe_before = os.environ.get(_ASYNC_UNSAFE)
            os.environ[_ASYNC_UNSAFE] = "true"
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
        return self._browser

    def stop(self) -> None:
        """Close Chromium and Playwright's driver, if they run; give the thread its asyncio
        state and the environment back."""
        if not self.running:
            return
        try:
            if self._browser is not None and self._browser.is_connected():
                self._browser.close()
        finally:
            self._playwright.stop()
            self._playwright = self._browser = None
            if self._async_unsafe_before is None:
                os.environ.pop(_ASYNC_UNSAFE, None)
            else:
                os.environ[_ASYNC_UNSAFE] = self._async_unsafe_before


chromium_process = ChromiumProcess()
