"""What admins choose: who receives the optional events, and their low-balance thresholds."""

from decimal import Decimal

from django.db import IntegrityError, transaction

from billing.choices import AdminRole
from billing.money import to_money

from .. import kinds
from ..models import LowBalanceThreshold, RolePreference

THRESHOLD_MIN = Decimal("1.00")
THRESHOLD_MAX = Decimal("100000.00")
MAX_THRESHOLDS = 5


class NotificationSettingsError(ValueError):
    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


def set_role_preferences(*, organization, actor, kind, roles) -> frozenset:
    """Choose which roles receive an optional event. Core events cannot be changed: they reach all 20 roles."""
    event_type = kinds.get(kind)
    if event_type is None or not event_type.optional:
        raise NotificationSettingsError("Only optional notifications can be chosen per role.")
    roles = frozenset(roles)
    unknown = roles - set(AdminRole.values)
    if unknown:
        raise NotificationSettingsError(f"Unknown roles: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        existing = {
            p.role: p for p in RolePreference.objects.select_for_update().filter(organization=organization, kind=kind)
        }
        creates, updates = [], []
        for role in AdminRole.values:
            enabled = role in roles
            current = existing.get(role)
            if current is None:
                creates.append(RolePreference(organization=organization, kind=kind, role=role, enabled=enabled, updated_by=actor))
            elif current.enabled != enabled:
                current.enabled, current.updated_by = enabled, actor
                updates.append(current)
        RolePreference.objects.bulk_create(creates)
        if updates:
            RolePreference.objects.bulk_update(updates, ["enabled", "updated_by", "updated_at"])
    return roles


def add_low_balance_threshold(*, organization, actor, amount) -> LowBalanceThreshold:
    try:
        amount = to_money(amount)
    except (TypeError, ValueError):
        raise NotificationSettingsError("Enter an amount.", field="amount") from None
    if not THRESHOLD_MIN <= amount <= THRESHOLD_MAX:
        raise NotificationSettingsError(
            f"Choose an amount from {THRESHOLD_MIN:,.2f} to {THRESHOLD_MAX:,.2f}.", field="amount"
        )
    try:
        with transaction.atomic():
            count = LowBalanceThreshold.objects.select_for_update().filter(organization=organization).count()
            if count >= MAX_THRESHOLDS:
                raise NotificationSettingsError(
                    f"An organization can have up to {MAX_THRESHOLDS} thresholds; remove one first.", field="amount"
                )
            return LowBalanceThreshold.objects.create(organization=organization, amount=amount, created_by=actor)
    except IntegrityError:
        raise NotificationSettingsError("There is already a threshold at this amount.", field="amount") from None


def remove_low_balance_threshold(*, organization, actor, threshold_id) -> bool:
    deleted, _ = LowBalanceThreshold.objects.filter(organization=organization, pk=threshold_id).delete()
    return bool(deleted)
