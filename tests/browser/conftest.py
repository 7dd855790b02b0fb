"""Real headless Chromium (Debian's, at /usr/bin/chromium) driven by Playwright's sync API.

Playwright keeps an event loop on the test thread, so Django's async-safety check is switched off
while a browser is open (the ORM calls are the tests' own, on their own connection).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail("The browser tests need Debian's chromium at /usr/bin/chromium (apt-get install chromium; .ci/run does).")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            yield b
            b.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def login(browser: Any, live: Any) -> Iterator[Any]:
    """`login(username, path)` -> a page of a fresh browser context, logged in, at `path`."""
    contexts: list[Any] = []
    js_errors: list[str] = []

    def _login(username: str, path: str = "/desk/") -> Any:
        ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        ctx.on("page", lambda p: p.on("pageerror", lambda exc: js_errors.append(str(exc))))
        page = ctx.new_page()
        page.goto(f"{live.url}/accounts/login/?next={path}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live.url}{path}")
        return page

    _login.js_errors = js_errors  # type: ignore[attr-defined]
    yield _login
    for ctx in contexts:
        ctx.close()


