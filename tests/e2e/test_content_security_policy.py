"""The browser harness's watch on Content Security Policy violations (tests/e2e/helpers.py) sees what
the site's policy blocks, so that a browser test passing means its pages had none."""

import re

from django.utils.csp import build_policy

from tests.e2e.helpers import flush_browser_events, watch_csp_violations

PROBE_URL = "http://csp-probe.test/"
INLINE_CODE_PAGE = """<!doctype html><html lang="en"><head><title>probe</title>
<style>p { color: red; }</style></head>
<body><p style="color: blue">inline</p><script>document.title = "ran";</script></body></html>"""


def test_the_watch_reports_each_inline_script_and_style_that_the_sites_policy_blocks(browser, settings):
    context = browser.new_context()
    violations = watch_csp_violations(context)
    page = context.new_page()
    # A page under the site's own policy, served by the browser itself (no server, no network).
    page.route(
        PROBE_URL,
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            headers={"Content-Security-Policy": build_policy(settings.SECURE_CSP)},
            body=INLINE_CODE_PAGE,
        ),
    )
    page.goto(PROBE_URL)
    title = page.title()
    flush_browser_events(page)
    context.close()

    assert title == "probe", "the inline script ran: the policy did not block it"
    directives = {m.group(1) for v in violations if (m := re.match(r"securitypolicyviolation (\S+)", v))}
    assert directives == {"style-src-elem", "style-src-attr", "script-src-elem"}, violations
    assert sum(v.startswith("console error:") for v in violations) == 3, violations
