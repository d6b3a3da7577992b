"""What the URL walk (test_url_walk.py) knows about each URL pattern of the site: how to call it (its
kwargs from the seeded organization, the methods it accepts and the data they take), whether a call
changes state, and who may make it. A pattern missing here fails the walk.

Who may do what comes from the access rules, read once: `billing.access` (AdminCenterMixin: any
admin role; BillingManagerMixin: BILLING_MANAGER_ROLES) and `usage.access` (UsageImportMixin and
ApiKeyManagerMixin: IMPORT_ROLES). No view asks anything else of a role, so a person's rights are
decided by three facts: holding any admin role, holding a billing manager role, holding an import role.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum

from django.apps import apps
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from billing import services
from billing.choices import BILLING_MANAGER_ROLES, AdminRole, PurchaseChannel
from billing.models import CreditAccount, Organization, PaymentMethod, Receipt, SandboxCharge
from billing.views import CONFIRM_SALT
from notifications import kinds
from notifications.models import Event
from notifications.services import add_low_balance_threshold
from tests.factories import CardFactory, OrganizationFactory, admin_in
from tests.usage.detection_scenario import seed_incident
from tests.usage.factories import PersonFactory, csv_bytes, export_row, graph_call, graph_sms, page
from usage.access import IMPORT_ROLES
from usage.models import CallRecord, DestinationRule, Export
from usage.selectors import parameters_for
from usage.services import guard
from usage.services.api_keys import create_api_key
from usage.services.exports.jobs import build_export
from usage.services.ingest import import_graph_payload
from usage.services.report_delivery import save_subscription
from usage.tables import CallRecordTable

# --- The two organizations: the same shapes, each with text that only it has -----------------------------


@dataclass
class World:
    """One organization's seeded objects; `marker` is in its name, its people, its ledger memos and
    its key names, and nowhere in the other organization's."""

    marker: str
    organization: Organization
    card: PaymentMethod
    spare_card: PaymentMethod  # the one a billing manager removes during the walk
    payment_key: str
    receipt_number: str
    event_id: int
    threshold_id: int
    token_id: int
    export_id: object
    call_id: int  # a call record, for its "Why this charge" page
    upn: str
    admin: object  # its Global Administrator: the outsider when this is the other organization
    person_id: int = 0  # its person, for the spend guard's forms
    override_id: int = 0  # a spend guard override (the person's caps)
    rule_id: int = 0  # the default premium-rate rule: lifted, then restored, by the walk
    block_id: int = 0  # a credit block on the person, lifted by the walk
    incident_id: int = 0  # an open incident of spike detection, to act on
    dismiss_incident_id: int = 0  # another one, to dismiss

    subscription_id: int = 0  # a scheduled report (usage.ReportSubscription)

    @property
    def pk(self):
        return self.organization.pk


