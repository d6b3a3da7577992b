from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from billing.events import billing_event
        from usage.events import usage_event

        from . import receivers
        from .services.outbox import deliveries_due

        billing_event.connect(receivers.on_event, dispatch_uid="notifications.billing_event")
        deliveries_due.connect(receivers.on_deliveries_due, dispatch_uid="notifications.enqueue_deliveries")
        usage_event.connect(receivers.on_event, dispatch_uid="notifications.usage_event")
