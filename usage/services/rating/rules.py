"""Who pays for a call or an SMS, and why (the rules are listed in the package's notes)."""

from datetime import date

from billing.money import ZERO, to_money

from ...choices import (
    CONFERENCE_DIAL_IN_TYPES,
    CONFERENCE_DIAL_OUT_TYPES,
    EMERGENCY_TYPES,
    SMS_COUNTRIES,
    Capability,
    DestinationContext,
    NumberType,
    Rating,
)
from .context import Outcome, RatingContext
from .rate_book import dialable_digits


def billable_minutes(seconds: int) -> int:
    return -(-seconds // 60)


def billed_seconds(seconds: int, minimum: int = 60, increment: int = 60) -> int:
    """The seconds a rate line bills for a call: at least its minimum, then steps of its increment
    (60/60 bills whole minutes rounded up; 1/1 every second). A call that never connected bills nothing."""
    if seconds <= 0:
        return 0
    if seconds <= minimum:
        return minimum
    return minimum + -(-(seconds - minimum) // increment) * increment


_MONTHS = {}


def month_of(day) -> date:
    month = _MONTHS.get(day)
    if month is None:
        month = _MONTHS[day] = date(day.year, day.month, 1)
    return month


_MONTH_TEXTS = {}


def month_text(month) -> str:
    text = _MONTH_TEXTS.get(month)
    if text is None:
        text = _MONTH_TEXTS[month] = f"{month.year}-{month.month:02d}"
    return text


def amount_text(value, currency):
    """A rate or an amount as the reasons write it: no trailing zeros, then the currency."""
    return f"{value.normalize():f} {currency}"


def rate_call(ctx: RatingContext, row: dict, person=None) -> Outcome:
    """Decide who pays for one call. `row` holds CallRecord field values (see ingest); `person` is
    the PersonInfo of its user, if any."""
    call_type = row["call_type"]
    minutes = -(-row["duration_seconds"] // 60)  # billable_minutes, inline: this runs a million times
    day = row["start_time"].date()
    plan_code = person.plan if person else None
    plan = ctx.plans.get(plan_code) if plan_code else None
    location = row["user_location"] or (person.location if person else "") or ctx.organization.country
    context = row["destination_context"]
    ctx.call_at = row["start_time"]
    ctx.call_destination = None

    if call_type in EMERGENCY_TYPES:
        return Outcome(Rating.FREE_EMERGENCY, "Emergency calls are always free.", plan_code or "", units=minutes, destination_context=context)

    inbound = row["direction"] == "Inbound"
    if inbound:
        if not row["external_country"]:
            # The caller's country, when the number says it: the report's "From country or region".
            caller_rate = ctx.rates.outbound_rate(ctx.digits(row["caller_number"]), day)
            if caller_rate is not None and caller_rate.country:
                row["external_country"] = caller_rate.country
        if "toll" in row["number_type"].lower():
            country = location
            rate = ctx.rates.toll_free_rate(country, day)
            reason = f"Toll-free inbound to a {country} number"
            if rate is None:
                return _not_priced(f"{reason}: no toll-free rate for {country} in {ctx.currency}.", minutes, context)
            if minutes == 0:
                return Outcome(Rating.NO_CHARGE, f"{reason}, not connected: nothing to pay.", "", destination_context=context)
            amount, charged, text = _price(rate, row["duration_seconds"], 0, ctx.currency, "")
            reason += f": {text}" + _fee_text(rate, ctx.currency) + "."
            # Toll-free numbers belong to the organization, not to a user: no user license applies.
            return ctx.charge_or_refuse(None, amount, Capability.CREDITS, reason, charged, rate.connection_fee, minutes, context)
        if call_type in CONFERENCE_DIAL_IN_TYPES and person and Capability.CONFERENCING_PAY_PER_MINUTE in person.licenses:
            return _charge_per_minute(
                ctx, row, person, minutes, day, row["caller_number"], row["external_country"], context,
                "Conference dial-in on Audio Conferencing pay-per-minute", Capability.CONFERENCING_PAY_PER_MINUTE,
            )
        if call_type in CONFERENCE_DIAL_IN_TYPES:
            return Outcome(
                Rating.INCLUDED_CONFERENCE, "Conference dial-in to a toll number is included with Audio Conferencing.",
                Capability.CONFERENCING, units=minutes, destination_context=context,
            )
        return Outcome(Rating.FREE_INBOUND, "Inbound minutes are unlimited on every plan.", plan_code or "", units=minutes, destination_context=context)

    digits = ctx.digits(row["callee_number"])
    rate = ctx.rates.outbound_rate(digits, day, row["external_country"])
    # The destination decides Zone A, the plan's countries and premium numbers: by the number dialled
    # (longest prefix of the destinations table), not by the caller's country.
    found = ctx.destinations.lookup(digits) if digits else None
    destination = row["external_country"] or (found[0] if found else "") or (rate.country if rate else "")
    if destination and not row["external_country"]:
        row["external_country"] = destination  # the report's "To country or region", from the number
    premium = (found is not None and found[1] == NumberType.PREMIUM) or (rate is not None and rate.number_type == NumberType.PREMIUM)
    ctx.call_destination = (digits, destination, "premium" if premium else (found[1] if found else ""))
    if not context:
        if destination and location:
            context = DestinationContext.DOMESTIC if destination == location else DestinationContext.INTERNATIONAL
        else:
            context = DestinationContext.DOMESTIC
    if minutes == 0:
        return Outcome(Rating.NO_CHARGE, "Not connected (0 seconds): nothing to pay.", plan_code or "", destination_context=context)
    seconds = row["duration_seconds"]
    where = destination or "an unknown country"

    if call_type in CONFERENCE_DIAL_OUT_TYPES:
        if person and Capability.CONFERENCING_PAY_PER_MINUTE in person.licenses:
            return _charge_rate(
                ctx, person, rate, seconds, 0, minutes, context, row["callee_number"],
                "Conference dial-out on Audio Conferencing pay-per-minute", Capability.CONFERENCING_PAY_PER_MINUTE,
            )
        if premium:
            return _charge_rate(
                ctx, person, rate, seconds, 0, minutes, context, row["callee_number"],
                f"Conference dial-out to a premium-rate or shared-cost number in {where}, never part of a pool", Capability.CREDITS,
            )
        if destination not in ctx.destinations.zone_a:
            return _charge_rate(
                ctx, person, rate, seconds, 0, minutes, context, row["callee_number"],
                f"Conference dial-out to {where}, outside Zone A", Capability.CREDITS,
            )
        size = ctx.conference_pool_size()
        month = month_of(day)
        taken, used = ctx.draw("conf", month, size, minutes)
        pool_text = f"audio conferencing dial-out pool ({used:,} of {size:,} min used in {month_text(month)})"
        if taken == minutes:
            return Outcome(
                Rating.INCLUDED_CONFERENCE, f"Conference dial-out to {destination} (Zone A): {minutes} min from the {pool_text}.",
                Capability.CONFERENCING, units=minutes, destination_context=context,
            )
        return _charge_rate(
            ctx, person, rate, seconds, taken, minutes, context, row["callee_number"],
            f"Conference dial-out to {destination} beyond the {pool_text}: {taken} of {minutes} min from the pool",
            Capability.CREDITS,
        )

    international = context == DestinationContext.INTERNATIONAL
    if plan is None:
        return _charge_rate(
            ctx, person, rate, seconds, 0, minutes, context, row["callee_number"], "No calling plan: every minute is paid from credits",
            Capability.CREDITS,
        )
    if plan.included_minutes == 0:
        return _charge_rate(
            ctx, person, rate, seconds, 0, minutes, context, row["callee_number"],
            f"{plan.name} ({plan.capability}) includes no outbound minutes", Capability.CREDITS,
        )
    if premium:
        return _charge_rate(
            ctx, person, rate, seconds, 0, minutes, context, row["callee_number"],
            f"Premium-rate or shared-cost number in {where}: never included in {plan.name} ({plan.capability})", Capability.CREDITS,
        )
    if international and not plan.international:
        return _charge_rate(
            ctx, person, rate, seconds, 0, minutes, context, row["callee_number"],
            f"International call on {plan.name} ({plan.capability})", Capability.CREDITS,
        )
    if international and destination not in ctx.destinations.international_plan:
        return _charge_rate(
            ctx, person, rate, seconds, 0, minutes, context, row["callee_number"],
            f"International call to {where}, a country {plan.name} ({plan.capability}) does not include", Capability.CREDITS,
        )
    key, size = ctx.plan_pool(person, plan, location)
    month = month_of(day)
    taken, used = ctx.draw(key, month, size, minutes)
    scope = f"{location} pool" if plan.pooled else "minutes of this user"
    pool_text = f"{plan.capability} {scope} ({used:,} of {size:,} min used in {month_text(month)})"
    if taken == minutes:
        return Outcome(
            Rating.INCLUDED_PLAN, f"{minutes} min from the {pool_text}.", plan.capability, units=minutes, destination_context=context
        )
    return _charge_rate(
        ctx, person, rate, seconds, taken, minutes, context, row["callee_number"],
        f"Beyond the {pool_text}: {taken} of {minutes} min from the pool", Capability.CREDITS,
    )


def _fee_text(rate, currency):
    return f" + {amount_text(rate.connection_fee, currency)} connection fee" if rate.connection_fee else ""


def _not_priced(reason, units, context):
    return Outcome(Rating.NOT_PRICED, reason + " Not priced (FREECALL).", Capability.FREE_CALL, units=units, destination_context=context)


def call_price(rate, seconds, pool_minutes=0):
    """(exact amount, minutes charged, seconds billed or None) of a call of `seconds` at a rate line,
    `pool_minutes` of which a pool covered: unrounded, for the one rounding of to_money. The rating and
    the "Why this charge" page both price through here. Seconds billed is None for the common
    60 s / 60 s card, which bills whole minutes."""
    if rate.minimum_seconds == 60 and rate.increment_seconds == 60:
        charged = -(-seconds // 60) - pool_minutes  # whole minutes, the common card: no division
        return charged * rate.per_unit + rate.connection_fee, charged, None
    billed = max(0, billed_seconds(seconds, rate.minimum_seconds, rate.increment_seconds) - pool_minutes * 60)
    return billed * rate.per_unit / 60 + rate.connection_fee, -(-billed // 60), billed


def _price(rate, seconds, pool_minutes, currency, where):
    """(amount, minutes charged, how it was computed) for a call of `seconds`, `pool_minutes` of which
    a pool covered."""
    exact, charged, billed = call_price(rate, seconds, pool_minutes)
    amount = to_money(exact)
    if billed is None:
        return amount, charged, f"{charged} min x {amount_text(rate.per_unit, currency)}{where}"
    text = (
        f"{billed} s x {amount_text(rate.per_unit, currency)} per min{where}, "
        f"billed {rate.minimum_seconds} s minimum then per {rate.increment_seconds} s"
    )
    return amount, charged, text


def _charge_rate(ctx, person, rate, seconds, taken, minutes, context, number, why, capability):
    """Charge a call at its rate line; `taken` minutes of it came from a pool."""
    if rate is None:
        return _not_priced(f"{why}; no rate for {number or 'this destination'} in {ctx.currency}.", minutes, context)
    where = f" (+{rate.prefix})" if rate.prefix else f" ({rate.country})"
    amount, charged, text = _price(rate, seconds, taken, ctx.currency, where)
    reason = f"{why}: {text}" + _fee_text(rate, ctx.currency) + "."
    return ctx.charge_or_refuse(person, amount, capability, reason, charged, rate.connection_fee, minutes, context)


def _charge_per_minute(ctx, row, person, minutes, day, number, country, context, why, capability):
    rate = ctx.rates.outbound_rate(dialable_digits(number), day, country)
    if minutes == 0:
        return Outcome(Rating.NO_CHARGE, "Not connected (0 seconds): nothing to pay.", capability, destination_context=context)
    return _charge_rate(ctx, person, rate, row["duration_seconds"], 0, minutes, context, number, why, capability)


def rate_sms(ctx: RatingContext, row: dict, person=None) -> Outcome:
    segments = row["segments"]
    day = row["sent_time"].date()
    plan_code = person.plan if person else None
    plan = ctx.plans.get(plan_code) if plan_code else None
    location = row["user_location"] or (person.location if person else "") or ctx.organization.country
    context = row["destination_context"]
    if not row["sms_type"].lower().startswith("out"):
        return Outcome(Rating.FREE_INBOUND, "Inbound SMS are free.", plan_code or "", units=segments, destination_context=context)
    destination = row["other_party_country"] or location
    ctx.call_at = row["sent_time"]
    ctx.call_destination = (ctx.digits(row["destination_number"]) if ctx.guard is not None else "", destination, "")
    if not context:
        context = DestinationContext.DOMESTIC if destination == location else DestinationContext.INTERNATIONAL
    rate = ctx.rates.sms_rate(destination, day)
    why = "Outbound SMS without a calling plan"
    charged = segments
    if plan is not None and plan.sms_segments and location in SMS_COUNTRIES and context == DestinationContext.DOMESTIC:
        users = ctx.plan_counts.get((plan.capability, location), 0)
        size = users * plan.sms_segments
        month = month_of(day)
        taken, used = ctx.draw(f"sms:{plan.capability}:{location}", month, size, segments)
        pool_text = f"{plan.capability} {location} SMS pool ({used:,} of {size:,} segments used in {month_text(month)})"
        if taken == segments:
            return Outcome(
                Rating.INCLUDED_SMS, f"{segments} segment(s) from the {pool_text}.", plan.capability, units=segments, destination_context=context
            )
        charged = segments - taken
        why = f"Beyond the {pool_text}: {taken} of {segments} segment(s) from the pool"
    elif plan is not None and context == DestinationContext.INTERNATIONAL:
        why = f"International SMS on {plan.name} ({plan.capability})"
    elif plan is not None:
        why = f"{plan.name} ({plan.capability}) includes no SMS for users in {location}"
    if rate is None:
        return _not_priced(f"{why}; no SMS rate for {destination} in {ctx.currency}.", segments, context)
    amount = to_money(charged * rate.per_unit)
    reason = f"{why}: {charged} segment(s) x {amount_text(rate.per_unit, ctx.currency)} ({destination})."
    return ctx.charge_or_refuse(person, amount, Capability.CREDITS, reason, charged, ZERO, segments, context)
