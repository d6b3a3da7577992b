"""Every page is sent with a strict Content Security Policy (SECURE_CSP), and no page or template
holds an inline script, style or event handler that such a policy would block."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
# Email bodies are read in mail programs, not served under the site's policy.
EMAIL_TEMPLATES_DIR = TEMPLATES_DIR / "notifications" / "emails"


class InlineCodeFinder(HTMLParser):
    """What a page carries inline: <script> without src, <style>, style="", on*="", javascript: links."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f'<{tag} {name}="{value}">')
            elif name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f'<{tag} {name}="{value}">')


def inline_code_in(html):
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.found


def assert_strict_policy(response):
    policy = response.headers.get("Content-Security-Policy", "")
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives.get("script-src") == "'self'", policy
    assert directives.get("style-src") == "'self'", policy
    assert directives.get("default-src") == "'self'", policy
    assert directives.get("object-src") == "'none'", policy
    assert directives.get("frame-ancestors") == "'none'", policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def assert_served_strictly(response, status=200):
    assert response.status_code == status
    assert_strict_policy(response)
    assert inline_code_in(response.content.decode()) == [], response.wsgi_request.path


def test_the_sign_in_page_has_the_policy(client):
    assert_served_strictly(client.get(reverse("login")))


@pytest.mark.parametrize(
    ("persona", "page"),
    [
        ("billing_admin", "home"),
        ("billing_admin", "billing:credits"),
        ("billing_admin", "billing:transactions"),
        ("billing_admin", "billing:add_funds"),
        ("reports_reader", "usage:report"),
        ("reports_reader", "usage:downloads"),
        ("global_admin", "usage:api_keys"),
        ("billing_admin", "notifications:message_center"),
        ("billing_admin", "notifications:settings"),
    ],
)
def test_a_page_of_each_app_has_the_policy_and_nothing_inline(client, request, persona, page):
    client.force_login(request.getfixturevalue(persona))
    assert_served_strictly(client.get(reverse(page)))


@pytest.mark.parametrize("page", ["admin:index", "admin:billing_reconciliationmismatch_changelist", "admin:billing_creditaccount_changelist"])
def test_django_admin_pages_have_the_policy_and_nothing_inline(client, page):
    client.force_login(UserFactory(username="root@credits.example", is_staff=True, is_superuser=True))
    assert_served_strictly(client.get(reverse(page)))


def test_a_missing_page_has_the_policy(client, billing_admin):
    client.force_login(billing_admin)
    assert_served_strictly(client.get("/billing/no-such-page/"), status=404)


def test_a_forbidden_page_has_the_policy(client, plain_member):
    client.force_login(plain_member)
    assert_served_strictly(client.get(reverse("billing:credits")), status=403)


def test_a_refused_form_has_the_policy_and_the_sites_own_page(billing_admin):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("login"), {"username": billing_admin.username, "password": DEFAULT_PASSWORD})
    assert_served_strictly(response, status=403)
    assert "This form could not be sent" in response.content.decode()


def test_the_lockout_page_has_the_policy(client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "someone@example.test", "password": "wrong"})
    assert_served_strictly(client.post(reverse("login"), {"username": "someone@example.test", "password": "wrong"}), status=429)


TEMPLATE_INLINE_CODE = re.compile(
    r"<script\b(?![^>]*\bsrc=)[^>]*>|<style\b|<[^>]*\sstyle\s*=|<[^>]*\son[a-z]+\s*=|javascript:", re.IGNORECASE
)
EVERY_KIND_OF_INLINE_CODE = (
    '<script>alert(1)</script><style>p{}</style><p class="x" style="color:red">x</p>'
    '<button type="button" onclick="go()">go</button><a href="javascript:go()">go</a>'
    '<script src="/static/x.js"></script><form data-once method="post"></form>'
)


def test_both_finders_see_each_kind_of_inline_code_and_nothing_else():
    assert len(inline_code_in(EVERY_KIND_OF_INLINE_CODE)) == 5
    assert len(TEMPLATE_INLINE_CODE.findall(EVERY_KIND_OF_INLINE_CODE)) == 5


def site_templates():
    return sorted(p for p in TEMPLATES_DIR.rglob("*.html") if EMAIL_TEMPLATES_DIR not in p.parents)


@pytest.mark.parametrize("template", site_templates(), ids=lambda p: str(p.relative_to(TEMPLATES_DIR)))
def test_no_site_template_holds_inline_code(template):
    """Pages that no test above renders are held to the same rule, read from their source."""
    assert TEMPLATE_INLINE_CODE.findall(template.read_text(encoding="utf-8")) == []
