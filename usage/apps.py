from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self):
        # Billing shows, before a purchase, how much of the calls the subscriptions already cover;
        # it learns that from usage through a provider registered here (billing never imports usage).
        from billing.rules import register_coverage_provider

        from .selectors.advice import coverage_sentence

        register_coverage_provider(coverage_sentence)
