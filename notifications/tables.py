import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from billing.tables import FastBodyMixin, TimeColumn

from .models import Delivery, DeliveryStatus, Event

NUM = {"td": {"class": "num"}, "th": {"class": "num"}}


def delivery_state(record) -> tuple[str, str]:
    """(css class, words) for an event's deliveries."""
    if record.recipient_count == 0 and record.sent_count == 0:
        return "neutral", "No recipients"
    parts = []
    if record.sent_count:
        parts.append(f"{record.sent_count} sent")
    if record.waiting_count:
        parts.append(f"{record.waiting_count} waiting")
    if record.failed_count:
        parts.append(f"{record.failed_count} failed")
    css = "state-failed" if record.failed_count else ("state-waiting" if record.waiting_count else "state-ok")
    return css, ", ".join(parts)


class EventTable(FastBodyMixin, tables.Table):
    region_label = "Notifications"
    occurred_at = TimeColumn(verbose_name="Time (UTC)", format="Y-m-d H:i")
    kind = tables.Column(verbose_name="Notification", orderable=False)
    summary = tables.Column(verbose_name="Message", orderable=False)
    recipient_count = tables.Column(verbose_name="Recipients", orderable=False)
    delivery = tables.Column(verbose_name="Delivery", empty_values=(), orderable=False)

    class Meta:
        model = Event
        fields = ("occurred_at", "kind", "summary", "recipient_count", "delivery")
        order_by = ("-occurred_at",)
        attrs = {"class": "data-table wrap", "data-testid": "message-center-table"}
        template_name = "notifications/table.html"
        empty_text = "No notifications yet."

    def cells(self, record):
        return {
            "occurred_at": self.cell("occurred_at", record.occurred_at, self.base_columns["occurred_at"].render),
            "kind": self.render_kind(record),
            "summary": self.cell("summary", record.summary, lambda v: self.render_summary(record, v)),
            "recipient_count": self.cell("recipient_count", record.recipient_count, lambda v: self.render_recipient_count(record, v)),
            "delivery": self.render_delivery(record),
        }

    def render_kind(self, record):
        return record.label

    def render_summary(self, record, value):
        return format_html('<a href="{}">{}</a>', reverse("notifications:event", args=[record.pk]), value)

    def render_recipient_count(self, record, value):
        names = [d.recipient_name or d.email for d in getattr(record, "first_recipients", [])]
        if not names:
            return "0"
        more = value - len(names)
        shown = ", ".join(names) + (f" and {more:,} more" if more > 0 else "")
        return format_html('{}<span class="muted recipients-names">: {}</span>', f"{value:,}", shown)

    def render_delivery(self, record):
        css, words = delivery_state(record)
        return format_html('<span class="badge {}">{}</span>', css, words)

    def order_occurred_at(self, queryset, is_descending):
        prefix = "-" if is_descending else ""
        return queryset.order_by(f"{prefix}occurred_at", f"{prefix}pk"), True


STATUS_CSS = {
    DeliveryStatus.SENT: "state-ok",
    DeliveryStatus.PENDING: "state-waiting",
    DeliveryStatus.SENDING: "state-waiting",
    DeliveryStatus.FAILED: "state-failed",
}


class DeliveryTable(tables.Table):
    region_label = "Recipients and delivery"
    recipient_name = tables.Column(verbose_name="Recipient", orderable=False)
    email = tables.Column(verbose_name="Email", orderable=False)
    roles = tables.Column(verbose_name="Roles", orderable=False)
    status = tables.Column(verbose_name="State", orderable=False)
    attempts = tables.Column(verbose_name="Attempts", orderable=False, attrs=NUM)
    when = tables.Column(verbose_name="Sent / next try (UTC)", empty_values=(), orderable=False)

    class Meta:
        model = Delivery
        fields = ("recipient_name", "email", "roles", "status", "attempts", "when")
        attrs = {"class": "data-table wrap", "data-testid": "deliveries-table"}
        template_name = "notifications/table.html"
        empty_text = "Nobody held a role that receives this notification."

    def render_recipient_name(self, record, value):
        if record.resend_of_id:
            return format_html("{} <span class=\"muted\">(sent again by support)</span>", value)
        return value

    def render_roles(self, record):
        return ", ".join(record.role_labels) or "—"

    def render_status(self, record):
        words = record.get_status_display()
        if record.status == DeliveryStatus.PENDING and record.attempts:
            words = "Retrying"
        return format_html('<span class="badge {}">{}</span>', STATUS_CSS.get(record.status, "neutral"), words)

    def render_when(self, record):
        if record.status == DeliveryStatus.SENT and record.sent_at:
            return record.sent_at.strftime("%Y-%m-%d %H:%M")
        if record.status == DeliveryStatus.PENDING and record.attempts:
            return f"next try {record.next_attempt_at:%Y-%m-%d %H:%M}"
        return "—"
