"""Billing's demo: tenants, people, support staff and money. Safe to run twice: everything is found or
created by a fixed key. `manage.py load_demo` runs it first, then the other apps' demos."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from billing import services
from billing.catalog import ensure_catalog
from billing.choices import AdminRole, CommerceModel, PurchaseChannel
from billing.gateways.sandbox import sandbox_token
from billing.models import AutoRechargePolicy, Membership, MembershipRole, Organization, PaymentMethod, Subscription

SUPPORT_PERMISSIONS = {
    "billing": ["view_organization", "view_membership", "view_membershiprole", "view_subscription", "view_product",
                "view_creditaccount", "view_creditlot", "view_ledgerentry", "add_ledgerentry", "view_paymentmethod",
                "view_payment", "view_receipt", "view_autorechargechange", "change_organization",
                "retry_payment", "resume_auto_recharge", "view_reconciliationmismatch"],
    "notifications": ["view_event", "view_delivery", "view_deliveryfailure", "view_lowbalancethreshold",
                      "view_rolepreference", "resend_delivery"],
}

LOGINS = [
    # email, password, name, organization slug, roles
    ("billing@contoso.example", "contoso-demo-2026", "Bianca Billing", "contoso", [AdminRole.BILLING_ADMINISTRATOR]),
    ("global@contoso.example", "contoso-demo-2026", "Gabriel Global", "contoso", [AdminRole.GLOBAL_ADMINISTRATOR]),
    ("teams@contoso.example", "contoso-demo-2026", "Tariq Teams", "contoso",
     [AdminRole.TEAMS_ADMINISTRATOR, AdminRole.TEAMS_COMMUNICATIONS_ADMINISTRATOR]),
    ("reports@contoso.example", "contoso-demo-2026", "Rita Reports", "contoso", [AdminRole.TEAMS_COMMUNICATIONS_SUPPORT_ENGINEER]),
    ("user@contoso.example", "contoso-demo-2026", "Uma User", "contoso", []),
    ("admin@fabrikam.example", "fabrikam-demo-2026", "Farid Fabrikam", "fabrikam", [AdminRole.GLOBAL_ADMINISTRATOR]),
    ("billing@northwind.example", "northwind-demo-2026", "Nina Northwind", "northwind", [AdminRole.BILLING_ADMINISTRATOR]),
    ("billing@tailspin.example", "tailspin-demo-2026", "Theo Tailspin", "tailspin", [AdminRole.BILLING_ADMINISTRATOR]),
    ("billing@woodgrove.example", "woodgrove-demo-2026", "Wendy Woodgrove", "woodgrove", [AdminRole.BILLING_ADMINISTRATOR]),
]
SUPPORT_LOGIN = ("support@credits.example", "support-demo-2026", "Sam Support")

ORGANIZATIONS = [
    dict(slug="contoso", name="Contoso", country="US", billing_region="US", purchase_channel=PurchaseChannel.WEB_DIRECT,
         commerce_model=CommerceModel.TRADITIONAL, subs={"domestic-calling-plan": 25, "audio-conferencing": 25, "phone-system": 25}),
    dict(slug="fabrikam", name="Fabrikam", country="GB", billing_region="GB", purchase_channel=PurchaseChannel.WEB_DIRECT,
         commerce_model=CommerceModel.NCE, subs={"domestic-international-calling-plan": 40, "phone-system": 40}, currency="GBP"),
    dict(slug="northwind", name="Northwind Traders", country="US", billing_region="US", purchase_channel=PurchaseChannel.CSP,
         commerce_model=CommerceModel.TRADITIONAL, subs={"domestic-calling-plan": 10, "phone-system": 10}),
    dict(slug="tailspin", name="Tailspin Toys", country="DE", billing_region="US", purchase_channel=PurchaseChannel.VOLUME_LICENSING,
         commerce_model=CommerceModel.TRADITIONAL, subs={"domestic-calling-plan": 15, "phone-system": 15}, currency="EUR"),
    dict(slug="woodgrove", name="Woodgrove Bank", country="US", billing_region="US", purchase_channel=PurchaseChannel.VOLUME_LICENSING,
         commerce_model=CommerceModel.TRADITIONAL, subs={"pay-as-you-go-calling-plan": 30, "audio-conferencing-pay-per-minute": 30, "phone-system": 30}),
]


class Command(BaseCommand):
    help = "Create demo organizations, people and credits (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            orgs = self.organizations()
            users = self.people(orgs)
            self.support_staff()
        self.money(orgs, users)
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Sign in with:"))
        for email, password, name, slug, roles in LOGINS:
            role_text = ", ".join(AdminRole(r).label for r in roles) or "no admin role"
            self.stdout.write(f"  {email:30} {password:22} {orgs[slug].name} ({role_text})")
        self.stdout.write(f"  {SUPPORT_LOGIN[0]:30} {SUPPORT_LOGIN[1]:22} support staff, Django admin at /admin/")

    def organizations(self):
        products = ensure_catalog()
        orgs = {}
        for spec in ORGANIZATIONS:
            spec = dict(spec)
            subs = spec.pop("subs")
            slug = spec.pop("slug")
            org, _ = Organization.objects.update_or_create(slug=slug, defaults=spec)
            for code, quantity in subs.items():
                Subscription.objects.update_or_create(organization=org, product=products[code], defaults={"quantity": quantity})
            if org.commerce_model == CommerceModel.TRADITIONAL and org.purchase_channel != PurchaseChannel.CSP:
                Subscription.objects.get_or_create(organization=org, product=products["communications-credits"], defaults={"quantity": 0})
            services.open_credit_account(org)  # for organizations made before accounts opened themselves
            orgs[slug] = org
        return orgs

    def people(self, orgs):
        User = get_user_model()
        users = {}
        for email, password, name, slug, roles in LOGINS:
            first, last = name.split(" ", 1)
            user, created = User.objects.get_or_create(username=email, defaults={"email": email, "first_name": first, "last_name": last})
            if created:
                user.set_password(password)
                user.save()
            membership, _ = Membership.objects.get_or_create(user=user, organization=orgs[slug])
            for role in roles:
                MembershipRole.objects.get_or_create(membership=membership, role=role)
            users[email] = user
        # Gabriel also administers Fabrikam: the organization switcher shows both.
        membership, _ = Membership.objects.get_or_create(user=users["global@contoso.example"], organization=orgs["fabrikam"])
        MembershipRole.objects.get_or_create(membership=membership, role=AdminRole.GLOBAL_ADMINISTRATOR)
        return users

    def support_staff(self):
        group, _ = Group.objects.get_or_create(name="Support")
        perms = [Permission.objects.get(content_type__app_label=app, codename=code) for app, codes in SUPPORT_PERMISSIONS.items() for code in codes]
        group.permissions.set(perms)
        User = get_user_model()
        email, password, name = SUPPORT_LOGIN
        user, created = User.objects.get_or_create(
            username=email, defaults={"email": email, "first_name": name.split()[0], "last_name": name.split()[1], "is_staff": True}
        )
        if created:
            user.set_password(password)
            user.save()
        user.groups.add(group)

    def card(self, org, user, behaviour="ok", last4="4242"):
        method = PaymentMethod.objects.filter(organization=org, kind="card", last4=last4, removed_at__isnull=True).first()
        if method is None:
            method = PaymentMethod.objects.create(
                organization=org, brand="visa", last4=last4, exp_month=12, exp_year=2030,
                gateway_token=sandbox_token(behaviour), created_by=user,
            )
        return method

    def money(self, orgs, users):
        contoso, billing = orgs["contoso"], users["billing@contoso.example"]
        card = self.card(contoso, billing)
        services.fund_credits(organization=contoso, actor=billing, amount=Decimal("200.00"), payment_method=card,
                              idempotency_key="demo:contoso:initial-funding")
        account = contoso.credit_account
        if not account.auto_recharge_policy.enabled and not account.auto_recharge_changes.exists():
            services.update_auto_recharge(organization=contoso, actor=billing, enabled=True, amount=Decimal("50.00"),
                                          trigger=Decimal("20.00"), payment_method=card)
        woodgrove = orgs["woodgrove"]
        if not PaymentMethod.objects.filter(organization=woodgrove, kind="enterprise_agreement").exists():
            services.add_enterprise_agreement(organization=woodgrove, actor=users["billing@woodgrove.example"], agreement_number="EA-7734-2201")
        # Fabrikam moved to NCE with a balance and auto-recharge still on: the page warns and offers to turn it off.
        fabrikam, farid = orgs["fabrikam"], users["admin@fabrikam.example"]
        fab_account = fabrikam.credit_account
        if not fab_account.entries.exists():
            services.adjust_balance(account=fab_account, actor=None, amount=Decimal("35.00"),
                                    reason="Balance carried over from prepaid billing before the move to NCE",
                                    idempotency_key="demo:fabrikam:carry-over")
            fab_card = self.card(fabrikam, farid)
            # Written directly: the service refuses to turn auto-recharge on for NCE, which is the point here.
            AutoRechargePolicy.objects.filter(account=fab_account).update(
                enabled=True, amount=Decimal("50.00"), trigger=Decimal("10.00"), payment_method=fab_card
            )
