"""Usage reacting to billing: every new organization starts with the spend guard's default
destination rules (premium-rate numbers and the high-risk prefixes), as explicit rules its admins
see and can lift."""

from .services.guard import seed_default_rules


def on_organization_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        seed_default_rules(instance)
