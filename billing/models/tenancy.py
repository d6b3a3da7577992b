"""The tenant, its people and their admin roles, and what it subscribes to."""

from django.conf import settings
from django.db import models

from billing.choices import AdminRole, CommerceModel, ProductKind, PurchaseChannel


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    country = models.CharField(
        "country or region", max_length=2, help_text="ISO 3166 code of where the organization is located."
    )
    billing_region = models.CharField(
        "billing address region",
        max_length=2,
        help_text="ISO 3166 code of the billing address on the organization's agreement.",
    )
    purchase_channel = models.CharField(max_length=32, choices=PurchaseChannel.choices)
    commerce_model = models.CharField(max_length=32, choices=CommerceModel.choices)
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A person's place in an organization; the admin roles they hold there are `roles`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique_user_org")
        ]

    def __str__(self):
        return f"{self.user} in {self.organization}"


class MembershipRole(models.Model):
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=64, choices=AdminRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership", "role"], name="membership_role_unique")
        ]

    def __str__(self):
        return self.get_role_display()


class Product(models.Model):
    code = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=ProductKind.choices)
    capability = models.CharField(
        max_length=32, blank=True, help_text="License capability code shown by the usage report, e.g. MCOPSTN1."
    )
    included_minutes = models.PositiveIntegerField(
        default=0, help_text="Outbound minutes per user per month (0 for Pay-As-You-Go)."
    )
    included_minutes_outside_us_ca_uk = models.PositiveIntegerField(
        null=True, blank=True, help_text="Minutes when the user's usage location is not US, CA or UK."
    )
    minutes_pooled = models.BooleanField(
        default=True, help_text="Pooled per country across users with the identical plan."
    )
    includes_international = models.BooleanField(default=False)
    sms_segments = models.PositiveIntegerField(default=0, help_text="SMS segments per user per month.")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self):
        return self.name


class Subscription(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="subscriptions")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="subscriptions")
    quantity = models.PositiveIntegerField(default=1, help_text="Licenses; 0 for unlimited (credits).")
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product__kind", "product__name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "product"], name="subscription_unique_product")
        ]

    def __str__(self):
        return f"{self.organization}: {self.product} x {self.quantity}"
