"""May this user call this number now, and for how many minutes the pool, the balance and the spend
guard allow (the JSON endpoint's authorize). The spend guard answers first: a destination rule that
blocks, a credit block in force or a cap at "stop" reached refuses the call, with the rule that decided."""

from dataclasses import dataclass
from decimal import Decimal

from ...choices import Capability, NumberType
from ...spend_guard import CapKind, RuleAction
from ..guard.evaluator import GuardNote, rule_text
from .context import RatingContext
from .rate_book import dialable_digits
from .rules import amount_text, month_of


@dataclass(frozen=True)
class Authorization:
    allowed: bool
    reason: str
    minutes: int | None  # None: not limited (free or included without limit)
    included_minutes: int = 0
    rate_per_minute: Decimal | None = None
    currency: str = ""
    rule: dict | None = None  # the spend guard's rule that decided: {"kind", "id", "description"}


def authorize_call(organization, *, upn, number, at) -> Authorization:
    """May this user call this number now, and for how many minutes the pool and balance allow."""
    ctx = RatingContext(organization)
    person = ctx.people.get(upn.strip().lower())
    if person is None:
        return Authorization(False, f"{upn} is not a user of {organization.name}.", 0)
    day = at.date()
    digits = dialable_digits(number)
    if not digits:
        return Authorization(False, "The number is not an E.164 number.", 0)
    rate = ctx.rates.outbound_rate(digits, day)
    location = person.location or organization.country
    found = ctx.destinations.lookup(digits)
    destination = (found[0] if found else "") or (rate.country if rate else "")
    premium = (found is not None and found[1] == NumberType.PREMIUM) or (rate is not None and rate.number_type == NumberType.PREMIUM)
    international = bool(destination) and destination != location
    guard = ctx.guard
    decided = None
    price = rate.per_unit if rate else None
    if guard is not None:
        number_type = NumberType.PREMIUM.value if premium else (found[1] if found else "")
        rule = guard.rule_for(person.id, digits, destination, number_type)
        if rule is not None:
            decided = GuardNote(rule.action == RuleAction.BLOCK, "destination_rule", rule.pk, rule_text(rule))
            if decided.refused:
                return Authorization(False, decided.text, 0, rate_per_minute=price, currency=ctx.currency, rule=decided.as_dict())
        stopped = guard.refusal_now(person, at)
        if stopped is not None:
            return Authorization(False, stopped.text, 0, rate_per_minute=price, currency=ctx.currency, rule=stopped.as_dict())
    plan = ctx.plans.get(person.plan) if person.plan else None
    included = 0
    # As rating decides: premium numbers never draw a pool; international calls only on a plan that
    # includes the destination's country.
    covered = not international or (plan is not None and plan.international and destination in ctx.destinations.international_plan)
    if plan is not None and plan.included_minutes and not premium and covered:
        key, size = ctx.plan_pool(person, plan, location)
        included = ctx.remaining(key, month_of(day), size)
    credit_minutes = 0
    reason = f"{included:,} min left in the {person.plan} pool this month." if included else ""
    if rate is None:
        reason += f" No rate for +{digits} in {ctx.currency}: calls beyond the pool cannot be priced."
    elif Capability.CREDITS not in person.licenses:
        reason += " The user has no Communications Credits license (MCOPSTNPP): nothing can be charged to credits."
    elif not ctx.allowed:
        reason += " The Communications Credits balance is zero or less: calls charged to credits are refused."
    else:
        spendable = ctx.balance - rate.connection_fee
        credit_minutes = int(spendable // rate.per_unit) if rate.per_unit > 0 and spendable > 0 else 0
        if rate.per_unit == 0:
            credit_minutes = None
        reason += f" The balance of {ctx.balance} {ctx.currency} pays for {credit_minutes if credit_minutes is not None else 'unlimited'} more min at {amount_text(rate.per_unit, ctx.currency)} per min."
        room = guard.room(person.id, at) if guard is not None else None
        if room is not None and rate.per_unit > 0:
            capped = max(0, int((room[0] - rate.connection_fee) // rate.per_unit))
            if credit_minutes is None or capped < credit_minutes:
                credit_minutes = capped
                decided = GuardNote(False, "cap", room[1], f"Spend guard: the {CapKind(room[1]).label.lower()} leaves {room[0]} {ctx.currency}.")
                reason += f" {decided.text} That is {capped} min."
    minutes = None if credit_minutes is None else included + credit_minutes
    return Authorization(
        allowed=minutes is None or minutes > 0,
        reason=reason.strip(),
        minutes=minutes,
        included_minutes=included,
        rate_per_minute=rate.per_unit if rate else None,
        currency=ctx.currency,
        rule=decided.as_dict() if decided is not None else None,
    )