def seed_organization(name, marker, *, slug):
    """An organization with every kind of object a URL can name, built through the services."""
    # Volume Licensing, so that every payment method (cards and enterprise agreements) can be added.
    organization = OrganizationFactory(name=f"{name} {marker}", slug=slug, purchase_channel=PurchaseChannel.VOLUME_LICENSING)
    admin = admin_in(organization, AdminRole.GLOBAL_ADMINISTRATOR)
    card = CardFactory(organization=organization)
    spare_card = CardFactory(organization=organization, last4="4444", brand="mastercard")
    payment = services.fund_credits(
        organization=organization, actor=admin, amount=Decimal("100.00"), payment_method=card, idempotency_key=f"walk:{slug}"
    )
    account = CreditAccount.objects.get(organization=organization)
    services.adjust_balance(account=account, actor=admin, amount=Decimal("5.00"), reason=f"{marker} goodwill credit")
    upn = f"{slug}-user@{slug}.test"
    person = PersonFactory(organization=organization, upn=upn, display_name=f"{marker} Person", licenses="MCOPSTN1 MCOPSTNPP")
    yesterday = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    import_graph_payload(organization, page([graph_call(upn=upn, start=yesterday, userDisplayName=f"{marker} Person")]), "pstn")
    import_graph_payload(organization, page([graph_sms(upn=upn, start=yesterday, userDisplayName=f"{marker} Person")], sms=True), "sms")
    threshold = add_low_balance_threshold(organization=organization, actor=admin, amount=Decimal("20.00"))
    token, _key = create_api_key(organization=organization, name=f"{marker} key", actor=admin)
    # A finished background export of the organization's calls, as its task leaves it.
    export = Export.objects.create(
        organization=organization, created_by=admin, kind="pstn", format="xlsx", rows_total=1,
        parameters=parameters_for("pstn", yesterday.date(), yesterday.date(), {}),
        expires_at=datetime.now(UTC) + timedelta(days=7),
    )
    build_export(export.pk)
    call = CallRecord.objects.filter(organization=organization).order_by("pk").first()
    override = guard.save_policy(organization, actor=admin, scope="person", person=person, person_day_cap="30.00")
    block = guard.block_person(organization, person, actor=admin, reason=f"{marker} suspicious calls")
    # The incidents are about another person: the spend guard's walk blocks this world's person already.
    night = PersonFactory(organization=organization, upn=f"{slug}-night@{slug}.test", display_name=f"{marker} Night", licenses="MCOPSTNPP")
    incident_ids = [seed_incident(organization, night, marker, hours).pk for hours in (1, 3)]
    subscription = save_subscription(organization=organization, actor=admin, report="allocation", frequency="weekly",
                                     recipients=[admin])
    return World(
        marker=marker,
        organization=organization,
        card=card,
        spare_card=spare_card,
        payment_key=payment.idempotency_key,
        receipt_number=Receipt.objects.get(entry=payment.entry).number,
        event_id=Event.objects.filter(organization=organization).order_by("pk").values_list("pk", flat=True).first(),
        threshold_id=threshold.pk,
        token_id=token.pk,
        export_id=export.public_id,
        call_id=call.pk,
        upn=upn,
        admin=admin,
        person_id=person.pk,
        override_id=override.pk,
        rule_id=DestinationRule.objects.get(organization=organization, default_key="premium-rate").pk,
        block_id=block.pk,
        incident_id=incident_ids[0],
        dismiss_incident_id=incident_ids[1],
        subscription_id=subscription.pk,
    )



# --- Who may call what ------------------------------------------------------------------------------------


class Who(Enum):
    ANYONE = "anyone, signed in or not"
    API_KEY = "an organization's usage API key (a session never opens the API)"
    MEMBER = "any signed-in member"
    ADMIN = "any admin role in the current organization"
    IMPORT = "an import role (usage.access.IMPORT_ROLES)"
    BILLING = "a billing manager role (billing.choices.BILLING_MANAGER_ROLES)"


@dataclass(frozen=True)
class Persona:
    """Who walks: anonymous (signed_in False), a member of the tenant with `roles` (none: no admin
    role), or `outsider`: a Global Administrator of the other organization using the tenant's ids."""

    label: str
    signed_in: bool = True
    roles: frozenset = frozenset()
    outsider: bool = False

    def may(self, who: Who) -> bool:
        return {
            Who.ANYONE: True,
            Who.API_KEY: False,
            Who.MEMBER: self.signed_in,
            Who.ADMIN: bool(self.roles),
            Who.IMPORT: bool(self.roles & IMPORT_ROLES),
            Who.BILLING: bool(self.roles & BILLING_MANAGER_ROLES),
        }[who]


def role_group(role):
    """The three facts that decide every right (see the module's docstring)."""
    return (role in BILLING_MANAGER_ROLES, role in IMPORT_ROLES)


ANONYMOUS = Persona("anonymous", signed_in=False)
NO_ADMIN_ROLE = Persona("a member with no admin role")
OUTSIDER = Persona("an admin of another organization", roles=frozenset({AdminRole.GLOBAL_ADMINISTRATOR}), outsider=True)
ROLE_PERSONAS = [Persona(role.label, roles=frozenset({role})) for role in AdminRole]


# --- How each URL is called -------------------------------------------------------------------------------

# How an object of the other tenant is answered: 404 when the URL names it; a form naming it is
# answered like any invalid choice (400), and in both cases nothing changes.
NOT_FOUND = 404
FORM_ERROR = 400


