"""Every page a person can see, for the browser tests: the admin center's pages (PAGES) and the Django
admin pages support staff may open (admin_pages), each with the heading it must show and the main
action that must stay reachable. `unvisited_get_patterns` finds the GET URL patterns that no visit
covers and NO_VISIT does not explain, so a new page cannot be missed silently."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings
from django.contrib import admin
from django.urls import URLResolver, get_resolver, reverse
from playwright.sync_api import expect

from billing.models import CreditAccount
from tests.e2e.helpers import sign_in
from tests.e2e.site_demo import GLOBAL_ADMIN, READER, SUPPORT, SiteDemo
from usage.models import RateCard

# GET URL patterns that are not pages, so no visit; each says why.
NO_VISIT = {
    "usage:export_file": "a file download (the keyboard journey downloads one)",
    "usage_api:authorize": "JSON for scripts holding an API key",
    "usage_api:rate_lookup": "JSON for scripts holding an API key (the page it answers like is visited: rates:lookup)",
    "usage_api:openapi": "the API's OpenAPI document (JSON, checked by tests/usage/test_openapi.py)",
    "health": "JSON for monitors",
    "health_ready": "JSON for load balancers",
    "admin:logout": "signs out; answers POST only",
    "admin:autocomplete": "JSON for the admin's autocomplete widgets",
    "admin:jsi18n": "JavaScript (the admin's translations)",
    "admin:view_on_site": "a redirect to the object's page on the site",
    "admin:billing_reconciliationmismatch_run": "a POST action (the button on the mismatches list); GET redirects back",
}
# Patterns without a name, by their view; none of them shows a page of its own.
UNNAMED_NO_VISIT = {
    "RedirectView": "the admin's <id>/ address, redirected to the object's change page",
    "AdminSite.catch_all_view": "any other admin address: a redirect to the sign-in page, or the 404 page",
}
# Django renders every model's history page with one template: one of them is visited.
ADMIN_HISTORY_VISITED = "admin:billing_creditaccount_history"
# The heading of an admin delete page: "Delete" since Django 6.1 ("Are you sure?" before).
DELETE_HEADING = re.compile(r"^(Delete|Are you sure\?)$")


@dataclass(frozen=True)
class Page:
    label: str  # names the page in failures and screenshots
    heading: str | re.Pattern  # the h1 it must show, so a visit that lands elsewhere fails
    who: str | None  # the email of the person who opens it; None: nobody signed in
    covers: str | None = None  # the URL name it visits; None for a page reached through a form
    url: Callable[[SiteDemo], str] | None = None  # its address, when it is not reverse(covers)
    steps: Callable | None = None  # steps(page, live_url, demo) reach a page that no address shows alone
    status: int = 200
    action: Callable | None = None  # action(main) is the control that must stay reachable on any screen

    def open(self, page, live_url, demo):
        if self.steps:
            self.steps(page, live_url, demo)
        else:
            address = self.url(demo) if self.url else reverse(self.covers)
            response = page.goto(live_url + address)
            assert response.status == self.status, f"{self.label}: HTTP {response.status}, expected {self.status}"
        expect(page.get_by_role("heading", level=1)).to_have_text(self.heading)

    def main_action(self, page):
        return self.action(page.get_by_role("main")) if self.action else None


def button(name):
    return lambda main: main.get_by_role("button", name=name)


def link(name):
    return lambda main: main.get_by_role("link", name=name).first


def url_of(name, **demo_fields):
    """The address of a pattern whose arguments come from the demo (keyword: the demo's field)."""
    return lambda demo: reverse(name, kwargs={key: getattr(demo, field) for key, field in demo_fields.items()})


def record_url(kind, field):
    """The address of a record's "Why this charge" page; the record's id is the demo's `field`."""
    return lambda demo: reverse("usage:record", kwargs={"kind": kind, "pk": getattr(demo, field)})


def review_a_purchase(page, live_url, demo):
    page.goto(f"{live_url}{reverse('billing:add_funds')}")
    page.get_by_label("Amount").fill("25")
    page.get_by_role("button", name="Review purchase").click()


def ask_for_a_recharge_now(page, live_url, demo):
    """A trigger above the balance: saving would charge at once, so the page asks first."""
    page.goto(f"{live_url}{reverse('billing:auto_recharge')}")
    page.get_by_label("Recharge with").fill("500")
    page.get_by_label("When the balance falls below").fill("400")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Saving will charge your card now")).to_be_visible()


def lose_the_database_connection(page, live_url, demo):
    """The page a request answers when its database connection is lost on both tries
    (credits_site.middleware): given to the browser as the server renders it, for one address."""
    from credits_site.middleware import service_unavailable
    from tests.e2e.conftest import FULFILLED_BY_TEST

    address = f"{live_url}{reverse('billing:credits')}"
    body = service_unavailable().content
    page.route(address, lambda route: route.fulfill(
        status=503, content_type="text/html; charset=utf-8", headers={"Retry-After": "5", FULFILLED_BY_TEST: "503"}, body=body))
    try:
        response = page.goto(address)
    finally:
        page.unroute(address)
    assert response.status == 503


def open_edit_columns(page, live_url, demo):
    page.goto(f"{live_url}{reverse('usage:report')}")
    page.get_by_text("Edit columns").click()
    expect(page.get_by_role("group", name="Columns to show")).to_be_visible()


def open_chart_data(page, live_url, demo):
    page.goto(f"{live_url}{reverse('usage:report')}")
    page.get_by_text("Chart data as a table").click()
    expect(page.get_by_role("table", name="Calls and charges per UTC day")).to_be_visible()


def create_a_key(page, live_url, demo):
    page.goto(f"{live_url}{reverse('usage:api_keys')}")
    page.get_by_label("Key name").fill("Nightly import")
    page.get_by_role("button", name="Create key").click()


def lock_out(page, live_url, demo):
    """Wrong passwords for one address until django-axes locks it (other addresses are not locked)."""
    page.goto(f"{live_url}{reverse('login')}")
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        if page.get_by_role("heading", name="Too many sign-in attempts").is_visible():
            return
        page.get_by_label("Email").fill("someone@contoso.example")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()


PAGES = [
    Page("Sign in", "Sign in to the admin center", None, "login", action=button("Sign in")),
    Page("Locked out", "Too many sign-in attempts", None, steps=lock_out, action=link("Back to the sign-in page")),
    Page("Home", "Welcome, Gabriel", GLOBAL_ADMIN, "home", action=link("Go to Communications Credits")),
    Page("Your products", "Your products", GLOBAL_ADMIN, "billing:products", action=link("Communications Credits")),
    Page("Communications Credits", "Communications Credits", GLOBAL_ADMIN, "billing:credits", action=link("Add funds")),
    Page("Add funds", "Add funds", GLOBAL_ADMIN, "billing:add_funds", action=button("Review purchase")),
    Page("Add funds confirmation", "Confirm your purchase", GLOBAL_ADMIN, steps=review_a_purchase, action=button(re.compile("^Pay "))),
    Page("Payment", "Funds added", GLOBAL_ADMIN, "billing:payment", url_of("billing:payment", key="payment_key"),
         action=lambda main: main.get_by_test_id("receipt-link")),
    Page("Receipt", re.compile("^Receipt "), GLOBAL_ADMIN, "billing:receipt", url_of("billing:receipt", number="receipt_number"),
         action=button("Print")),
    Page("Transactions", "Transactions", GLOBAL_ADMIN, "billing:transactions", action=button("Filter")),
    Page("Rate lookup", "Rate lookup", READER, "rates:lookup", action=button("Look up")),
    Page("Rate lookup: an answer", "Rate lookup", READER, "rates:lookup", action=button("Look up"),
         url=lambda demo: reverse("rates:lookup") + "?number=%2B44+20+7946+0958&user=avery.adams%40contoso.example"),
    Page("Rate lookup: a number that is not one", "Rate lookup", READER, "rates:lookup", action=button("Look up"),
         url=lambda demo: reverse("rates:lookup") + "?number=call+me"),
    Page("Rates", "Rates", GLOBAL_ADMIN, "rates:table", action=button("Filter")),
    Page("Spend guard", "Spend guard", GLOBAL_ADMIN, "guard:home", action=link("Edit caps")),
    Page("Spend guard (read-only)", "Spend guard", READER, "guard:home", action=link("Audit log")),
    Page("Spend guard: audit log", "Spend guard audit log", READER, "guard:audit"),
    Page("Spend guard: caps", "Edit caps", GLOBAL_ADMIN, "guard:policy", action=button("Save caps")),
    Page("Spend guard: add an override", "Add an override", GLOBAL_ADMIN, "guard:override_add", action=button("Save override")),
    Page("Spend guard: edit an override", "Edit an override", GLOBAL_ADMIN, "guard:override_edit",
         url_of("guard:override_edit", pk="guard_override_id"), action=button("Save override")),
    Page("Spend guard: remove an override", "Remove override", GLOBAL_ADMIN, "guard:override_delete",
         url_of("guard:override_delete", pk="guard_override_id"), action=button("Remove override")),
    Page("Spend guard: add a rule", "Add a destination rule", GLOBAL_ADMIN, "guard:rule_add", action=button("Add rule")),
    Page("Spend guard: a default rule", re.compile("^Destination rule #"), GLOBAL_ADMIN, "guard:rule",
         url_of("guard:rule", pk="guard_rule_id"), action=button("Lift rule")),
    Page("Spend guard: restore defaults", "Restore the default rules", GLOBAL_ADMIN, "guard:restore_defaults",
         action=button("Restore defaults")),
    Page("Spend guard: block a person", "Block a person's credit calls", GLOBAL_ADMIN, "guard:block_add",
         action=button("Block credit calls")),
    Page("Spend guard: lift a block", "Lift a credit block", GLOBAL_ADMIN, "guard:block_lift",
         url_of("guard:block_lift", pk="guard_block_id"), action=button("Lift block")),
    Page("Where the credits go", "Where the credits go", READER, "allocation:report", action=button("Run report")),
    Page("Where the credits go: the people of a department", "Where the credits go", GLOBAL_ADMIN, "allocation:report",
         url=lambda demo: reverse("allocation:report") + "?range=90&group=person&department=Sales", action=button("Run report")),
    Page("Scheduled reports", "Scheduled reports", GLOBAL_ADMIN, "allocation:subscriptions", action=button("Schedule report")),
    Page("Scheduled reports (read only)", "Scheduled reports", READER, "allocation:subscriptions",
         action=link("Where the credits go")),
    Page("Add a card", "Add a card", GLOBAL_ADMIN, "billing:add_card", action=button("Add card")),
    Page("Add an agreement", "Add an enterprise agreement", GLOBAL_ADMIN, "billing:add_agreement", action=button("Add agreement")),
    Page("Auto-recharge settings", "Edit auto recharge settings", GLOBAL_ADMIN, "billing:auto_recharge", action=button("Save")),
    Page("Auto-recharge charge-now confirmation", "Edit auto recharge settings", GLOBAL_ADMIN, steps=ask_for_a_recharge_now,
         action=button(re.compile("^Save and charge "))),
    Page("Usage report (PSTN)", "PSTN and SMS usage", GLOBAL_ADMIN, "usage:report", action=button("Run report")),
    Page("Usage report: edit columns", "PSTN and SMS usage", GLOBAL_ADMIN, steps=open_edit_columns, action=button("Save columns")),
    Page("Usage report: chart data", "PSTN and SMS usage", GLOBAL_ADMIN, steps=open_chart_data),
    Page("Usage report (SMS)", "PSTN and SMS usage", GLOBAL_ADMIN, "usage:sms_report", action=button("Run report")),
    Page("Why this charge: a charged call", "Why this charge", GLOBAL_ADMIN, "usage:record",
         record_url("pstn", "charged_call_id"), action=link("Back to the report")),
    Page("Why this charge: a call from a pool", "Why this charge", READER, "usage:record",
         record_url("pstn", "pool_call_id"), action=link("Back to the report")),
    Page("Why this charge: an SMS", "Why this charge", GLOBAL_ADMIN, "usage:record",
         record_url("sms", "sms_id"), action=link("Back to the report")),
    Page("Export progress", "Original format (.zip of CSV files)", GLOBAL_ADMIN, "usage:export",
         url_of("usage:export", public_id="export_id"), action=link(re.compile("^Download"))),
    Page("Downloads", "Downloads", GLOBAL_ADMIN, "usage:downloads", action=link(re.compile("^Download"))),
    Page("Import usage", "Import usage", GLOBAL_ADMIN, "usage:import", action=button("Import")),
    Page("How many credits to buy", "How many credits to buy", GLOBAL_ADMIN, "usage:recommendation",
         action=link("Set up auto-recharge")),
    Page("API keys", "API keys", GLOBAL_ADMIN, "usage:api_keys", action=button("Create key")),
    Page("New API key", "New API key", GLOBAL_ADMIN, "usage:api_key_created", steps=create_a_key, action=button("Copy key")),
    Page("Revoke an API key", "Revoke API key", GLOBAL_ADMIN, "usage:api_key_revoke", url_of("usage:api_key_revoke", pk="api_key_id"),
         action=button("Revoke key")),
    Page("Incidents", "Incidents", READER, "incidents:list", action=button("Filter")),
    Page("Incident", re.compile("^Incident: "), GLOBAL_ADMIN, "incidents:detail", url_of("incidents:detail", pk="incident_id"),
         action=link("Dismiss as expected")),
    Page("Incident, read-only", re.compile("^Incident: "), READER, "incidents:detail", url_of("incidents:detail", pk="incident_id")),
    Page("Block the person of an incident", "Block the person's credit calls", GLOBAL_ADMIN, "incidents:block_person",
         url_of("incidents:block_person", pk="incident_id"), action=button("Block credit calls")),
    Page("Block the destination of an incident", "Block the destination", GLOBAL_ADMIN, "incidents:block_destination",
         url_of("incidents:block_destination", pk="incident_id"), action=button("Block the destination")),
    Page("Dismiss an incident", "Dismiss as expected", GLOBAL_ADMIN, "incidents:dismiss", url_of("incidents:dismiss", pk="incident_id"),
         action=button("Dismiss incident")),
    Page("Message center", "Message center", GLOBAL_ADMIN, "notifications:message_center", action=button("Filter")),
    Page("Message center: a notification", "Transaction succeeded", GLOBAL_ADMIN, "notifications:event",
         url_of("notifications:event", pk="event_id"), action=link("Open the page the email links to")),
    Page("Notification settings", "Notification settings", GLOBAL_ADMIN, "notifications:settings", action=button("Save recipients")),
    Page("Not found (404)", "Page not found", GLOBAL_ADMIN, url=lambda demo: "/billing/receipts/NO-SUCH-RECEIPT/", status=404,
         action=link("Back to the admin center")),
    Page("Not allowed (403)", "You can't do this here", READER, url=lambda demo: reverse("billing:add_funds"), status=403,
         action=link("Back to the admin center")),
    Page("Database connection lost (503)", "Try again in a moment", READER, steps=lose_the_database_connection,
         action=link("go back to the admin center")),
]


def first_pk(model):
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the demo has no {model._meta.verbose_name}: add one in tests/e2e/site_demo.py"
    return obj.pk


def of_first(name, model):
    """The address of a page about the first object of `model` (found when the page is opened)."""
    return lambda demo: reverse(name, args=[first_pk(model)])


def admin_pages(support_user):
    """The Django admin pages this support person may open: every model's list and change page, the
    add and delete pages where they may add or delete, one history page, and the custom pages."""
    request = SimpleNamespace(user=support_user)  # all that the admin's permission checks read
    pages = [
        Page("Admin sign-in", "Log in", None, "admin:login", action=button("Log in")),
        Page("Admin: home", "Site administration", SUPPORT, "admin:index"),
        Page("Admin: billing", "Billing administration", SUPPORT, "admin:app_list", url=lambda demo: reverse("admin:app_list", args=["billing"])),
        Page("Admin: password change", "Password change", SUPPORT, "admin:password_change", action=button("Change my password")),
        Page("Admin: password changed", "Password change successful", SUPPORT, "admin:password_change_done"),
        Page("Admin: adjust or refund", re.compile("^Adjust or refund: "), SUPPORT, "admin:billing_creditaccount_move_money",
             of_first("admin:billing_creditaccount_move_money", CreditAccount), action=button("Post to the ledger")),
        Page("Admin: ledger reconciliation", "Ledger reconciliation", SUPPORT, "admin:billing_creditaccount_reconciliation"),
        Page("Admin: a history", re.compile("^Change history: "), SUPPORT, ADMIN_HISTORY_VISITED, of_first(ADMIN_HISTORY_VISITED, CreditAccount)),
        Page("Admin: import a rate card", "Import a rate card", SUPPORT, "admin:usage_rate_import_card", action=button("Preview the card")),
        Page("Admin: a rate card", re.compile("^Rate card: "), SUPPORT, "admin:usage_rate_preview_card",
             of_first("admin:usage_rate_preview_card", RateCard), action=link("Back to the rates")),
        Page("Admin: export a rate card", "Export a rate card", SUPPORT, "admin:usage_rate_export_card", action=button("Download the CSV")),
    ]
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_permission(request):
            continue
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        pages += [
            Page(f"Admin: {opts.verbose_name_plural}", re.compile(r"^Select .+ to (view|change)$"), SUPPORT, f"{prefix}_changelist"),
            Page(f"Admin: a {opts.verbose_name}", re.compile("^(View|Change) "), SUPPORT, f"{prefix}_change", of_first(f"{prefix}_change", model)),
        ]
        if model_admin.has_add_permission(request):
            pages.append(Page(f"Admin: add a {opts.verbose_name}", re.compile("^Add "), SUPPORT, f"{prefix}_add", action=button("Save")))
        if model_admin.has_delete_permission(request):
            pages.append(Page(f"Admin: delete a {opts.verbose_name}", DELETE_HEADING, SUPPORT, f"{prefix}_delete",
                              of_first(f"{prefix}_delete", model)))
    return pages


def admin_pages_not_for(support_user):
    """The standard admin pages this support person cannot open (403), or that repeat a visited one."""
    request = SimpleNamespace(user=support_user)
    names = {}
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        if not model_admin.has_view_permission(request):
            every = (f"admin:{pattern.name}" for pattern in model_admin.get_urls() if pattern.name)
            names |= dict.fromkeys(every, "support cannot open it")
            continue
        if not model_admin.has_add_permission(request):
            names[f"{prefix}_add"] = "support cannot add one"
        if not model_admin.has_delete_permission(request):
            names[f"{prefix}_delete"] = "support cannot delete one"
        names[f"{prefix}_history"] = "the same template as the history page visited"
    names.pop(ADMIN_HISTORY_VISITED)
    return names


def unvisited_get_patterns(support_user):
    """(missing, stale): the GET URL patterns that no visit covers and nothing explains, and the
    patterns NO_VISIT or UNNAMED_NO_VISIT explain that no longer exist."""
    visited = {page.covers for page in PAGES + admin_pages(support_user) if page.covers}
    explained = visited | NO_VISIT.keys() | admin_pages_not_for(support_user).keys()
    seen, missing = set(), []
    for name, view, answers_get in url_patterns():
        seen.add(name or view)
        if not answers_get:
            continue  # POST only: its result is a page of the list, or a redirect to one
        if name is None and view not in UNNAMED_NO_VISIT:
            missing.append(f"an unnamed pattern of {view}")
        elif name is not None and name not in explained:
            missing.append(name)
    stale = sorted((NO_VISIT.keys() | UNNAMED_NO_VISIT.keys()) - seen)
    return missing, stale


def become(page, live_url, who):
    """Sign out (cookies cleared), then sign in as `who`: support to the Django admin, others to the admin center."""
    page.context.clear_cookies()
    if who == SUPPORT:
        page.goto(f"{live_url}{reverse('admin:login')}")
        page.get_by_label("Username").fill(who)
        page.get_by_label("Password").fill(SiteDemo.password(who))
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Site administration")
    elif who is not None:
        sign_in(page, live_url, who, SiteDemo.password(who))


def visit_each(page, live_url, demo, pages, subtests, check):
    """Open each page as its person, then check(page, visit); one failing page does not hide the others."""
    who = object()
    for visit in pages:
        with subtests.test(msg=visit.label):
            if visit.who != who:
                become(page, live_url, visit.who)
                who = visit.who
            visit.open(page, live_url, demo)
            check(page, visit)


def url_patterns(resolver=None, namespace=""):
    """(name with its namespace, or None; the view's name; whether it answers GET) for every URL pattern."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern, namespace + (f"{pattern.namespace}:" if pattern.namespace else ""))
            continue
        view_class = getattr(pattern.callback, "view_class", None)
        view = view_class.__name__ if view_class else pattern.callback.__qualname__
        # A class-based view without get() is POST-only; a function view is taken to answer GET.
        answers_get = view_class is None or ("get" in view_class.http_method_names and hasattr(view_class, "get"))
        yield (f"{namespace}{pattern.name}" if pattern.name else None), view, answers_get
