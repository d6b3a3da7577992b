"""What support staff do from Django admin: send a delivery again, as a new, recorded delivery."""

from django.db import transaction
from django.utils import timezone

from ..models import Delivery, DeliveryStatus
from .outbox import ask_for_delivery


def resend_delivery(*, delivery, actor) -> Delivery:
    """A new delivery of the same event to the same address, marked as a resend by `actor`."""
    original = delivery.resend_of or delivery
    with transaction.atomic():
        copy = Delivery.objects.create(
            event_id=delivery.event_id,
            recipient_id=delivery.recipient_id,
            email=delivery.email,
            recipient_name=delivery.recipient_name,
            roles=delivery.roles,
            status=DeliveryStatus.PENDING,
            next_attempt_at=timezone.now(),
            resend_of=original,
            resent_by=actor,
        )
        ask_for_delivery(copy.event_id)
    return copy


def retry_now(*, deliveries) -> int:
    """Pending deliveries waiting for their back-off: try them now."""
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        count = Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())
        events_ = set(Delivery.objects.filter(pk__in=ids).values_list("event_id", flat=True))
        for event_id in events_:
            ask_for_delivery(event_id)
    return count
