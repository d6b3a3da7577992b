"""Every URL pattern of the site, walked as every kind of person (issue 11, "Every URL, every role").

The patterns come from the resolver itself, so a new one fails `test_every_url_pattern_of_the_site_is_declared`
until tests/site/url_walk_routes.py says how to call it and who may. Then each is called as: anonymous;
a member with no admin role; each of the 20 admin roles (the read-only ones and those that may buy);
and a Global Administrator of another organization using this organization's ids. For every call:

- the status is what the rules give: the sign-in page for anonymous visitors (401 JSON for the API),
  403 for a role that may not, 404 for another tenant's object, 405 for a method the URL does not take;
- nothing of the organization changes unless an allowed person made a call that writes, and then
  something does (so the refusals are measured against calls that would have changed it);
- no body (pages, JSON, CSV, and every member of an .xlsx or .zip) holds text that only the other
  organization has, and each export holds the person's own organization's rows.

All 20 roles are walked although three facts decide every right (see url_walk_routes): a run of the
whole module takes well under two minutes on SQLite.
"""

import io
import re
import zipfile

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from billing.choices import AdminRole
from tests.factories import admin_in
from tests.site.url_walk_routes import (
    ANONYMOUS,
    NO_ADMIN_ROLE,
    OUTSIDER,
    ROLE_PERSONAS,
    ROUTES,
    Call,
    TenantState,
    Who,
    changed_tables,
    role_group,
    seed_organization,
)

# The sandbox gateway refuses to be called inside a transaction (billing/services/payments.py), and
# funding is part of the seeding and of the walk.
pytestmark = pytest.mark.django_db(transaction=True)

TENANT_MARKER = "Contoso-7f3a"
OTHER_MARKER = "Fabrikam-91c2"


def site_patterns(resolver=None, prefix="", namespace=""):
    """(key, route) for every URL pattern, recursively: the key is the pattern's name with its
    namespace, or its route when it has no name."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = ":".join(n for n in (namespace, pattern.namespace) if n)
            yield from site_patterns(pattern, route, inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield name or route, route


def is_admin(route):
    return route.startswith("admin/")


def test_every_url_pattern_of_the_site_is_declared():
    site = {key for key, route in site_patterns() if not is_admin(route)}
    assert site - set(ROUTES) == set(), "declare how to call these URLs, and who may, in tests/site/url_walk_routes.py"
    assert set(ROUTES) - site == set(), "these declarations name no URL any more"
    for name, route in ROUTES.items():
        if {"GET", "POST"} - set(route.who):
            assert len(set(route.who.values())) == 1, f"{name}: one guard answers the methods it does not take"


def test_the_walked_roles_cover_every_way_a_role_can_be_treated():
    groups = {role_group(role) for role in AdminRole}
    # Buy and import, import only, read only: each walked (all 20 roles are).
    assert groups == {(True, True), (False, True), (False, False)}
    assert {role for persona in ROLE_PERSONAS for role in persona.roles} == set(AdminRole)


# --- The walk ----------------------------------------------------------------------------------------------


@pytest.fixture
def worlds(settings, tmp_path):
    """This organization and another one, the same shapes, each with its own marker text."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    tenant = seed_organization("Contoso", TENANT_MARKER, slug="contoso-walk")
    # Its user's UPN is outsider-user@outsider.test, which the walk's filters ask this organization for.
    other = seed_organization("Fabrikam", OTHER_MARKER, slug="outsider")
    return tenant, other


