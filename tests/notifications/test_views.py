"""The Message center and the notification settings pages."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from django_tables2 import RequestConfig

from billing.choices import AdminRole
from notifications import kinds, selectors, services
from notifications.models import Delivery, DeliveryStatus, LowBalanceThreshold, RolePreference
from notifications.tables import EventTable
from tests.billing.test_views import table_body
from tests.factories import admin_in

pytestmark = pytest.mark.django_db

MESSAGE_CENTER = reverse("notifications:message_center")
SETTINGS = reverse("notifications:settings")


def record(org, kind=kinds.BALANCE_DEPLETED, key=None, **context):
    with transaction.atomic():
        return services.record_event(
            kind=kind, organization=org, account=org.credit_account, context=context, dedupe_key=key
        )


def test_the_message_center_lists_notifications_with_recipients_and_delivery_state(client, org, billing_admin, reports_reader):
    event = record(org, key="a")
    Delivery.objects.filter(event=event, email=reports_reader.email).update(status=DeliveryStatus.FAILED, last_error="550")
    Delivery.objects.filter(event=event, email=billing_admin.email).update(
        status=DeliveryStatus.SENT, sent_at=event.occurred_at
    )
    client.force_login(reports_reader)

    page = client.get(MESSAGE_CENTER).content.decode()

    assert "<h1>Message center</h1>" in page
    assert "Balance reached zero" in page
    assert "Contoso Test: your Communications Credits balance reached zero" in page
    assert "1 sent, 1 failed" in page
    assert reverse("notifications:event", args=[event.pk]) in page
    assert billing_admin.get_full_name() in page and reports_reader.get_full_name() in page


def test_a_notification_to_many_admins_lists_the_first_few_and_counts_the_rest(client, org, billing_admin):
    for _ in range(6):
        admin_in(org, AdminRole.USER_ADMINISTRATOR)
    record(org, key="many")
    client.force_login(billing_admin)

    page = client.get(MESSAGE_CENTER).content.decode()

    assert "and 4 more" in page


def test_the_event_page_lists_each_recipient_with_roles_and_state(client, org, billing_admin):
    person = admin_in(org, AdminRole.GLOBAL_ADMINISTRATOR, AdminRole.TEAMS_ADMINISTRATOR)
    event = record(org, key="a")
    client.force_login(billing_admin)

    page = client.get(reverse("notifications:event", args=[event.pk])).content.decode()

    assert person.email in page and billing_admin.email in page
    assert "Global Administrator, Teams Administrator" in page
    assert "Pending" in page


def test_another_organizations_notification_is_not_found(client, org, other_org, outsider, billing_admin):
    theirs = record(other_org, key="theirs")
    client.force_login(billing_admin)

    assert client.get(reverse("notifications:event", args=[theirs.pk])).status_code == 404
    assert "Outsider Corp" not in client.get(MESSAGE_CENTER).content.decode()


def test_support_only_notifications_never_appear_to_tenants(client, org, billing_admin):
    support_event = record(org, kind="reconciliation_mismatch", problem="balance 1 but the ledger sums to 2")
    client.force_login(billing_admin)

    assert "Ledger mismatch" not in client.get(MESSAGE_CENTER).content.decode()
    assert client.get(reverse("notifications:event", args=[support_event.pk])).status_code == 404


def test_a_member_without_an_admin_role_cannot_open_the_message_center(client, plain_member):
    client.force_login(plain_member)

    assert client.get(MESSAGE_CENTER).status_code == 403
    assert client.get(SETTINGS).status_code == 403


def test_the_message_center_needs_a_sign_in(client):
    response = client.get(MESSAGE_CENTER)

    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_message_center_filters_by_notification_and_state(client, org, billing_admin):
    record(org, key="zero")
    record(org, kind="monthly_cap_reached", cap="100.00", spent="100.00", resumes_at="2026-12-01T00:00:00+00:00")
    Delivery.objects.filter(event__kind="monthly_cap_reached").update(status=DeliveryStatus.FAILED)
    client.force_login(billing_admin)

    by_kind = client.get(MESSAGE_CENTER, {"kind": "monthly_cap_reached"}).content.decode()
    failed = client.get(MESSAGE_CENTER, {"state": "failed"}).content.decode()
    waiting = client.get(MESSAGE_CENTER, {"state": "waiting"}).content.decode()

    assert "cap of $100.00 reached" in by_kind and "Credits balance reached zero" not in by_kind
    assert "cap of $100.00 reached" in failed and "Credits balance reached zero" not in failed
    assert "Credits balance reached zero" in waiting and "cap of $100.00 reached" not in waiting


def test_the_message_center_issues_the_same_few_queries_for_many_notifications(
    client, org, billing_admin, django_assert_max_num_queries
):
    for person in range(5):
        admin_in(org, AdminRole.HELPDESK_ADMINISTRATOR)
    client.force_login(billing_admin)
    record(org, key="first")
    with django_assert_max_num_queries(8) as few:
        assert client.get(MESSAGE_CENTER).status_code == 200
    for i in range(40):
        record(org, key=f"e{i}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(MESSAGE_CENTER).status_code == 200
    detail = reverse("notifications:event", args=[record(org, key="x").pk])
    with django_assert_max_num_queries(9):
        assert client.get(detail).status_code == 200


def test_the_message_center_counts_its_notifications_once_and_pages_by_25(client, org, billing_admin, django_assert_max_num_queries):
    for i in range(30):
        record(org, key=f"e{i}")
    client.force_login(billing_admin)
    with django_assert_max_num_queries(20) as queries:
        first = client.get(MESSAGE_CENTER).content.decode()
    counts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(")]
    assert len(counts) == 1, counts
    second = client.get(MESSAGE_CENTER, {"page": 2}).content.decode()
    rows = lambda html: html.split("<tbody")[1].split("</tbody>")[0].count("<tr")  # noqa: E731
    assert rows(first) == 25 and rows(second) == 5


def test_a_billing_admin_chooses_who_receives_optional_notifications(client, org, billing_admin):
    client.force_login(billing_admin)
    data = {t.code: [AdminRole.GLOBAL_ADMINISTRATOR] for t in kinds.OPTIONAL}
    data[kinds.LOW_BALANCE] = [AdminRole.HELPDESK_ADMINISTRATOR, AdminRole.LICENSE_ADMINISTRATOR]

    response = client.post(SETTINGS, data)

    assert response.status_code == 302
    enabled = set(
        RolePreference.objects.filter(organization=org, kind=kinds.LOW_BALANCE, enabled=True).values_list("role", flat=True)
    )
    assert enabled == {AdminRole.HELPDESK_ADMINISTRATOR, AdminRole.LICENSE_ADMINISTRATOR}
    page = client.get(SETTINGS).content.decode()
    assert 'value="helpdesk_administrator"' in page and "Notification recipients saved." in page


def test_other_admins_see_the_settings_but_cannot_change_them(client, org, reports_reader):
    client.force_login(reports_reader)

    page = client.get(SETTINGS).content.decode()

    assert "Only a Global Administrator or a Billing Administrator can change" in page
    assert "disabled" in page
    assert client.post(SETTINGS, {kinds.LOW_BALANCE: [AdminRole.HELPDESK_ADMINISTRATOR]}).status_code == 403
    assert client.post(reverse("notifications:add_threshold"), {"amount": "20"}).status_code == 403
    assert not RolePreference.objects.exists() and not LowBalanceThreshold.objects.exists()


def test_a_billing_admin_adds_and_removes_a_low_balance_warning(client, org, billing_admin):
    client.force_login(billing_admin)

    added = client.post(reverse("notifications:add_threshold"), {"amount": "25.00"})
    threshold = LowBalanceThreshold.objects.get(organization=org)
    page = client.get(SETTINGS).content.decode()
    removed = client.post(reverse("notifications:remove_threshold", args=[threshold.pk]))

    assert added.status_code == 302 and removed.status_code == 302
    assert threshold.amount == Decimal("25.00")
    assert "Below <strong>$25.00</strong>" in page
    assert not LowBalanceThreshold.objects.exists()


def test_an_invalid_threshold_is_explained_beside_the_field(client, org, billing_admin):
    client.force_login(billing_admin)

    response = client.post(reverse("notifications:add_threshold"), {"amount": "0.10"})

    assert response.status_code == 400
    assert 'id="id_amount_error"' in response.content.decode()


def test_another_organizations_threshold_cannot_be_removed(client, other_org, outsider, billing_admin):
    theirs = services.add_low_balance_threshold(organization=other_org, actor=outsider, amount="10")
    client.force_login(billing_admin)

    assert client.post(reverse("notifications:remove_threshold", args=[theirs.pk])).status_code == 404
    assert LowBalanceThreshold.objects.filter(pk=theirs.pk).exists()


def test_the_navigation_links_to_the_message_center(client, billing_admin):
    client.force_login(billing_admin)

    page = client.get(reverse("billing:products")).content.decode()

    assert f'href="{MESSAGE_CENTER}"' in page


def test_the_message_center_body_joined_in_python_is_the_body_django_tables2_renders(rf, org, billing_admin, reports_reader):
    event = record(org, key="a")
    Delivery.objects.filter(event=event, email=reports_reader.email).update(status=DeliveryStatus.FAILED, last_error="550")
    record(org, kind="monthly_cap_reached", cap="100.00", spent="100.00", resumes_at="2026-12-01T00:00:00+00:00")
    for i in range(4):
        admin_in(org, AdminRole.HELPDESK_ADMINISTRATOR)
    record(org, key="many")
    request = rf.get(reverse("notifications:message_center"))
    request.user = billing_admin
    rows = selectors.with_first_recipients(selectors.organization_events(org))
    ours, theirs = EventTable(rows), EventTable(rows, template_name="django_tables2/table.html")
    for table in (ours, theirs):
        RequestConfig(request, paginate={"per_page": 25}).configure(table)
    fast = table_body(ours.fast_tbody())
    assert fast.count("<tr") == 3
    assert fast == table_body(theirs.as_html(request))
