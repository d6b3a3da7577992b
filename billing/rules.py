"""Purchase rules: who may buy credits here, and if not, why and what to do instead.

Checked before any money moves, by the pages (to explain) and by the services (to enforce).
"""

from dataclasses import dataclass

from .choices import CommerceModel, ProductKind, PurchaseChannel


@dataclass(frozen=True)
class Blocker:
    code: str
    reason: str
    way_forward: str
    blocks_auto_recharge: bool = True


# Billed after use (new commerce experience, Microsoft Customer Agreement): no prepaid credits.
POST_USAGE_MODELS = (CommerceModel.NCE, CommerceModel.MCA)


def purchase_blockers(organization) -> list[Blocker]:
    blockers = []
    if organization.commerce_model in POST_USAGE_MODELS:
        label = CommerceModel(organization.commerce_model).label
        blockers.append(
            Blocker(
                code="post_usage_billing",
                reason=(
                    f"Your calling subscriptions are billed after use under the {label}, so Communications "
                    "Credits, a prepaid budget, cannot be bought for this organization."
                ),
                way_forward=(
                    "Calls beyond your plans are billed as pay-as-you-go overage on your invoice. Any balance "
                    "you still have is used first. Turn off auto-recharge so that no prepaid top-up is charged."
                ),
            )
        )
    if organization.purchase_channel == PurchaseChannel.CSP:
        blockers.append(
            Blocker(
                code="csp",
                reason=(
                    "Your Calling or Audio Conferencing plans were bought through a Cloud Solution Provider "
                    "(CSP), so Communications Credits cannot be bought in the admin center."
                ),
                way_forward=(
                    "Buy your Calling and Audio Conferencing plans directly, through Web Direct or a Volume "
                    "Licensing agreement, then fund them with Communications Credits here."
                ),
            )
        )
    if (
        organization.purchase_channel == PurchaseChannel.VOLUME_LICENSING
        and organization.billing_region
        and organization.billing_region.upper() != organization.country.upper()
    ):
        blockers.append(
            Blocker(
                code="region_mismatch",
                reason=(
                    f"Your organization is located in {organization.country.upper()}, but the billing address "
                    f"of your Enterprise Agreement is in {organization.billing_region.upper()}, so the "
                    "purchase is blocked."
                ),
                way_forward=(
                    "Open a support ticket (Support > New service request, topic \"Communications Credits "
                    "purchase\"); support will work with you to mitigate this until a permanent solution is in place."
                ),
            )
        )
    return blockers


def auto_recharge_must_be_off(organization) -> bool:
    """An auto-recharge is a purchase: whoever cannot buy (NCE/MCA, CSP, region mismatch) never
    auto-recharges, whatever the stored setting says."""
    return any(b.blocks_auto_recharge for b in purchase_blockers(organization))


def included_destinations_notice(subscriptions) -> str | None:
    """Say what the subscriptions already include, so nobody buys credits they do not need."""
    included = []
    for sub in subscriptions:
        product = sub.product
        if product.kind == ProductKind.CALLING_PLAN and product.included_minutes:
            scope = "domestic and international" if product.includes_international else "domestic"
            included.append(f"{product.name}: {product.included_minutes:,} {scope} minutes per user per month")
        elif product.kind == ProductKind.AUDIO_CONFERENCING and product.included_minutes:
            included.append(f"{product.name}: {product.included_minutes} dial-out minutes per user per month to Zone A")
    if not included:
        return None
    return (
        "Your subscriptions already include " + "; ".join(included) + ". Credits are only spent on calls "
        "beyond these: check your usage before buying credits you may not need."
    )


# Apps that know the organization's calls (usage) tell billing how much of them the subscriptions
# already cover; billing shows it before a purchase without importing them.
_coverage_providers = []


def register_coverage_provider(provider):
    """`provider(organization) -> str | None`: a sentence on how much usage the subscriptions cover."""
    if provider not in _coverage_providers:
        _coverage_providers.append(provider)


def usage_coverage_notes(organization) -> list[str]:
    notes = []
    for provider in _coverage_providers:
        note = provider(organization)
        if note:
            notes.append(note)
    return notes
