"""Helpers for browser tests: signing in, accessibility checks with axe-core, screenshots, and the
watch on Content Security Policy violations that every `browser_page` has (tests/e2e/conftest.py)."""

import re
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

ARTIFACTS_DIR = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
FAILING_IMPACTS = {"serious", "critical"}


def sign_in(page, live_url, email, password):
    """Sign in through the real form (django-axes sees it); ends on the page after sign-in."""
    page.goto(f"{live_url}/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # A wrong password re-renders the form; fail here with that reason rather than later.
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def assert_accessible(page, *, context=None, ignore=()):
    """Run axe-core on the page as it is now; fail on serious or critical violations.

    `ignore` takes rule ids to skip, and should stay empty: fix the page instead."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=context)
    problems = [
        v for v in results.response["violations"] if v.get("impact") in FAILING_IMPACTS and v["id"] not in ignore
    ]
    if problems:
        lines = [f"axe-core found {len(problems)} serious/critical violation(s) on {page.url}:"]
        for violation in problems:
            lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
            for node in violation["nodes"]:
                target = " ".join(str(t) for t in node.get("target", []))
                lines.append(f"    at {target}: {node.get('failureSummary', '').strip()}".replace("\n", " "))
                lines.append(f"      {node.get('html', '')[:200]}")
        raise AssertionError("\n".join(lines))
    return results


def screenshot(page, name, *, full_page=True):
    """Save test-artifacts/<name>.png (gitignored) and return its path."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
    path = ARTIFACTS_DIR / f"{safe}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def stylesheet_applied(page):
    """True when site.css is in effect (its rules change the body's computed style)."""
    return page.evaluate(
        """() => Array.from(document.styleSheets).some(s => (s.href || '').includes('/static/css/site.css') && s.cssRules.length > 0)"""
    )


# Runs in every document before its own scripts (an init script is not subject to the page's policy).
# The event carries what the console line does not always: the directive, what was blocked, and where.
CSP_VIOLATION_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation({
    directive: event.effectiveDirective,
    blocked: event.blockedURI || "inline",
    where: `${event.sourceFile || event.documentURI}:${event.lineNumber}`,
    sample: event.sample,
  });
}, true);
"""


def watch_csp_violations(context):
    """Every Content Security Policy violation in any page of the browser context, as lines of text.

    Two sources, as Chromium reports a violation twice: the `securitypolicyviolation` event in the
    page, and the console error ("Refused to apply inline style because it violates..."). The list
    fills while the test runs; `flush_browser_events(page)` before reading it at the end."""
    violations = []

    def on_event(source, violation):
        violations.append(
            "securitypolicyviolation {directive} blocked {blocked} at {where} {sample!r}".format(**violation)
            + f" (page {source['frame'].url})"
        )

    def on_console(message):
        if "Content Security Policy" in message.text:
            violations.append(f"console {message.type}: {message.text} (page {message.page.url if message.page else '?'})")

    context.expose_binding("reportCspViolation", on_event)
    context.add_init_script(CSP_VIOLATION_LISTENER)
    context.on("console", on_console)
    return violations


def flush_browser_events(page):
    """One round trip to the page, so that events it sent before (a violation report) are handled."""
    if page.is_closed():
        return
    try:
        page.evaluate("0")
    except PlaywrightError:
        pass  # a page in the middle of navigating: what it reported before is handled all the same
