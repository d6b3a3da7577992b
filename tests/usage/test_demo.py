"""The demo: a few months of realistic, deterministic usage for Contoso, loaded by load_demo, safe twice."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import LedgerEntry, Organization
from usage.models import CallRecord, CapCrossing, Person, RateCard, SmsRecord, SpendPolicy

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot(org):
    calls = list(
        CallRecord.objects.filter(organization=org).order_by("usage_id").values_list("usage_id", "start_time", "call_type", "charge", "rating")
    )
    return calls, SmsRecord.objects.filter(organization=org).count()


def test_load_demo_gives_contoso_rated_calls_and_sms_and_loading_it_again_changes_nothing(settings):
    settings.USAGE_DEMO_DAYS = 14
    call_command("load_demo", stdout=io.StringIO())
    contoso = Organization.objects.get(slug="contoso")
    calls, sms = snapshot(contoso)
    ratings = {rating for *_, rating in calls}
    assert len(calls) > 300 and sms > 20
    assert {"included_plan", "included_conference", "free_inbound", "charged", "refused"} <= ratings
    charges = LedgerEntry.objects.filter(account__organization=contoso, kind="usage_charge").count()
    assert charges > 0
    # Issue 13's demo: both calling plans, dial-out to Zone A and beyond, toll-free numbers, a recent price change.
    plans = {p.calling_plan for p in Person.objects.filter(organization=contoso, is_resource_account=False)}
    assert plans == {"MCOPSTN1", "MCOPSTN2"}
    reasons = list(CallRecord.objects.filter(organization=contoso).values_list("rating_reason", flat=True))
    assert any("(Zone A)" in r for r in reasons) and any("outside Zone A" in r for r in reasons)
    assert any(r.startswith("Toll-free inbound") for r in reasons)
    # The spend guard: a policy with caps that Contoso's normal days stay below; premium numbers blocked by default.
    assert SpendPolicy.objects.get(organization=contoso, scope="organization").person_day_cap is not None
    assert not CapCrossing.objects.filter(organization=contoso).exists()
    assert any("Spend guard: destination rule #" in r for r in reasons)
    cards = RateCard.objects.filter(status="applied").order_by("effective_from")
    assert cards.count() == 2 and cards.last().effective_from >= timezone.now().date() - timedelta(days=90)
    call_command("load_demo", stdout=io.StringIO())
    assert snapshot(contoso) == (calls, sms)
    assert LedgerEntry.objects.filter(account__organization=contoso, kind="usage_charge").count() == charges
    assert RateCard.objects.count() == 2


def test_the_same_days_always_give_the_same_rows(settings):
    settings.USAGE_DEMO_DAYS = 3
    call_command("load_demo", stdout=io.StringIO())
    contoso = Organization.objects.get(slug="contoso")
    first, _ = snapshot(contoso)
    CallRecord.objects.all().delete()
    SmsRecord.objects.all().delete()
    call_command("load_usage_demo", stdout=io.StringIO())
    again, _ = snapshot(contoso)
    assert [c[:3] for c in again] == [c[:3] for c in first]


def test_support_staff_can_manage_rates_in_django_admin(client, settings):
    settings.USAGE_DEMO_DAYS = 1
    call_command("load_demo", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="support@credits.example"))
    assert client.get("/admin/usage/rate/").status_code == 200
    assert client.get("/admin/usage/rate/add/").status_code == 200
    assert client.get("/admin/usage/callrecord/").status_code == 200
    assert client.get("/admin/usage/callrecord/add/").status_code == 403
