"""The spend guard in rating: destination rules and their precedence, caps per call, per person and per
organization per day at "warn only" and at "stop", credit blocks and lifting them, the audit trail, the
cap-reached announcement (once per person per day), and the reasons the report shows."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from notifications.emails import build_message
from notifications.models import Event
from tests.factories import credit_block, destination_rule, spend_policy
from tests.usage.factories import RateFactory, at, fund, graph_call, graph_sms, page
from tests.usage.test_rating import rate
from usage.models import CallRecord, CapCrossing, CreditBlock, DestinationRule, GuardChange
from usage.services import guard
from usage.services.api_keys import create_api_key
from usage.services.guard import GuardError, SpendGuard
from usage.services.ingest import import_graph_payload
from usage.services.ingest.kinds import MESSAGES as SMS
from usage.services.rating import RatingContext
from usage.services.rating.authorization import authorize_call
from usage.spend_guard import CapKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("destinations")]
D = Decimal
HOUR = 60 * 60  # an hour to the US costs 0.78 USD (0.013 a minute) for dave, who pays every minute


@pytest.fixture(autouse=True)
def satellite_rate(db):
    return RateFactory(prefix="881", country="", per_unit=D("5.00"), description="Satellite")


def fresh(org):
    return RatingContext(org, balance=D("100.00"), allowed=True)


def call(ctx, upn="dave@contoso.test", callee="+12065550100", seconds=HOUR, start=None, **extra):
    outcome, record = rate(ctx, graph_call(upn=upn, callee=callee, seconds=seconds, start=start or at(), **extra))
    return outcome


# --- Destination rules ------------------------------------------------------------------------------------


def test_every_organization_starts_with_the_default_rules_visible_and_liftable(org):
    rules = DestinationRule.objects.filter(organization=org)
    keys = set(rules.values_list("default_key", flat=True))
    assert "premium-rate" in keys and "hr-881" in keys and "hr-cu" in keys
    assert all(rule.action == "block" and rule.scope == "organization" and rule.lifted_at is None for rule in rules)


def test_a_default_high_risk_prefix_refuses_the_call_with_the_rule_in_the_reason(org, people, rates):
    rule = DestinationRule.objects.get(organization=org, default_key="hr-881")
    outcome = call(fresh(org), callee="+881234567890")
    assert outcome.rating == "refused" and outcome.charge == 0
    assert f"Spend guard: destination rule #{rule.pk} blocks +881" in outcome.reason and "a default rule" in outcome.reason


def test_the_most_specific_rule_wins(org, people, rates):
    dave = people["dave"]
    destination_rule(org, action="block", country="GB", description="No calls to the UK")
    destination_rule(org, action="allow", prefix="4420", description="London is fine")
    g = SpendGuard.load(org)
    # Longest prefix beats the country; the country beats nothing.
    assert g.rule_for(dave.pk, "442071234567", "GB", "landline").description == "London is fine"
    assert g.rule_for(dave.pk, "441611234567", "GB", "landline").description == "No calls to the UK"
    assert g.rule_for(dave.pk, "12065550100", "US", "landline") is None
    # A person's rule beats the organization's; a department's sits in between.
    dave.department = "Sales"
    dave.save()
    destination_rule(org, action="allow", country="GB", scope="department", department="Sales", description="Sales calls the UK")
    destination_rule(org, action="block", country="GB", scope="person", person=dave, description="Not Dave")
    g = SpendGuard.load(org)
    assert g.rule_for(dave.pk, "441611234567", "GB", "landline").description == "Not Dave"
    assert g.rule_for(people["carol"].pk, "441611234567", "GB", "landline").description == "No calls to the UK"
    carol = people["carol"]
    carol.department = "Sales"
    carol.save()
    assert SpendGuard.load(org).rule_for(carol.pk, "441611234567", "GB", "landline").description == "Sales calls the UK"


def test_country_and_type_beat_country_and_block_wins_a_tie(org, people, rates):
    destination_rule(org, action="allow", country="GB", description="UK ok")
    destination_rule(org, action="block", country="GB", number_type="mobile", description="No UK mobiles")
    destination_rule(org, action="allow", number_type="mobile", description="mobiles ok")
    destination_rule(org, action="block", number_type="mobile", description="mobiles not ok")
    g = SpendGuard.load(org)
    assert g.rule_for(None, "447700900000", "GB", "mobile").description == "No UK mobiles"
    assert g.rule_for(None, "4930123", "DE", "mobile").description == "mobiles not ok"


def test_a_person_allow_rule_overrides_the_default_premium_block(org, people, rates):
    destination_rule(org, action="allow", number_type="premium", scope="person", person=people["carol"], description="Hotline")
    assert call(fresh(org), upn="carol@contoso.test", callee="+449098790000", seconds=60).rating == "charged"
    assert call(fresh(org), upn="dave@contoso.test", callee="+449098790000", seconds=60).rating == "refused"


def test_allow_one_country_only(org, people, rates):
    destination_rule(org, action="block", scope="person", person=people["dave"], description="Only the US")
    destination_rule(org, action="allow", country="US", scope="person", person=people["dave"], description="US ok")
    assert call(fresh(org), callee="+12065550100").rating == "charged"
    outcome = call(fresh(org), callee="+4930123456")
    assert outcome.rating == "refused" and "Only the US" in outcome.reason


def test_a_lifted_rule_no_longer_applies_and_restore_defaults_brings_it_back(org, people, rates, global_admin):
    premium = DestinationRule.objects.get(organization=org, default_key="premium-rate")
    guard.lift_rule(org, premium.pk, actor=global_admin)
    assert call(fresh(org), upn="carol@contoso.test", callee="+449098790000", seconds=60).rating == "charged"
    with pytest.raises(GuardError):
        guard.delete_rule(org, premium.pk, actor=global_admin)
    assert guard.restore_defaults(org, actor=global_admin) == 1
    assert call(fresh(org), upn="carol@contoso.test", callee="+449098790000", seconds=60).rating == "refused"
    actions = list(GuardChange.objects.filter(organization=org, subject="rule").values_list("action", flat=True))
    assert actions == ["restored", "lifted"]


def test_block_destination_is_an_organization_rule_and_idempotent(org, people, rates, global_admin):
    rule = guard.block_destination(org, "pg", actor=global_admin, reason="Fraud to Papua New Guinea", incident=42)
    assert (rule.country, rule.action, rule.scope, rule.incident_id) == ("PG", "block", "organization", 42)
    assert guard.block_destination(org, "PG", actor=global_admin, reason="again") == rule
    assert call(fresh(org), callee="+67570123456").rating == "refused"


def test_rule_validation_says_what_is_wrong(org, other_org):
    with pytest.raises(GuardError) as error:
        destination_rule(org, action="block", country="XX", prefix="+44a")
    assert set(error.value.errors) == {"country", "prefix"}
    stranger = other_org.usage_people.create(upn="x@outsider.test")
    with pytest.raises(GuardError) as error:
        destination_rule(org, action="block", country="GB", scope="person", person=stranger)
    assert "person" in error.value.errors


def test_inbound_and_plan_calls_are_not_refused_by_destination_rules(org, people, rates):
    destination_rule(org, action="block", country="US", description="No US")
    assert call(fresh(org), upn="alice@contoso.test", callee="+12065550100").rating == "included_plan"
    assert call(fresh(org), callee="+12065550100").rating == "refused"


def test_sms_follow_country_rules(org, people, rates):
    destination_rule(org, action="block", country="GB", description="No UK")
    outcome, _ = rate(fresh(org), graph_sms(upn="hank@contoso.test", to="+447700900000", other_country="GB"), kind=SMS)
    assert outcome.rating == "refused" and "No UK" in outcome.reason


# --- Caps -------------------------------------------------------------------------------------------------


def test_no_caps_no_blocks_no_rules_means_no_guard(org):
    DestinationRule.objects.filter(organization=org).delete()
    assert SpendGuard.load(org) is None
    spend_policy(org, cap_action="warn")
    assert SpendGuard.load(org) is None


def test_a_call_over_the_cap_per_call_at_warn_only_is_charged_and_recorded(org, people, rates):
    spend_policy(org, call_cap="0.50", cap_action="warn")
    ctx = fresh(org)
    outcome = call(ctx)
    assert outcome.rating == "charged" and outcome.charge == D("0.78")
    assert "cap per call of 0.50 USD" in outcome.reason and "(warn only)" in outcome.reason
    ctx.save_guard()
    crossing = CapCrossing.objects.get(organization=org)
    assert (crossing.cap, crossing.person_id, crossing.action, crossing.spent) == ("call", people["dave"].pk, "warn", D("0.78"))
    assert not CreditBlock.objects.filter(organization=org).exists()


def test_a_call_over_the_cap_per_call_at_stop_is_refused_and_stops_the_person_for_the_day(org, people, rates):
    spend_policy(org, call_cap="0.50", cap_action="stop")
    ctx = fresh(org)
    first = call(ctx)
    assert first.rating == "refused" and "cap per call of 0.50 USD" in first.reason and "until the next day" in first.reason
    assert call(ctx, seconds=60).rating == "refused"  # small, but the person is stopped for the day
    assert call(ctx, upn="hank@contoso.test", seconds=60).rating == "charged"  # someone else
    assert call(ctx, seconds=60, start=at("2024-05-07")).rating == "charged"  # the next day
    ctx.save_guard()
    block = CreditBlock.objects.get(organization=org)
    assert block.person_id == people["dave"].pk and block.cap == "call" and block.cap_day == at().date()
    assert block.until == at("2024-05-07", "00:00:00") and block.created_by is None


def test_the_cap_per_person_per_day_charges_within_it_and_refuses_beyond(org, people, rates):
    spend_policy(org, person_day_cap="2.00", cap_action="stop")
    ctx = fresh(org)
    outcomes = [call(ctx, start=at(time=f"{9 + i:02d}:00:00")) for i in range(4)]  # 0.78 each
    assert [o.rating for o in outcomes] == ["charged", "charged", "refused", "refused"]
    assert "cap per person per day of 2.00 USD for dave@contoso.test on 2024-05-06: 2.34 with this call" in outcomes[2].reason
    assert ctx.charged_total == D("1.56")


def test_the_calls_after_the_one_that_reached_a_cap_say_it_was_reached_earlier(org, people, rates):
    spend_policy(org, person_day_cap="2.00", cap_action="stop")
    ctx = fresh(org)
    outcomes = [call(ctx, start=at(time=f"{9 + i:02d}:00:00")) for i in range(4)]  # 0.78 each
    assert "2.34 with this call" in outcomes[2].reason
    assert "with this call" not in outcomes[3].reason
    assert "cap per person per day of 2.00 USD for dave@contoso.test reached earlier on 2024-05-06 (2.34 with the call that reached it)" in outcomes[3].reason


def test_warn_only_charges_everything_and_tells_the_billing_admins_once_per_person_per_day(org, people, rates, billing_admin):
    fund(org)
    spend_policy(org, person_day_cap="1.00", call_cap="0.10", cap_action="warn")
    rows = [graph_call(upn="dave@contoso.test", seconds=HOUR, start=at(time=f"{9 + i:02d}:00:00")) for i in range(3)]
    result = import_graph_payload(org, page(rows), "pstn")
    assert result.charged == 3 and result.refused == 0
    assert set(CapCrossing.objects.filter(organization=org).values_list("cap", flat=True)) == {"call", "person_day"}
    events = Event.objects.filter(organization=org, kind="spend_cap_reached")
    assert events.count() == 1
    assert events.get().context["who"] == "Dave (dave@contoso.test)" and events.get().deliveries.exists()
    message = build_message(events.get().deliveries.first())
    assert message.subject == "Contoso Test: spend guard cap per call of $0.10 reached by Dave (dave@contoso.test)"
    assert "Dave (dave@contoso.test) reached the cap per call of $0.10 on 2024-05-06 (UTC): $0.78" in message.body
    assert "still charged to credits" in message.body
    # The next import the same day: no new announcement.
    import_graph_payload(org, page([graph_call(upn="dave@contoso.test", seconds=HOUR, start=at(time="15:00:00"))]), "pstn")
    assert Event.objects.filter(organization=org, kind="spend_cap_reached").count() == 1


def test_running_totals_start_from_what_is_already_charged_that_day(org, people, rates):
    fund(org)
    first = import_graph_payload(org, page([graph_call(upn="dave@contoso.test", seconds=HOUR, start=at(time="09:00:00"))]), "pstn")
    assert first.charged == 1
    spend_policy(org, person_day_cap="1.00", organization_day_cap="50.00", cap_action="stop")
    second = import_graph_payload(org, page([graph_call(upn="dave@contoso.test", seconds=HOUR, start=at(time="10:00:00"))]), "pstn")
    assert second.refused == 1
    record = CallRecord.objects.get(batch=second.batch)
    assert "1.56 with this call" in record.rating_reason


def test_the_organization_cap_stops_every_call_charged_to_credits_that_day(org, people, rates):
    spend_policy(org, organization_day_cap="1.00", cap_action="stop")
    ctx = fresh(org)
    assert call(ctx).rating == "charged"
    assert call(ctx, upn="hank@contoso.test").rating == "refused"
    assert call(ctx, upn="gina@contoso.test", seconds=60).rating == "refused"
    ctx.save_guard()
    block = CreditBlock.objects.get(organization=org)
    assert block.person_id is None and block.cap == "organization_day"


def test_an_override_for_a_person_or_department_replaces_the_organization_cap(org, people, rates):
    spend_policy(org, person_day_cap="1.00", cap_action="stop")
    spend_policy(org, scope="person", person=people["dave"], person_day_cap="5.00")
    hank = people["hank"]
    hank.department = "Support"
    hank.save()
    spend_policy(org, scope="department", department="Support", person_day_cap="0.50", cap_action="warn")
    ctx = fresh(org)
    assert [call(ctx).rating for _ in range(3)] == ["charged"] * 3
    assert call(ctx, upn="hank@contoso.test").rating == "charged"  # 0.78 > 0.50, but warn only
    assert ctx.guard.limits(hank.pk) == (None, D("0.50"), "warn")
    assert ctx.guard.limits(people["carol"].pk) == (None, D("1.00"), "stop")


def test_policy_validation(org):
    with pytest.raises(GuardError) as error:
        spend_policy(org, call_cap="-1", person_day_cap="abc")
    assert set(error.value.errors) == {"call_cap", "person_day_cap"}
    with pytest.raises(GuardError) as error:
        spend_policy(org, scope="department", department="Sales", organization_day_cap="5")
    assert "organization_day_cap" in error.value.errors


# --- Blocks -----------------------------------------------------------------------------------------------


def test_a_block_refuses_calls_from_its_start_and_lifting_it_charges_again(org, people, rates, global_admin):
    block = credit_block(org, people["dave"], actor=global_admin, incident=7)
    assert block.incident_id == 7 and block.created_by == global_admin
    soon = block.starts_at + timedelta(minutes=5)
    before = block.starts_at - timedelta(hours=1)
    ctx = fresh(org)
    outcome = call(ctx, start=soon)
    assert outcome.rating == "refused" and f"credit block #{block.pk}" in outcome.reason
    assert call(ctx, start=before).rating == "charged"  # made before the block
    assert call(ctx, upn="hank@contoso.test", start=soon).rating == "charged"
    guard.lift_block(org, block.pk, actor=global_admin)
    assert call(fresh(org), start=soon).rating == "charged"
    assert list(GuardChange.objects.filter(subject="block", subject_id=block.pk).values_list("action", flat=True)) == ["lifted", "created"]


def test_lifting_a_cap_block_leaves_the_cap_warning_for_the_rest_of_the_day(org, people, rates, global_admin):
    spend_policy(org, person_day_cap="1.00", cap_action="stop")
    ctx = fresh(org)
    assert [call(ctx).rating for _ in range(2)] == ["charged", "refused"]
    ctx.save_guard()
    block = CreditBlock.objects.get(organization=org)
    assert call(fresh(org), start=at(time="11:00:00")).rating == "refused"
    guard.lift_block(org, block.pk, actor=global_admin)
    # These tests rate without importing: nothing is charged yet that day, so a 2-hour call crosses the cap.
    outcome = call(fresh(org), start=at(time="12:00:00"), seconds=2 * HOUR)
    assert outcome.rating == "charged" and "(warn only)" in outcome.reason


def test_blocks_and_rules_of_another_organization_are_not_found(org, other_org, people, global_admin):
    block = credit_block(org, people["dave"], actor=global_admin)
    rule = DestinationRule.objects.filter(organization=org).first()
    with pytest.raises(CreditBlock.DoesNotExist):
        guard.lift_block(other_org, block.pk, actor=global_admin)
    with pytest.raises(DestinationRule.DoesNotExist):
        guard.lift_rule(other_org, rule.pk, actor=global_admin)
    with pytest.raises(GuardError):
        guard.block_person(other_org, people["dave"], actor=global_admin, reason="x")


# --- Audit ------------------------------------------------------------------------------------------------


def test_every_policy_change_is_audited_with_before_and_after(org, global_admin, people):
    spend_policy(org, actor=global_admin, person_day_cap="10", cap_action="warn")
    spend_policy(org, actor=global_admin, person_day_cap="20", cap_action="stop")
    spend_policy(org, actor=global_admin, person_day_cap="20", cap_action="stop")  # no change, no entry
    override = spend_policy(org, actor=global_admin, scope="person", person=people["dave"], call_cap="3")
    guard.delete_policy(org, override.pk, actor=global_admin)
    changes = list(GuardChange.objects.filter(organization=org, subject="policy").order_by("pk"))
    assert [c.action for c in changes] == ["created", "updated", "created", "deleted"]
    assert changes[0].before is None and changes[0].after["person_day_cap"] == "10.00"
    assert changes[1].before["person_day_cap"] == "10.00" and changes[1].after == {**changes[1].before, "person_day_cap": "20.00", "cap_action": "stop"}
    assert changes[3].after is None and changes[3].before["person"] == "dave@contoso.test"
    assert all(c.changed_by == global_admin for c in changes)


# --- Authorization ----------------------------------------------------------------------------------------


def test_authorize_answers_with_the_rule_that_decided(org, people, rates, funded):
    now = at("2024-05-06", "12:00:00")
    premium = DestinationRule.objects.get(organization=org, default_key="premium-rate")
    refused = authorize_call(org, upn="dave@contoso.test", number="+449098790000", at=now)
    assert not refused.allowed and refused.rule == {"kind": "destination_rule", "id": premium.pk, "description": refused.reason}
    allowed = authorize_call(org, upn="dave@contoso.test", number="+12065550100", at=now)
    assert allowed.allowed and allowed.rule is None
    rule = destination_rule(org, action="allow", country="US", description="US ok")
    assert authorize_call(org, upn="dave@contoso.test", number="+12065550100", at=now).rule["id"] == rule.pk


def test_authorize_refuses_a_blocked_person_and_limits_minutes_to_the_cap(org, people, rates, funded, global_admin):
    now = at("2024-05-06", "12:00:00")
    spend_policy(org, person_day_cap="1.30", cap_action="stop")
    answer = authorize_call(org, upn="dave@contoso.test", number="+12065550100", at=now)
    assert answer.allowed and answer.minutes == 100 and answer.rule["kind"] == "cap"  # 1.30 / 0.013
    block = credit_block(org, people["dave"], actor=global_admin)
    answer = authorize_call(org, upn="dave@contoso.test", number="+12065550100", at=block.starts_at + timedelta(seconds=1))
    assert not answer.allowed and answer.rule["kind"] == "credit_block" and answer.rule["id"] == block.pk


# --- The report's "Why this charge" -----------------------------------------------------------------------


def test_why_this_charge_names_the_rule(client, org, people, rates, global_admin):
    fund(org)
    result = import_graph_payload(org, page([graph_call(upn="dave@contoso.test", callee="+881234567890", seconds=60)]), "pstn")
    record = CallRecord.objects.get(batch=result.batch)
    assert record.rating == "refused"
    client.force_login(global_admin)
    response = client.get(reverse("usage:record", kwargs={"kind": "pstn", "pk": record.pk}))
    body = response.content.decode()
    assert response.status_code == 200
    rule = DestinationRule.objects.get(organization=org, default_key="hr-881")
    assert 'data-testid="guard-rule"' in body and f"Destination rule #{rule.pk}" in body


def test_cap_kinds_read_as_people_say_them():
    assert CapKind.PERSON_DAY.label == "Cap per person per day"


def test_the_authorize_endpoint_answers_with_the_rule(client, org, people, rates, funded):
    _token, key = create_api_key(organization=org, name="Calling platform")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    premium = DestinationRule.objects.get(organization=org, default_key="premium-rate")
    refused = client.get("/api/usage/authorize/", {"user": "dave@contoso.test", "number": "+449098790000"}, **auth).json()
    assert refused["allowed"] is False and refused["minutes"] == 0
    assert refused["rule"]["kind"] == "destination_rule" and refused["rule"]["id"] == premium.pk
    assert "Premium-rate" in refused["rule"]["description"] and refused["reason"] == refused["rule"]["description"]
    allowed = client.get("/api/usage/authorize/", {"user": "dave@contoso.test", "number": "+12065550100"}, **auth).json()
    assert allowed["allowed"] is True and allowed["rule"] is None


def test_toll_free_minutes_count_for_the_organization_cap_but_have_no_cap_per_call(org, people, rates):
    spend_policy(org, call_cap="0.10", organization_day_cap="1.00", cap_action="stop")
    ctx = fresh(org)
    toll_free = dict(call_type="user_in", caller="+12065550100", callee="+18005550100", inventory="Toll Free")
    first = call(ctx, upn="alice@contoso.test", seconds=30 * 60, **toll_free)
    assert first.rating == "charged" and first.charge == D("0.59")  # 30 min x 0.0195: beyond the cap per call, no person
    assert call(ctx, upn="alice@contoso.test", seconds=30 * 60, **toll_free).rating == "refused"  # 1.18 > 1.00 a day
