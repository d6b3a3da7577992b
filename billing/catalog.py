"""The product catalog: plans and add-ons with their documented capability codes and minutes."""

from .choices import ProductKind
from .models import Product

CATALOG = [
    dict(code="domestic-calling-plan", name="Domestic Calling Plan", kind=ProductKind.CALLING_PLAN, capability="MCOPSTN1",
         included_minutes=3000, included_minutes_outside_us_ca_uk=1200, minutes_pooled=True, sms_segments=100,
         description="Domestic calls; minutes pooled per country across users with this plan."),
    dict(code="domestic-international-calling-plan", name="Domestic and International Calling Plan", kind=ProductKind.CALLING_PLAN,
         capability="MCOPSTN2", included_minutes=3000, included_minutes_outside_us_ca_uk=1200, minutes_pooled=True,
         includes_international=True, sms_segments=200, description="Domestic calls, and international calls to 196 countries."),
    dict(code="domestic-calling-plan-120", name="Domestic Calling Plan (120 minutes)", kind=ProductKind.CALLING_PLAN,
         capability="MCOPSTN5", included_minutes=120, minutes_pooled=True, sms_segments=100),
    dict(code="domestic-calling-plan-240", name="Domestic Calling Plan (240 minutes)", kind=ProductKind.CALLING_PLAN,
         capability="MCOPSTN6", included_minutes=240, minutes_pooled=True, sms_segments=100),
    dict(code="domestic-calling-plan-120-per-user", name="Domestic Calling Plan (120 minutes per user)", kind=ProductKind.CALLING_PLAN,
         capability="MCOPSTN8", included_minutes=120, minutes_pooled=False, sms_segments=100,
         description="120 minutes for each user, not pooled."),
    dict(code="pay-as-you-go-calling-plan", name="Pay-As-You-Go Calling Plan", kind=ProductKind.CALLING_PLAN,
         capability="MCOPSTN9", included_minutes=0, minutes_pooled=True, sms_segments=0,
         description="No outbound minutes included: every outbound minute is paid from Communications Credits."),
    dict(code="audio-conferencing", name="Audio Conferencing", kind=ProductKind.AUDIO_CONFERENCING, capability="MCOMEETADD",
         included_minutes=60, minutes_pooled=True,
         description="60 dial-out minutes per user per month, pooled for the organization, to Zone A countries."),
    dict(code="audio-conferencing-pay-per-minute", name="Audio Conferencing pay-per-minute", kind=ProductKind.AUDIO_CONFERENCING,
         capability="MCOMEETACPEA", included_minutes=0, minutes_pooled=False,
         description="Every dial-in and dial-out minute is paid from Communications Credits."),
    dict(code="phone-system", name="Teams Phone System", kind=ProductKind.PHONE_SYSTEM, capability="MCOEV"),
    dict(code="communications-credits", name="Communications Credits", kind=ProductKind.COMMUNICATIONS_CREDITS,
         capability="MCOPSTNPP", description="Prepaid balance for calls your subscriptions do not include."),
]


def ensure_catalog():
    products = {}
    for item in CATALOG:
        code = item["code"]
        defaults = {k: v for k, v in item.items() if k != "code"}
        products[code], _ = Product.objects.update_or_create(code=code, defaults=defaults)
    return products
