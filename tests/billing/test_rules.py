import pytest

from billing import rules
from billing.catalog import ensure_catalog
from billing.choices import CommerceModel, PurchaseChannel
from billing.models import Subscription
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_a_web_direct_traditional_organization_may_buy():
    assert rules.purchase_blockers(OrganizationFactory()) == []


def test_several_reasons_are_all_given():
    org = OrganizationFactory(commerce_model=CommerceModel.NCE, purchase_channel=PurchaseChannel.CSP)
    assert [b.code for b in rules.purchase_blockers(org)] == ["post_usage_billing", "csp"]


def test_region_mismatch_applies_to_enterprise_agreements_only():
    assert rules.purchase_blockers(OrganizationFactory(country="DE", billing_region="US")) == []
    ea = OrganizationFactory(purchase_channel=PurchaseChannel.VOLUME_LICENSING, country="de", billing_region="US")
    assert [b.code for b in rules.purchase_blockers(ea)] == ["region_mismatch"]


def test_nce_and_mca_must_never_auto_recharge():
    assert rules.auto_recharge_must_be_off(OrganizationFactory(commerce_model=CommerceModel.MCA))
    assert not rules.auto_recharge_must_be_off(OrganizationFactory())


def test_included_destinations_are_named_before_buying():
    org = OrganizationFactory()
    products = ensure_catalog()
    Subscription.objects.create(organization=org, product=products["domestic-international-calling-plan"], quantity=5)
    Subscription.objects.create(organization=org, product=products["audio-conferencing"], quantity=5)
    notice = rules.included_destinations_notice(Subscription.objects.filter(organization=org).select_related("product"))
    assert "3,000 domestic and international minutes" in notice and "Zone A" in notice


def test_pay_as_you_go_includes_nothing_to_warn_about():
    org = OrganizationFactory()
    Subscription.objects.create(organization=org, product=ensure_catalog()["pay-as-you-go-calling-plan"], quantity=5)
    assert rules.included_destinations_notice(Subscription.objects.filter(organization=org).select_related("product")) is None


def test_registered_coverage_providers_speak_before_a_purchase():
    org = OrganizationFactory()

    def provider(organization):
        return f"92% of {organization.name}'s calls were covered by subscriptions."

    rules.register_coverage_provider(provider)
    try:
        assert rules.usage_coverage_notes(org) == [f"92% of {org.name}'s calls were covered by subscriptions."]
    finally:
        rules._coverage_providers.remove(provider)


@pytest.mark.parametrize(
    "attrs",
    [
        {"commerce_model": CommerceModel.NCE},
        {"purchase_channel": PurchaseChannel.CSP},
        {"purchase_channel": PurchaseChannel.VOLUME_LICENSING, "country": "DE", "billing_region": "US"},
    ],
)
def test_whoever_cannot_buy_never_auto_recharges(attrs):
    assert rules.auto_recharge_must_be_off(OrganizationFactory(**attrs))
