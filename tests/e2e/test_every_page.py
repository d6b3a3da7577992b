"""Every page a person can see, and every Django admin page support staff use, passes axe-core with no
serious or critical violation. The pages come from the URL patterns: a GET pattern that no visit
covers fails here until it is visited or listed, with its reason, in pages.NO_VISIT."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.e2e.helpers import assert_accessible
from tests.e2e.pages import PAGES, admin_pages, unvisited_get_patterns, visit_each
from tests.e2e.site_demo import SUPPORT, site_demo_fixture  # noqa: F401 - the site_demo fixture

pytestmark = pytest.mark.e2e


def test_every_get_url_pattern_is_visited_or_says_why_not(transactional_db):
    # The demo's support person: which admin pages there are to visit depends on their permissions.
    # (Transactional: the demo pays at the sandbox gateway, which refuses to run inside a transaction.)
    call_command("load_demo", verbosity=0)
    missing, stale = unvisited_get_patterns(get_user_model().objects.get(username=SUPPORT))
    assert not missing, f"GET URL patterns without a visit in tests/e2e/pages.py (visit them, or say why not in NO_VISIT): {missing}"
    assert not stale, f"NO_VISIT explains patterns that no longer exist: {stale}"


def test_every_admin_center_page_passes_axe_core(browser_page, live_url, site_demo, subtests):
    visit_each(browser_page, live_url, site_demo, PAGES, subtests, lambda page, visit: assert_accessible(page))


def test_every_admin_page_support_staff_use_passes_axe_core(browser_page, live_url, site_demo, subtests):
    support = site_demo.user(SUPPORT)
    visit_each(browser_page, live_url, site_demo, admin_pages(support), subtests, lambda page, visit: assert_accessible(page))
