from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from billing import signals

        from . import receivers

        signals.payment_succeeded.connect(receivers.on_payment_succeeded, dispatch_uid="notifications.payment_succeeded")
        signals.payment_failed.connect(receivers.on_payment_failed, dispatch_uid="notifications.payment_failed")
        signals.balance_depleted.connect(receivers.on_balance_depleted, dispatch_uid="notifications.balance_depleted")
        signals.ledger_entry_posted.connect(receivers.on_ledger_entry_posted, dispatch_uid="notifications.low_balance")
        signals.auto_recharge_event.connect(receivers.on_auto_recharge_event, dispatch_uid="notifications.auto_recharge")
        # Usage may announce ready exports with a signal of its own (usage never imports notifications).
        try:
            from usage import signals as usage_signals
        except ImportError:
            usage_signals = None
        export_ready = getattr(usage_signals, "export_ready", None)
        if export_ready is not None:
            export_ready.connect(receivers.on_export_ready, dispatch_uid="notifications.export_ready")
