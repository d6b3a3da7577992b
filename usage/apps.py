from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self):
        # Billing shows, before a purchase, how much of the calls the subscriptions already cover;
        # it learns that from usage through a provider registered here (billing never imports usage).
        from django.db.models.signals import post_save

        from billing.models import Organization
        from billing.rules import register_coverage_provider

        from .receivers import on_organization_saved
        from .selectors.advice import coverage_sentence

        register_coverage_provider(coverage_sentence)
        post_save.connect(on_organization_saved, sender=Organization, dispatch_uid="usage_guard_default_rules")
