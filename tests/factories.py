from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from billing import services
from billing.catalog import ensure_catalog
from billing.choices import AdminRole, CommerceModel, PurchaseChannel
from billing.gateways.sandbox import sandbox_token
from billing.models import CreditAccount, Membership, MembershipRole, Organization, PaymentMethod, Subscription
from usage.services import guard

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}@example.test")
    email = factory.SelfAttribute("username")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    country = "US"
    billing_region = "US"
    purchase_channel = PurchaseChannel.WEB_DIRECT
    commerce_model = CommerceModel.TRADITIONAL
    currency = "USD"



class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)

    @factory.post_generation
    def roles(obj, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                MembershipRole.objects.get_or_create(membership=obj, role=role)


def admin_in(organization, *roles, user=None):
    """A person holding `roles` in `organization` (none: a member without an admin role)."""
    membership = MembershipFactory(organization=organization, roles=list(roles), **({"user": user} if user else {}))
    return membership.user


class CardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentMethod

    class Params:
        behaviour = "ok"

    organization = factory.SubFactory(OrganizationFactory)
    kind = "card"
    brand = "visa"
    last4 = "4242"
    exp_month = 12
    exp_year = 2031
    gateway_token = factory.LazyAttribute(lambda o: sandbox_token(o.behaviour))


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    organization = factory.SubFactory(OrganizationFactory)
    quantity = 10

    @factory.lazy_attribute
    def product(self):
        return ensure_catalog()["domestic-calling-plan"]


ALL_ROLES = list(AdminRole)


# Ledger state is built only through the billing services, so that it cannot break the invariants.


def arm(org, card, actor, *, balance="100.00", amount="50.00", trigger="20.00", cap=None):
    """Fund the account through the services and turn auto-recharge on; returns the account."""
    if balance and Decimal(balance) > 0:
        services.fund_credits(
            organization=org, actor=actor, amount=Decimal(balance), payment_method=card, idempotency_key=f"arm:{org.pk}"
        )
    services.update_auto_recharge(
        organization=org,
        actor=actor,
        enabled=True,
        amount=Decimal(amount),
        trigger=Decimal(trigger),
        payment_method=card,
        monthly_cap=None if cap is None else Decimal(cap),
    )
    return CreditAccount.objects.get(organization=org)


_spent = iter(range(1, 10**9))


def spend(account, amount):
    """A call charged to credits (usage), through the service."""
    return services.charge_usage(
        account_id=account.pk, amount=Decimal(amount), idempotency_key=f"call:{next(_spent)}", memo="Test call"
    )


# --- Spend guard (usage.spend_guard): policies, rules and blocks, written as the services write them ----


def spend_policy(organization, *, actor=None, **fields):
    """The organization's (or, with scope/department/person, an override's) caps, through the service."""
    return guard.save_policy(organization, actor=actor, **fields)


def destination_rule(organization, *, actor=None, **fields):
    return guard.create_rule(organization, actor=actor, **fields)


def credit_block(organization, person, *, actor=None, reason="Suspicious calls", **fields):
    return guard.block_person(organization, person, actor=actor, reason=reason, **fields)