def body_texts(response):
    """The response body as text and, for a zip (.xlsx and the CSV export are zips), each member's."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    response.close()
    return list(texts_of(raw))


def texts_of(raw):
    yield raw.decode("utf-8", "replace")
    if raw.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            for name in archive.namelist():
                yield from texts_of(archive.read(name))


def expectation(persona, route, call):
    """(status or "sign-in", whether the tenant's data may change) for this person and call."""
    who = route.who.get(call.method) or next(iter(route.who.values()))
    if not persona.may(who):
        if who is Who.API_KEY:
            return 401, False
        return ("sign-in" if not persona.signed_in else 403), False
    if call.method not in route.who:
        return 405, False
    if persona.outsider and call.foreign:
        return call.foreign, False
    return call.success(), call.writes and not persona.outsider


def send(client, url, call, tenant):
    if call.method == "GET":
        return client.get(url, call.query)
    return client.post(url, call.data(tenant) if call.data else {})


def walk_calls():
    """(name, route, call) in declaration order, each method the URL does not take tried once,
    and the calls that end the session last."""
    ordered = sorted(ROUTES.items(), key=lambda item: item[1].ends_session)
    for name, route in ordered:
        calls = list(route.all_calls())
        calls += [Call(method) for method in ("GET", "POST") if method not in route.who]
        for call in calls:
            yield name, route, call


def walk(client, persona, tenant, other):
    """Every call as `persona`; returns the problems found, one line each."""
    own, foreign = (other, tenant) if persona.outsider else (tenant, other)
    problems = []
    state = TenantState(tenant.organization)
    after = state.read()
    for name, route, call in walk_calls():
        url = reverse(name, kwargs=route.url_kwargs(tenant))
        where = f"{call.method} {url}{'?' + '&'.join(f'{k}={v}' for k, v in call.query.items()) if call.query else ''}"
        before = after
        response = send(client, url, call, tenant)
        texts = body_texts(response)
        after = state.read()
        changed = changed_tables(before, after)
        status, may_write = expectation(persona, route, call)

        if status == "sign-in":
            if response.status_code != 302 or not response["Location"].startswith(reverse("login") + "?next="):
                problems.append(f"{where}: {response.status_code}, not sent to sign in")
        elif response.status_code not in (status if isinstance(status, tuple) else (status,)):
            problems.append(f"{where}: {response.status_code}, expected {status}")
        elif status == 401 and response.json().get("error") != "unauthorized":
            problems.append(f"{where}: 401 without the JSON error")
        if may_write and not changed:
            problems.append(f"{where}: an allowed call that writes changed nothing (is its data still valid?)")
        if changed and not may_write:
            problems.append(f"{where}: changed {changed}")
        if any(foreign.marker in text for text in texts):
            problems.append(f"{where}: the body holds the other organization's {foreign.marker!r}")
        if call.exports_rows and isinstance(status, tuple) and not any(own.marker in text for text in texts[1:] or texts):
            problems.append(f"{where}: the export holds none of the organization's own rows")
    return problems


def person_for(persona, tenant, other):
    if persona.outsider:
        return other.admin
    return admin_in(tenant.organization, *persona.roles)


@pytest.mark.parametrize(
    "persona", [ANONYMOUS, NO_ADMIN_ROLE, *ROLE_PERSONAS, OUTSIDER], ids=lambda persona: persona.label.replace(" ", "-")
)
def test_each_person_gets_exactly_what_their_roles_allow_and_never_another_tenants_data(client, worlds, persona):
    tenant, other = worlds
    if persona.signed_in:
        client.force_login(person_for(persona, tenant, other))
    problems = walk(client, persona, tenant, other)
    assert problems == [], f"as {persona.label}:\n" + "\n".join(problems)


# --- Django admin: support staff only ----------------------------------------------------------------------

# Any id is "1": the refusal comes before the object is looked up.
SAMPLE_KWARGS = {"app_label": "billing", "url": "no-such-page/"}


def admin_url(route):
    """A URL of an admin pattern, its parameters filled with sample values."""
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_KWARGS.get(m[1], "1"), route)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE_KWARGS.get(m[1], "1"), route)
    return "/" + route.replace("^", "").replace("$", "")


@pytest.mark.parametrize("who", ["anonymous", "a tenant's Global Administrator who is not staff"])
def test_django_admin_shows_no_page_but_its_sign_in_to_anyone_but_support_staff(client, org, who):
    if who != "anonymous":
        client.force_login(admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR))
    urls = sorted({admin_url(route) for _key, route in site_patterns() if is_admin(route)})
    assert len(urls) > 100, "every model's admin pages are walked"
    problems = []
    for url in urls:
        for method in ("get", "post"):
            response = getattr(client, method)(url, follow=True)
            landed = response.resolver_match
            if response.status_code != 200 or (landed.namespace, landed.url_name) != ("admin", "login"):
                problems.append(f"{method.upper()} {url}: {response.status_code} at {response.request['PATH_INFO']}")
            elif "Site administration" in response.content.decode():
                problems.append(f"{method.upper()} {url}: shows the admin index")
    assert problems == [], "\n".join(problems)
