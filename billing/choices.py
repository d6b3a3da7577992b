from django.db import models


class PurchaseChannel(models.TextChoices):
    WEB_DIRECT = "web_direct", "Web Direct"
    VOLUME_LICENSING = "volume_licensing", "Volume Licensing / Enterprise Agreement"
    CSP = "csp", "Cloud Solution Provider (CSP)"


class CommerceModel(models.TextChoices):
    TRADITIONAL = "traditional", "Traditional"
    NCE = "nce", "New commerce experience (NCE)"
    MCA = "mca", "Microsoft Customer Agreement (MCA)"


class AdminRole(models.TextChoices):
    """The 20 admin roles that receive Communications Credits notifications (product.md)."""

    APPLICATION_ADMINISTRATOR = "application_administrator", "Application Administrator"
    AUTHENTICATION_ADMINISTRATOR = "authentication_administrator", "Authentication Administrator"
    AZURE_AD_JOINED_DEVICE_LOCAL_ADMINISTRATOR = (
        "azure_ad_joined_device_local_administrator",
        "Azure AD Joined Device Local Administrator",
    )
    BILLING_ADMINISTRATOR = "billing_administrator", "Billing Administrator"
    CLOUD_DEVICE_ADMINISTRATOR = "cloud_device_administrator", "Cloud Device Administrator"
    COMPANY_ADMINISTRATOR = "company_administrator", "Company Administrator"
    DEVICE_ADMINISTRATOR = "device_administrator", "Device Administrator"
    GLOBAL_ADMINISTRATOR = "global_administrator", "Global Administrator"
    HELPDESK_ADMINISTRATOR = "helpdesk_administrator", "Helpdesk Administrator"
    LICENSE_ADMINISTRATOR = "license_administrator", "License Administrator"
    LYNC_SERVICE_ADMINISTRATOR = "lync_service_administrator", "Lync Service Administrator"
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR = (
        "privileged_authentication_administrator",
        "Privileged Authentication Administrator",
    )
    SERVICE_SUPPORT_ADMINISTRATOR = "service_support_administrator", "Service Support Administrator"
    SKYPE_FOR_BUSINESS_ADMINISTRATOR = (
        "skype_for_business_administrator",
        "Skype for Business Administrator",
    )
    TEAMS_ADMINISTRATOR = "teams_administrator", "Teams Administrator"
    TEAMS_COMMUNICATIONS_ADMINISTRATOR = (
        "teams_communications_administrator",
        "Teams Communications Administrator",
    )
    TEAMS_COMMUNICATIONS_SUPPORT_ENGINEER = (
        "teams_communications_support_engineer",
        "Teams Communications Support Engineer",
    )
    TEAMS_COMMUNICATIONS_SUPPORT_SPECIALIST = (
        "teams_communications_support_specialist",
        "Teams Communications Support Specialist",
    )
    USER_ACCOUNT_ADMINISTRATOR = "user_account_administrator", "User Account Administrator"
    USER_ADMINISTRATOR = "user_administrator", "User Administrator"


# Roles that may buy credits, manage payment methods and change auto-recharge.
BILLING_MANAGER_ROLES = frozenset(
    {AdminRole.GLOBAL_ADMINISTRATOR, AdminRole.BILLING_ADMINISTRATOR}
)


class ProductKind(models.TextChoices):
    CALLING_PLAN = "calling_plan", "Calling plan"
    AUDIO_CONFERENCING = "audio_conferencing", "Audio conferencing"
    PHONE_SYSTEM = "phone_system", "Phone System"
    COMMUNICATIONS_CREDITS = "communications_credits", "Communications Credits"


class EntryKind(models.TextChoices):
    FUNDING = "funding", "Funding"
    RECHARGE = "recharge", "Auto-recharge"
    USAGE_CHARGE = "usage_charge", "Usage charge"
    EXPIRY = "expiry", "Expiry"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Support adjustment"


# Kinds that add a purchasable lot (spent first-in, first-out, expiring after 12 months).
LOT_CREATING_KINDS = frozenset({EntryKind.FUNDING, EntryKind.RECHARGE, EntryKind.ADJUSTMENT})


class PaymentMethodKind(models.TextChoices):
    CARD = "card", "Card"
    ENTERPRISE_AGREEMENT = "enterprise_agreement", "Enterprise agreement (purchase order)"


class PaymentPurpose(models.TextChoices):
    FUNDING = "funding", "Add funds"
    RECHARGE = "recharge", "Auto-recharge"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
