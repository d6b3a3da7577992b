from django.apps import AppConfig
from django.db.models.signals import post_save


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from . import receivers
        from .events import EntryPosted, billing_event
        from .models import Organization
        from .services.auto_recharge.arming import round_requested

        post_save.connect(receivers.on_organization_saved, sender=Organization, dispatch_uid="billing.open_account")
        billing_event.connect(receivers.on_entry_posted, sender=EntryPosted, dispatch_uid="billing.arm_auto_recharge")
        round_requested.connect(receivers.on_round_requested, dispatch_uid="billing.enqueue_recharge")
