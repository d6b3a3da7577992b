"""In the browser: a Global Administrator creates an API key for the usage endpoints, sees it once,
copies it with the Copy button (or by hand without JavaScript), and revokes it; the endpoint takes
the key before and refuses it after."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP_VIEWPORT
from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from usage.models import ApiToken

pytestmark = pytest.mark.e2e


def authorize_status(page, live_url, key):
    """What a script gets from a key-authenticated endpoint with this key (the endpoint ignores cookies)."""
    response = page.context.request.get(
        f"{live_url}/api/usage/authorize/?user=alice@contoso.test&number=%2B12065550100",
        headers={"Authorization": f"Bearer {key}"},
    )
    return response.status


def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(browser_page, live_url, global_admin, password):
    page = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    sign_in(page, live_url, global_admin.email, password)
    page.get_by_role("navigation", name="Admin center").get_by_role("link", name="Usage reports").click()
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    expect(page.get_by_role("table", name=re.compile("API keys of"))).to_contain_text("No API keys yet.")
    assert_accessible(page)

    # Create: the key is on the next page, once.
    page.get_by_label("Key name").fill("Graph forwarder")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New API key")
    expect(page.get_by_role("status")).to_contain_text("API key “Graph forwarder” created.")
    key_field = page.get_by_label("Key", exact=True)
    expect(key_field).to_have_attribute("readonly", "")
    key = key_field.input_value()
    token = ApiToken.objects.get()
    assert key.startswith(token.prefix) and len(key) > 40
    expect(page.get_by_text("It is not stored and is shown only this once.")).to_be_visible()

    # Copy: the key lands on the clipboard and the live region next to the button says so.
    copy = page.get_by_role("button", name="Copy key")
    copy.click()
    expect(page.locator("#new-key-copied")).to_have_text("Copied")
    expect(page.locator("#new-key-copied")).to_have_attribute("aria-live", "polite")
    assert page.evaluate("() => navigator.clipboard.readText()") == key
    assert_accessible(page)
    screenshot(page, "usage-api-key-created")
    assert "ccu_" not in page.url

    page.reload()
    expect(page.get_by_test_id("key-gone")).to_be_visible()
    expect(page.get_by_label("Key", exact=True)).to_have_count(0)
    assert key not in page.content()

    assert authorize_status(page, live_url, key) == 200

    # The list: active, last used just now, only the prefix.
    page.get_by_role("link", name="Back to API keys").click()
    row = page.get_by_test_id("api-key-row")
    expect(row).to_contain_text("Graph forwarder")
    expect(row).to_contain_text(f"{token.prefix}…")
    expect(row).to_contain_text("Active")
    expect(row).not_to_contain_text("Never")
    assert key not in page.content()
    assert_accessible(page)
    screenshot(page, "usage-api-keys-list")

    # Revoke, after a confirmation page.
    row.get_by_role("link", name="Revoke Graph forwarder").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke API key")
    assert_accessible(page)
    screenshot(page, "usage-api-key-revoke")
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status")).to_contain_text("API key “Graph forwarder” revoked")
    expect(page.get_by_test_id("api-key-row")).to_contain_text("Revoked")
    expect(page.get_by_role("link", name="Revoke Graph forwarder")).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "usage-api-keys-revoked")

    assert authorize_status(page, live_url, key) == 401


def test_without_javascript_the_key_is_still_there_to_select(browser, live_url, global_admin, password):
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP_VIEWPORT, locale="en-US", timezone_id="UTC")
    try:
        page = context.new_page()
        sign_in(page, live_url, global_admin.email, password)
        page.goto(live_url + reverse("usage:api_keys"))
        page.get_by_label("Key name").fill("Graph forwarder")
        page.get_by_role("button", name="Create key").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("New API key")

        # No button that would do nothing; the read-only field is there, whole, to select and copy.
        expect(page.get_by_role("button", name="Copy key")).to_have_count(0)
        key_field = page.get_by_label("Key", exact=True)
        expect(key_field).to_be_visible()
        expect(key_field).to_be_enabled()
        key_field.select_text()
        assert key_field.input_value().startswith(ApiToken.objects.get().prefix)
        screenshot(page, "usage-api-key-created-no-js")
    finally:
        context.close()
