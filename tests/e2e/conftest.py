"""End-to-end tests in a real browser: Debian's chromium driven by Playwright, against
Django's live test server. Each test runs at a phone's width and a desktop's, and keeps
screenshots under ``test-output/e2e/``.

Without chromium the tests are skipped, except under CI (``CI=true``), where `make test`
installs it first and a missing browser is a failure."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dues.portal.views import account, join, links, signin
from tests.staff.conftest import staff_view_modules

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run
# beside one unless told it is safe (it is: the loop is Playwright's, not ours).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
WIDTHS = {"phone": (375, 812), "desktop": (1280, 900)}


def chromium_path() -> str | None:
    return os.environ.get("DUES_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; `make browser` installs it")
        pytest.skip("chromium is not installed (`make browser` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def page(request, browser, live_server, settings):
    settings.DUES_PUBLIC_URL = live_server.url
    width, height = WIDTHS[request.param]
    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=live_server.url
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    shots = Screenshots(page, re.sub(r"\W+", "-", request.node.name).strip("-"))
    page.shots = shots
    yield page
    context.close()


class Screenshots:
    def __init__(self, page, name: str) -> None:
        self.page, self.name, self.n = page, name, 0
        OUTPUT.mkdir(parents=True, exist_ok=True)

    def __call__(self, label: str) -> Path:
        self.n += 1
        path = OUTPUT / f"{self.name}-{self.n:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def web_clock(monkeypatch, clock):
    """The pages on the test's clock (the live server runs in this process)."""
    for module in (account, join, links, signin, *staff_view_modules()):
        if hasattr(module, "CLOCK"):
            monkeypatch.setattr(module, "CLOCK", clock)
    return clock
