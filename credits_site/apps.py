from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class CreditsSiteConfig(AppConfig):
    name = "credits_site"
    verbose_name = "Credits site"

    def ready(self):
        from . import session_limits

        user_logged_in.connect(session_limits.on_signed_in, dispatch_uid="credits_site.session_limits")