@dataclass(frozen=True)
class Call:
    method: str
    query: dict = field(default_factory=dict)
    data: object = None  # World -> POST data, made afresh for each call (an upload is read once)
    writes: bool = False  # the tenant's data changes when an allowed person makes this call
    foreign: int | None = None  # how the outsider is answered: the call names a tenant object (NOT_FOUND, FORM_ERROR)
    exports_rows: bool = False  # the body is an export or a download of the organization's rows
    ok: tuple = ()  # statuses of success, when not the method's usual ones (below)

    def success(self):
        return self.ok or ((200,) if self.method == "GET" else (200, 201, 302))


@dataclass(frozen=True)
class Route:
    who: dict  # method -> Who; every other method answers 405 to those who pass the guard
    calls: tuple = ()  # the calls the walk makes; by default one plain call per method
    kwargs: object = None  # World -> the URL's kwargs
    ends_session: bool = False  # walked last

    def all_calls(self):
        return self.calls or tuple(Call(method) for method in self.who)

    def url_kwargs(self, world):
        return self.kwargs(world) if self.kwargs else {}


def upload(world):
    row = export_row(UPN=world.upn, **{"User Display Name": f"{world.marker} Person"})
    return {"kind": "pstn", "file": SimpleUploadedFile("PSTN.calls.csv", csv_bytes([row]), content_type="text/csv")}


def add_funds_confirmation(world):
    """Step 2 of Add funds, signed as the page signs it for this organization."""
    payload = {"amount": "20.00", "payment_method": world.card.pk, "purchase_order": "", "key": "walk:confirm",
               "organization": world.pk}
    return {"token": signing.dumps(payload, salt=CONFIRM_SALT)}


def recipients_changed(world):
    return {kinds.OPTIONAL[0].code: [AdminRole.USER_ADMINISTRATOR]}


GET, POST = "GET", "POST"
REPORT = {"range": "90"}

