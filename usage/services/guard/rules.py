"""Destination rules: allow or block calls charged to credits by country, number type or prefix."""

from django.db import transaction
from django.utils import timezone

from ...spend_guard import DestinationRule, GuardChange, GuardScope, RuleAction
from .audit import record_change, rule_snapshot
from .defaults import missing_default_rules
from .validation import GuardError, clean_rule


def _user(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _incident_id(incident):
    return None if incident is None else getattr(incident, "pk", incident)


def create_rule(
    organization,
    *,
    actor,
    action=RuleAction.BLOCK,
    country="",
    number_type="",
    prefix="",
    description="",
    scope=GuardScope.ORGANIZATION,
    department="",
    person=None,
    incident=None,
    reason="",
) -> DestinationRule:
    values = clean_rule(
        organization, scope=scope, department=department, person=person, action=action,
        country=country, number_type=number_type, prefix=prefix, description=description,
    )
    if not (values["country"] or values["number_type"] or values["prefix"]) and values["action"] == RuleAction.ALLOW and scope == GuardScope.ORGANIZATION:
        raise GuardError({"__all__": "Allowing every destination for the organization is what no rule does already; name a country, a type or a prefix."})
    with transaction.atomic():
        rule = DestinationRule.objects.create(
            organization=organization, created_by=_user(actor), incident_id=_incident_id(incident), **values
        )
        record_change(organization, GuardChange.Subject.RULE, rule.pk, "created", actor=actor, before=None, after=rule_snapshot(rule), reason=reason)
    return rule


def update_rule(organization, rule_id, *, actor, **fields) -> DestinationRule:
    """Change a rule of this organization (another's id raises DoesNotExist). A default's target is
    fixed (lift it and add a rule instead); its description may change."""
    with transaction.atomic():
        rule = DestinationRule.objects.select_for_update(of=("self",)).select_related("person").get(organization=organization, pk=rule_id)
        before = rule_snapshot(rule)
        current = {
            "scope": rule.scope, "department": rule.department, "person": rule.person, "action": rule.action,
            "country": rule.country, "number_type": rule.number_type, "prefix": rule.prefix, "description": rule.description,
        }
        unknown = set(fields) - set(current)
        if unknown:
            raise GuardError({"__all__": f"Unknown fields: {', '.join(sorted(unknown))}."})
        if rule.default_key and any(fields.get(k, current[k]) != current[k] for k in current if k != "description"):
            raise GuardError({"__all__": "A default rule keeps its destination; lift it and add a rule of your own instead."})
        current.update(fields)
        values = clean_rule(organization, **current)
        for name, value in values.items():
            setattr(rule, name, value)
        rule.save()
        after = rule_snapshot(rule)
        if after != before:
            record_change(organization, GuardChange.Subject.RULE, rule.pk, "updated", actor=actor, before=before, after=after)
    return rule


def delete_rule(organization, rule_id, *, actor) -> None:
    """Delete a rule an admin added; a default rule is lifted instead, so that it stays visible."""
    with transaction.atomic():
        rule = DestinationRule.objects.select_for_update(of=("self",)).select_related("person").get(organization=organization, pk=rule_id)
        if rule.default_key:
            raise GuardError({"__all__": "A default rule is lifted, not deleted, so that it can be restored."})
        record_change(organization, GuardChange.Subject.RULE, rule.pk, "deleted", actor=actor, before=rule_snapshot(rule), after=None)
        rule.delete()


def lift_rule(organization, rule_id, *, actor) -> DestinationRule:
    """Stop applying a rule (a default one too) while keeping it listed."""
    with transaction.atomic():
        rule = DestinationRule.objects.select_for_update(of=("self",)).select_related("person").get(organization=organization, pk=rule_id)
        if rule.lifted_at is not None:
            return rule
        before = rule_snapshot(rule)
        rule.lifted_at = timezone.now()
        rule.lifted_by = _user(actor)
        rule.save(update_fields=["lifted_at", "lifted_by"])
        record_change(organization, GuardChange.Subject.RULE, rule.pk, "lifted", actor=actor, before=before, after=rule_snapshot(rule))
    return rule


def apply_rule(organization, rule_id, *, actor) -> DestinationRule:
    """Apply a lifted rule again."""
    with transaction.atomic():
        rule = DestinationRule.objects.select_for_update(of=("self",)).select_related("person").get(organization=organization, pk=rule_id)
        if rule.lifted_at is None:
            return rule
        before = rule_snapshot(rule)
        rule.lifted_at = None
        rule.lifted_by = None
        rule.save(update_fields=["lifted_at", "lifted_by"])
        record_change(organization, GuardChange.Subject.RULE, rule.pk, "applied again", actor=actor, before=before, after=rule_snapshot(rule))
    return rule


def seed_default_rules(organization) -> int:
    """Add the default rules an organization lacks (a new organization gets them all); not audited
    as a change of anyone's: they are what every organization starts with."""
    existing = set(
        DestinationRule.objects.filter(organization=organization).exclude(default_key="").values_list("default_key", flat=True)
    )
    missing = missing_default_rules(organization.pk, existing, DestinationRule)
    DestinationRule.objects.bulk_create(missing)
    return len(missing)


def restore_defaults(organization, *, actor) -> int:
    """Apply every lifted default rule again and add any default missing; returns how many changed."""
    changed = 0
    with transaction.atomic():
        for rule in DestinationRule.objects.select_for_update(of=("self",)).filter(organization=organization, lifted_at__isnull=False).exclude(default_key=""):
            before = rule_snapshot(rule)
            rule.lifted_at = None
            rule.lifted_by = None
            rule.save(update_fields=["lifted_at", "lifted_by"])
            record_change(organization, GuardChange.Subject.RULE, rule.pk, "restored", actor=actor, before=before, after=rule_snapshot(rule))
            changed += 1
        existing = set(
            DestinationRule.objects.filter(organization=organization).exclude(default_key="").values_list("default_key", flat=True)
        )
        for rule in missing_default_rules(organization.pk, existing, DestinationRule):
            rule.save()
            record_change(organization, GuardChange.Subject.RULE, rule.pk, "restored", actor=actor, before=None, after=rule_snapshot(rule))
            changed += 1
    return changed


def block_destination(organization, country, *, actor, reason, number_type="", incident=None) -> DestinationRule:
    """A block rule at organization scope (the incident page's "block the destination"); audited.
    An active organization rule blocking the same country and type already is returned as it is."""
    country = (country or "").strip().upper()
    existing = DestinationRule.objects.filter(
        organization=organization, scope=GuardScope.ORGANIZATION, action=RuleAction.BLOCK,
        country=country, number_type=number_type or "", prefix="", lifted_at__isnull=True,
    ).first()
    if existing is not None:
        return existing
    description = (reason or f"Calls to {country} blocked")[:200]
    return create_rule(
        organization, actor=actor, action=RuleAction.BLOCK, country=country, number_type=number_type or "",
        description=description, incident=incident, reason=reason or "",
    )
