"""Browser-test harness: headless Debian chromium driven by Playwright's sync API against
pytest-django's live server.

Fixtures for other apps' browser tests:
- `browser_page`: a fresh Playwright page (own context, 1280x900) per test; at teardown it fails the
  test on server errors, missing static files, JavaScript errors and any Content Security Policy
  violation reported by a page of its context (nothing to call: every browser test gets the check);
- `live_url`: the live server's base URL, with a transactional database the server can see;
- `catalog`: the product catalog (billing.catalog.ensure_catalog), re-created per test because the
  transactional database is flushed after each one.
Helpers (sign_in, assert_accessible, screenshot) are in tests/e2e/helpers.py.
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.helpers import flush_browser_events, watch_csp_violations

# Playwright's sync API runs an event loop in the calling thread, and Django refuses ORM calls in a
# thread with a running loop. Tests here create data through the ORM on purpose, between browser
# steps (never concurrently with them), so the guard has nothing to protect.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP_VIEWPORT = {"width": 1280, "height": 900}
DEFAULT_TIMEOUT_MS = 15_000
E2E_DIR = Path(__file__).resolve().parent
ARTIFACTS_DIR = E2E_DIR.parent.parent / "test-artifacts"


def pytest_collection_modifyitems(config, items):
    # Every test under tests/e2e is a browser test, whichever file it lives in.
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(
            "Debian's chromium is not installed (`apt-get install -y chromium`; CI installs it). "
            "`playwright install` is not used here."
        )
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_context_args():
    """Override in a test module (or parametrize indirectly) to change the viewport, locale, etc."""
    return {"viewport": DESKTOP_VIEWPORT, "locale": "en-US", "timezone_id": "UTC"}


# A header a test puts on a response it fulfills itself, with the status it chose on purpose.
FULFILLED_BY_TEST = "X-Fulfilled-By-Test"


@pytest.fixture
def browser_page(browser, browser_context_args, request):
    """A page in a fresh context (no cookies shared between tests).

    Server errors (5xx), missing static files (4xx under /static/), JavaScript errors and Content
    Security Policy violations seen by any page of the context fail the test at teardown, so a broken
    stylesheet, a crashing view or an inline script or style that the policy blocks never passes
    unnoticed."""
    safe_name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in request.node.name)
    failure_shot = ARTIFACTS_DIR / f"FAILED-{safe_name}.png"
    failure_shot.unlink(missing_ok=True)  # a stale one from an earlier run would mislead
    context = browser.new_context(**browser_context_args)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    csp_violations = watch_csp_violations(context)
    page = context.new_page()
    broken = []

    def on_response(response):
        if response.headers.get(FULFILLED_BY_TEST.lower()) == str(response.status):
            return  # a page the test itself answered with this status (pages.lose_the_database_connection)
        if response.status >= 500 or (response.status >= 400 and "/static/" in response.url):
            broken.append(f"{response.status} {response.request.method} {response.url}")

    page.on("response", on_response)
    page.on("pageerror", lambda error: broken.append(f"JavaScript error: {error}"))
    yield page
    flush_browser_events(page)
    call_report = getattr(request.node, "report_call", None)
    if call_report is not None and call_report.failed:
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(failure_shot), full_page=True)
        except Exception:  # noqa: BLE001 - a failed screenshot must not hide the test's own failure
            pass
    context.close()
    assert not broken, "The page met broken responses:\n" + "\n".join(broken)
    assert not csp_violations, "The Content Security Policy was violated:\n" + "\n".join(csp_violations)


@pytest.fixture
def live_url(live_server, transactional_db):
    """Base URL of the live server, without a trailing slash."""
    return live_server.url.rstrip("/")


@pytest.fixture
def catalog(transactional_db):
    from billing.catalog import ensure_catalog

    return ensure_catalog()