ROUTES = {
    "home": Route({GET: Who.ADMIN}),
    "switch_organization": Route(
        {POST: Who.MEMBER}, calls=(Call(POST, data=lambda w: {"organization": w.pk}, foreign=NOT_FOUND),)
    ),
    "login": Route(
        {GET: Who.ANYONE, POST: Who.ANYONE},
        # A signed-in person is sent home; a wrong password shows the form again.
        calls=(Call(GET, ok=(200, 302)), Call(POST, data=lambda w: {"username": "nobody@example.test", "password": "x"}, ok=(200, 302))),
    ),
    "logout": Route({POST: Who.ANYONE}, ends_session=True),
    "billing:products": Route({GET: Who.ADMIN}),
    "billing:credits": Route({GET: Who.ADMIN}),
    "billing:add_funds": Route(
        {GET: Who.BILLING, POST: Who.BILLING},
        calls=(
            Call(GET),
            Call(POST, data=lambda w: {"amount": "20.00", "payment_method": w.card.pk}, foreign=FORM_ERROR),
            Call(POST, data=add_funds_confirmation, writes=True, foreign=NOT_FOUND),
        ),
    ),
    "billing:auto_recharge": Route(
        {GET: Who.BILLING, POST: Who.BILLING},
        calls=(
            Call(GET),
            Call(POST, writes=True, foreign=FORM_ERROR, data=lambda w: {
                "enabled": "on", "recharge_amount": "50.00", "recharge_trigger": "10.00", "payment_method": w.card.pk}),
        ),
    ),
    "billing:turn_off_auto_recharge": Route({POST: Who.BILLING}, calls=(Call(POST, writes=True),)),
    "billing:transactions": Route(
        {GET: Who.ADMIN},
        calls=(
            Call(GET),
            Call(GET, query={"kind": "adjustment"}),
            Call(GET, query={"export": "csv"}, exports_rows=True),
            Call(GET, query={"export": "csv", "kind": "adjustment"}, exports_rows=True),
        ),
    ),
    # Billing > Communications Credits > Rate lookup and Rates: every admin reads them; the rate table
    # is the site's (not an organization's), so its exports hold no tenant rows.
    # Walked before usage:import, whose upload adds the other organization's person (by name) to an
    # outsider's own organization: the lookup's person picker would then list that name.
    "rates:lookup": Route(
        {GET: Who.ADMIN},
        calls=(Call(GET), Call(GET, query={"number": "+44 20 7946 0958"}), Call(GET, query={"country": "GB", "number_type": "mobile"})),
    ),
    "rates:table": Route(
        {GET: Who.ADMIN},
        calls=(Call(GET), Call(GET, query={"country": "US", "sort": "-per_unit"}), Call(GET, query={"export": "csv"}),
               Call(GET, query={"export": "xlsx"})),
    ),
    # Billing > Communications Credits > Where the credits go: every admin reads it and its export;
    # scheduled reports are read by every admin and changed by billing managers.
    "allocation:report": Route(
        {GET: Who.ADMIN},
        calls=(Call(GET), Call(GET, query={**REPORT, "group": "person"}), Call(GET, query={"group": "country", "department": "-"}),
               Call(GET, query={**REPORT, "export": "xlsx"}, exports_rows=True)),
    ),
    "allocation:subscriptions": Route(
        {GET: Who.ADMIN, POST: Who.BILLING},
        calls=(Call(GET), Call(POST, data=lambda w: {"report": "pstn_export", "frequency": "monthly", "recipients": [w.admin.pk]},
                               writes=True, foreign=FORM_ERROR)),
    ),
    "allocation:delete_subscription": Route(
        {POST: Who.BILLING}, kwargs=lambda w: {"pk": w.subscription_id}, calls=(Call(POST, writes=True, foreign=NOT_FOUND),)
    ),
    "billing:add_card": Route(
        {GET: Who.BILLING, POST: Who.BILLING},
        calls=(Call(GET), Call(POST, writes=True, data=lambda w: {
            "number": "4242424242424242", "exp_month": "12", "exp_year": "2031", "cvc": "123"})),
    ),
    "billing:add_agreement": Route(
        {GET: Who.BILLING, POST: Who.BILLING},
        calls=(Call(GET), Call(POST, writes=True, data=lambda w: {"agreement_number": "EA-WALK-1"})),
    ),
    "billing:remove_payment_method": Route(
        {POST: Who.BILLING}, kwargs=lambda w: {"pk": w.spare_card.pk}, calls=(Call(POST, writes=True, foreign=NOT_FOUND),)
    ),
    "billing:payment": Route({GET: Who.ADMIN}, kwargs=lambda w: {"key": w.payment_key}, calls=(Call(GET, foreign=NOT_FOUND),)),
    "billing:receipt": Route({GET: Who.ADMIN}, kwargs=lambda w: {"number": w.receipt_number}, calls=(Call(GET, foreign=NOT_FOUND),)),
    "notifications:message_center": Route({GET: Who.ADMIN}, calls=(Call(GET), Call(GET, query={"state": "sent"}))),
    "notifications:event": Route({GET: Who.ADMIN}, kwargs=lambda w: {"pk": w.event_id}, calls=(Call(GET, foreign=NOT_FOUND),)),
    "notifications:settings": Route(
        {GET: Who.ADMIN, POST: Who.BILLING}, calls=(Call(GET), Call(POST, data=recipients_changed, writes=True))
    ),
    "notifications:add_threshold": Route({POST: Who.BILLING}, calls=(Call(POST, data=lambda w: {"amount": "15.00"}, writes=True),)),
    "notifications:remove_threshold": Route(
        {POST: Who.BILLING}, kwargs=lambda w: {"pk": w.threshold_id}, calls=(Call(POST, writes=True, foreign=NOT_FOUND),)
    ),
    # Billing > Communications Credits > Spend guard: every admin sees it; the billing managers change it.
    "guard:home": Route({GET: Who.ADMIN}),
    "guard:audit": Route({GET: Who.ADMIN}),
    "guard:policy": Route(
        {GET: Who.BILLING, POST: Who.BILLING},
        calls=(Call(GET), Call(POST, writes=True, data=lambda w: {
            "call_cap": "5.00", "person_day_cap": "20.00", "organization_day_cap": "200.00", "cap_action": "stop"})),
    ),
    "guard:override_add": Route(
        {GET: Who.BILLING, POST: Who.BILLING},
        calls=(Call(GET), Call(POST, writes=True, data=lambda w: {
            "scope": "department", "department": "Walk", "person_day_cap": "12.00", "cap_action": "warn"}),
            Call(POST, foreign=FORM_ERROR, data=lambda w: {"scope": "person", "person": w.person_id, "person_day_cap": "-1"}, ok=(400,))),
    ),
    "guard:override_edit": Route(
        {GET: Who.BILLING, POST: Who.BILLING}, kwargs=lambda w: {"pk": w.override_id},
        calls=(Call(GET, foreign=NOT_FOUND), Call(POST, writes=True, foreign=NOT_FOUND, data=lambda w: {"person_day_cap": "31.00"})),
    ),
    "guard:override_delete": Route(
        {GET: Who.BILLING, POST: Who.BILLING}, kwargs=lambda w: {"pk": w.override_id},
        calls=(Call(GET, foreign=NOT_FOUND), Call(POST, writes=True, foreign=NOT_FOUND)),
    ),
    "guard:rule_add": Route(
        {GET: Who.BILLING, POST: Who.BILLING},
        calls=(Call(GET), Call(POST, writes=True, foreign=FORM_ERROR, data=lambda w: {
            "action": "block", "country": "CU", "scope": "person", "person": w.person_id, "description": "Walk"})),
    ),
    "guard:rule": Route(
        {GET: Who.BILLING, POST: Who.BILLING}, kwargs=lambda w: {"pk": w.rule_id},
        calls=(Call(GET, foreign=NOT_FOUND), Call(POST, writes=True, foreign=NOT_FOUND, data=lambda w: {"action": "lift"})),
    ),
    # After guard:rule, which lifted the default premium-rate rule: restoring it changes something.
    "guard:restore_defaults": Route({GET: Who.BILLING, POST: Who.BILLING}, calls=(Call(GET), Call(POST, writes=True))),
    "guard:block_add": Route(
        {GET: Who.BILLING, POST: Who.BILLING},
        calls=(Call(GET), Call(POST, writes=True, foreign=FORM_ERROR, data=lambda w: {"person": w.person_id, "reason": "Walk"})),
    ),
    "guard:block_lift": Route(
        {GET: Who.BILLING, POST: Who.BILLING}, kwargs=lambda w: {"pk": w.block_id},
        calls=(Call(GET, foreign=NOT_FOUND), Call(POST, writes=True, foreign=NOT_FOUND)),
    ),
    "usage:report": Route(
        {GET: Who.ADMIN},
        calls=(Call(GET), Call(GET, query=REPORT), Call(GET, query={**REPORT, "user": "outsider-user@outsider.test"}),
               Call(GET, query={**REPORT, "sort": "-charge"})),
    ),
    "usage:sms_report": Route({GET: Who.ADMIN}, calls=(Call(GET, query=REPORT),)),
    "usage:record": Route(
        {GET: Who.ADMIN}, kwargs=lambda w: {"kind": "pstn", "pk": w.call_id}, calls=(Call(GET, foreign=NOT_FOUND),)
    ),
    "usage:edit_columns": Route(
        {POST: Who.ADMIN}, kwargs=lambda w: {"kind": "pstn"},
        calls=(Call(POST, writes=True, data=lambda w: {"shown": [name for name, _ in CallRecordTable.column_choices()][:3]}),),
    ),
    "usage:export_create": Route(
        {POST: Who.ADMIN}, kwargs=lambda w: {"kind": "pstn"},
        # Small exports download at once and record nothing.
        calls=(
            Call(POST, data=lambda w: {"format": "xlsx", "query": "range=90"}, exports_rows=True),
            Call(POST, data=lambda w: {"format": "csv_zip", "query": "range=90"}, exports_rows=True),
            Call(POST, data=lambda w: {"format": "xlsx", "query": "range=90&user=outsider-user@outsider.test"}),
        ),
    ),
    "usage:downloads": Route({GET: Who.ADMIN}),
    "usage:export": Route(
        {GET: Who.ADMIN}, kwargs=lambda w: {"public_id": w.export_id},
        calls=(Call(GET, foreign=NOT_FOUND), Call(GET, query={"format": "json"}, foreign=NOT_FOUND)),
    ),
    "usage:export_file": Route(
        {GET: Who.ADMIN}, kwargs=lambda w: {"public_id": w.export_id}, calls=(Call(GET, foreign=NOT_FOUND, exports_rows=True),)
    ),
    "usage:import": Route({GET: Who.IMPORT, POST: Who.IMPORT}, calls=(Call(GET), Call(POST, data=upload, writes=True))),
    "usage:api_keys": Route(
        {GET: Who.ADMIN, POST: Who.IMPORT}, calls=(Call(GET), Call(POST, data=lambda w: {"name": "Walk key"}, writes=True))
    ),
    "usage:api_key_created": Route({GET: Who.IMPORT}),
    "usage:api_key_revoke": Route(
        {GET: Who.IMPORT, POST: Who.IMPORT}, kwargs=lambda w: {"pk": w.token_id},
        calls=(Call(GET, foreign=NOT_FOUND), Call(POST, writes=True, foreign=NOT_FOUND)),
    ),
    "usage:recommendation": Route({GET: Who.ADMIN}),
    # Billing > Communications Credits > Spend guard > Incidents: every admin reads them; acting on one
    # needs a billing manager role (the confirmation page too).
    "incidents:list": Route({GET: Who.ADMIN}, calls=(Call(GET), Call(GET, query={"status": "open"}))),
    "incidents:detail": Route({GET: Who.ADMIN}, kwargs=lambda w: {"pk": w.incident_id}, calls=(Call(GET, foreign=NOT_FOUND),)),
    **{
        f"incidents:{action}": Route(
            {GET: Who.BILLING, POST: Who.BILLING}, kwargs=lambda w, a=action: {"pk": w.dismiss_incident_id if a == "dismiss" else w.incident_id},
            calls=(Call(GET, foreign=NOT_FOUND), Call(POST, writes=True, foreign=NOT_FOUND)),
        )
        for action in ("block_person", "block_destination", "dismiss")
    },
    # The JSON API answers 401 to every session: its calls with a key are in tests/usage/test_openapi*.py.
    "usage_api:pstn_calls": Route({POST: Who.API_KEY}),
    "usage_api:sms": Route({POST: Who.API_KEY}),
    "usage_api:authorize": Route({GET: Who.API_KEY}, calls=(Call(GET, query={"user": "a@b.test", "number": "+12065550100"}),)),
    "usage_api:rate_lookup": Route({GET: Who.API_KEY}, calls=(Call(GET, query={"number": "+12065550100"}),)),
    # The API's OpenAPI document: no sign-in, no tenant data.
    "usage_api:openapi": Route({GET: Who.ANYONE}),
    # For monitors: no sign-in, no tenant data; 503 names a server that does not answer.
    "health": Route({GET: Who.ANYONE}, calls=(Call(GET, ok=(200, 503)),)),
    "health_ready": Route({GET: Who.ANYONE}, calls=(Call(GET, ok=(200, 503)),)),
}


