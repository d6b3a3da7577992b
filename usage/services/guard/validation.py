"""What the spend guard accepts: errors by field, as the forms show them."""

from decimal import Decimal, InvalidOperation

from billing.money import to_money

from ...choices import NumberType
from ...models import Person
from ...rating_data import country_problems
from ...spend_guard import CapAction, GuardScope, RuleAction

CAP_MAX = Decimal("1000000")


class GuardError(Exception):
    """The change is refused; `errors` maps a field (or "__all__") to what is wrong."""

    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))


def clean_cap(value, field, errors):
    if value in (None, ""):
        return None
    try:
        amount = to_money(value)
    except (TypeError, ValueError, InvalidOperation):
        errors[field] = "Enter an amount, like 25 or 25.50."
        return None
    if amount <= 0:
        errors[field] = "A cap is more than zero; leave it empty for no cap."
    elif amount > CAP_MAX:
        errors[field] = f"A cap is at most {CAP_MAX:,}."
    return amount


def clean_scope(organization, scope, department, person, errors):
    """(scope, department, person) as stored; a person of another organization is refused."""
    department = (department or "").strip()
    if scope == GuardScope.ORGANIZATION:
        return scope, "", None
    if scope == GuardScope.DEPARTMENT:
        if not department:
            errors["department"] = "Name the department (administrative unit)."
        return scope, department[:128], None
    if scope == GuardScope.PERSON:
        if person is None or getattr(person, "organization_id", None) != organization.pk:
            errors["person"] = "Choose a person of this organization."
            person = None
        return scope, "", person
    errors["scope"] = "Choose the organization, a department or a person."
    return GuardScope.ORGANIZATION, "", None


def clean_policy(organization, *, scope, department, person, call_cap, person_day_cap, organization_day_cap, cap_action):
    errors = {}
    scope, department, person = clean_scope(organization, scope, department, person, errors)
    values = {
        "scope": scope,
        "department": department,
        "person": person,
        "call_cap": clean_cap(call_cap, "call_cap", errors),
        "person_day_cap": clean_cap(person_day_cap, "person_day_cap", errors),
        "organization_day_cap": clean_cap(organization_day_cap, "organization_day_cap", errors),
        "cap_action": cap_action or "",
    }
    if values["cap_action"] not in CapAction.values and values["cap_action"]:
        errors["cap_action"] = "Choose warn only or stop."
    if scope == GuardScope.ORGANIZATION and not values["cap_action"]:
        values["cap_action"] = CapAction.WARN
    if scope != GuardScope.ORGANIZATION and values["organization_day_cap"] is not None:
        errors["organization_day_cap"] = "The cap per organization per day belongs to the organization's policy only."
    if errors:
        raise GuardError(errors)
    return values


def clean_rule(organization, *, scope, department, person, action, country, number_type, prefix, description):
    errors = {}
    scope, department, person = clean_scope(organization, scope, department, person, errors)
    country = (country or "").strip().upper()
    if country and country_problems([country]):
        errors["country"] = f"{country} is not an ISO 3166 country code."
    number_type = number_type or ""
    if number_type and number_type not in NumberType.values:
        errors["number_type"] = "Choose a type of number, or none for every type."
    prefix = (prefix or "").strip().lstrip("+").replace(" ", "")
    if prefix and (not prefix.isdigit() or len(prefix) > 15):
        errors["prefix"] = "A prefix is E.164 digits (up to 15), like 44 or 881, with or without '+'."
    if action not in RuleAction.values:
        errors["action"] = "Choose allow or block."
    if errors:
        raise GuardError(errors)
    return {
        "scope": scope,
        "department": department,
        "person": person,
        "action": action,
        "country": country,
        "number_type": number_type,
        "prefix": prefix,
        "description": (description or "").strip()[:200],
    }


def person_of(organization, person_id):
    """A person of this organization by id, or None (another tenant's id finds nothing)."""
    if not person_id:
        return None
    return Person.objects.filter(organization=organization, pk=person_id).first()
