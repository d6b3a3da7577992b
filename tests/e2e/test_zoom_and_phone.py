"""The pages keep their meaning at 200% zoom and at a phone's width: the page never scrolls sideways
(a wide table scrolls inside its own container), nothing covers the navigation, the main action can
be reached and pressed, and axe-core still finds no serious or critical violation on the phone (a
table that overflows only on a small screen must then be scrollable from the keyboard). Every page
is saved as test-artifacts/<screen>-<page>.png to be looked at.

200% zoom is a 640x450 CSS-pixel viewport drawn at device_scale_factor 2. That is what a browser's
zoom does to a 1280x900 window: each CSS pixel takes two screen pixels, so the layout has 640 CSS
pixels of width (media queries and percentages see 640px) and text and boxes are twice as large, and
the screenshot is the 1280x900 screen pixels a person sees. CSS `zoom` set with page.evaluate would
enlarge the content without shrinking the viewport that media queries measure, which a browser's
zoom does not do.
"""

import pytest

from tests.e2e.helpers import assert_accessible, screenshot
from tests.e2e.layout import layout_problems
from tests.e2e.pages import PAGES, admin_pages, visit_each
from tests.e2e.site_demo import SUPPORT, site_demo_fixture  # noqa: F401 - the site_demo fixture

pytestmark = pytest.mark.e2e

SCREENS = {
    "zoom-200": {"viewport": {"width": 640, "height": 450}, "device_scale_factor": 2},
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True},
}
NARROWEST = "phone"
# Support works at a desk; one page of each kind the admin draws, and the custom ones, are enough
# to see that the admin's own responsive layout holds with what this site adds to it.
ADMIN_ON_SMALL_SCREENS = {
    "admin:login", "admin:index", "admin:billing_payment_changelist", "admin:billing_creditaccount_change",
    "admin:billing_creditaccount_move_money", "admin:billing_creditaccount_reconciliation",
}


@pytest.fixture(params=list(SCREENS))
def screen(request):
    return request.param


@pytest.fixture
def browser_context_args(screen):
    return {**SCREENS[screen], "locale": "en-US", "timezone_id": "UTC"}


def test_every_page_keeps_its_meaning_on_a_small_screen(browser_page, live_url, site_demo, screen, subtests):
    support_pages = [page for page in admin_pages(site_demo.user(SUPPORT)) if page.covers in ADMIN_ON_SMALL_SCREENS]

    def check(page, visit):
        screenshot(page, f"{screen}-{visit.label}")
        problems = layout_problems(page, visit.main_action(page))
        assert not problems, f"{visit.label} on the {screen} screen: " + "; ".join(problems)
        # What only a small screen can break for axe-core (a table or chart that now overflows and must be
        # scrollable from the keyboard) breaks on the narrowest one first: axe-core runs there.
        if screen == NARROWEST:
            assert_accessible(page)

    visit_each(browser_page, live_url, site_demo, PAGES + support_pages, subtests, check)