# --- What "nothing changed" means: every row that belongs to the organization -----------------------------


def _scoped_models():
    """(model, lookup to the organization) for every model holding a tenant's rows."""
    found = []
    for model in apps.get_models():
        names = {f.name for f in model._meta.concrete_fields}
        if "organization" in names:
            found.append((model, "organization"))
        elif "account" in names and model._meta.get_field("account").related_model is CreditAccount:
            found.append((model, "account__organization"))
        elif model is SandboxCharge:
            found.append((model, None))  # the gateway's own record: a charge moves money whoever asked
    return found


class TenantState:
    """Every row of the organization (and every gateway charge), read before and after each call.
    The queries are built once and run as plain SQL: the walk reads the state a few thousand times."""

    def __init__(self, organization):
        self.queries = []
        for model, lookup in _scoped_models():
            rows = model.objects.all() if lookup is None else model.objects.filter(**{lookup: organization})
            sql, params = rows.order_by("pk").values_list().query.sql_with_params()
            self.queries.append((model._meta.label, sql, params))

    def read(self):
        state = {}
        with connection.cursor() as cursor:
            for label, sql, params in self.queries:
                cursor.execute(sql, params)
                state[label] = cursor.fetchall()
        return state


def changed_tables(before, after):
    return sorted(label for label in before if before[label] != after[label])
