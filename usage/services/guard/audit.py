"""The spend guard's audit trail: a snapshot of what changed, before and after, as JSON."""

from ...spend_guard import CreditBlock, DestinationRule, GuardChange, SpendPolicy


def _money(value):
    return None if value is None else str(value)


def _moment(value):
    return None if value is None else value.isoformat()


def policy_snapshot(policy: SpendPolicy | None) -> dict | None:
    if policy is None:
        return None
    return {
        "scope": policy.scope,
        "department": policy.department,
        "person": policy.person.upn if policy.person_id else None,
        "call_cap": _money(policy.call_cap),
        "person_day_cap": _money(policy.person_day_cap),
        "organization_day_cap": _money(policy.organization_day_cap),
        "cap_action": policy.cap_action,
    }


def rule_snapshot(rule: DestinationRule | None) -> dict | None:
    if rule is None:
        return None
    return {
        "scope": rule.scope,
        "department": rule.department,
        "person": rule.person.upn if rule.person_id else None,
        "action": rule.action,
        "country": rule.country,
        "number_type": rule.number_type,
        "prefix": rule.prefix,
        "description": rule.description,
        "default": rule.default_key or None,
        "lifted_at": _moment(rule.lifted_at),
    }


def block_snapshot(block: CreditBlock | None) -> dict | None:
    if block is None:
        return None
    return {
        "person": block.person.upn if block.person_id else None,
        "reason": block.reason,
        "rule": block.rule,
        "cap": block.cap or None,
        "starts_at": _moment(block.starts_at),
        "until": _moment(block.until),
        "lifted_at": _moment(block.lifted_at),
        "incident_id": block.incident_id,
    }


def record_change(organization, subject, subject_id, action, *, actor, before, after, reason="") -> GuardChange:
    return GuardChange.objects.create(
        organization=organization,
        subject=subject,
        subject_id=subject_id,
        action=action,
        changed_by=actor if actor is not None and actor.is_authenticated else None,
        before=before,
        after=after,
        reason=reason[:300],
    )
