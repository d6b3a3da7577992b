"""Rating: who pays for each call and SMS, and why.

For every record one outcome is decided and stored with a sentence saying why:

- emergency calls are free; inbound calls are free on every plan (minutes are unlimited);
- toll-free inbound minutes are charged to credits at the toll-free rate of the number's country;
- a conference dial-in is included with Audio Conferencing, or charged per minute when the
  organizer has Audio Conferencing pay-per-minute (MCOMEETACPEA);
- a conference dial-out draws the tenant's pool (60 minutes per Audio Conferencing user per month)
  when the destination is in Zone A; beyond the pool, outside Zone A or on pay-per-minute it is
  charged to credits;
- an outbound call draws the pool of the caller's plan: per country per identical plan per calendar
  month (users x minutes), or the user's own minutes for a plan that is not pooled. International
  calls on a domestic-only plan, minutes beyond the pool, and every minute on Pay-As-You-Go or
  without a plan are charged to credits;
- an outbound SMS draws the plan's SMS pool (US, PR and CA); beyond it, it is charged per segment.

Charges: minutes are whole minutes, rounded up per call (a 61-second call is 2 minutes). A charge is
`minutes x rate + connection fee`, kept at full precision and rounded once, to the cent, half up, by
billing.money.to_money (the one rounding rule of the product). SMS: `segments x rate`, same rounding.

A charge needs a rate in the organization's currency (otherwise "not priced", FREECALL), a user who
holds the Communications Credits license (MCOPSTNPP) when the record has a user, and an account
that billing's can_charge_credits allows. The import checks the account once and then follows the
balance its own charges leave: the call that takes the balance to zero or below is charged (it was
made), and the ones after it are refused, as the live service would have refused them.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.catalog import CATALOG
from billing.models import Product
from billing.money import ZERO, to_money
from billing.services import can_charge_credits

from ..choices import (
    CONFERENCE_DIAL_IN_TYPES,
    CONFERENCE_DIAL_OUT_TYPES,
    EMERGENCY_TYPES,
    FULL_ALLOTMENT_COUNTRIES,
    KNOWN_LICENSES,
    PLAN_PRIORITY,
    SMS_COUNTRIES,
    ZONE_A,
    Capability,
    DestinationContext,
    RateKind,
    Rating,
)
from ..models import Person, PoolUsage, Rate

_NON_DIGITS = re.compile(r"[^0-9]")


def dialable_digits(number: str) -> str:
    """The E.164 digits of a number, up to any obscured part; "" for a name shown instead."""
    if number[:1] == "+" and number.isascii() and number[1:].isdigit():
        return number[1:]  # the common form, E.164 as it should be
    text = number.strip()
    if text[:4].lower() == "tel:":
        text = text[4:]
    if not text or not (text[0] == "+" or text[0].isdigit()):
        return ""
    return _NON_DIGITS.sub("", text.split("*", 1)[0])


def billable_minutes(seconds: int) -> int:
    return -(-seconds // 60)


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


@dataclass(frozen=True)
class Plan:
    capability: str
    name: str
    included_minutes: int
    included_minutes_outside_full: int | None
    pooled: bool
    international: bool
    sms_segments: int

    def minutes_for(self, country: str) -> int:
        if country in FULL_ALLOTMENT_COUNTRIES or self.included_minutes_outside_full is None:
            return self.included_minutes
        return self.included_minutes_outside_full


def load_plans() -> dict:
    """Plans by capability code: the catalog support staff maintain, the built-in one for any gap."""
    plans = {}
    for item in CATALOG:
        if item.get("capability"):
            plans[item["capability"]] = _plan_from(item)
    for product in Product.objects.exclude(capability=""):
        plans[product.capability] = _plan_from(
            dict(
                capability=product.capability,
                name=product.name,
                included_minutes=product.included_minutes,
                included_minutes_outside_us_ca_uk=product.included_minutes_outside_us_ca_uk,
                minutes_pooled=product.minutes_pooled,
                includes_international=product.includes_international,
                sms_segments=product.sms_segments,
            )
        )
    return plans


def _plan_from(item) -> Plan:
    return Plan(
        capability=item["capability"],
        name=item["name"],
        included_minutes=item.get("included_minutes", 0),
        included_minutes_outside_full=item.get("included_minutes_outside_us_ca_uk"),
        pooled=item.get("minutes_pooled", True),
        international=item.get("includes_international", False),
        sms_segments=item.get("sms_segments", 0),
    )


class RateBook:
    """The rate table of one currency, in memory: longest-prefix match and lookups by country."""

    def __init__(self, rates):
        self.outbound = {}
        self.by_country = {}
        self.toll_free = {}
        self.sms = {}
        for rate in rates:
            if rate.kind == RateKind.OUTBOUND:
                self.outbound.setdefault(rate.prefix, []).append(rate)
                if rate.country:
                    self.by_country.setdefault(rate.country, []).append(rate)
            elif rate.kind == RateKind.TOLL_FREE_INBOUND:
                self.toll_free.setdefault(rate.country, []).append(rate)
            elif rate.kind == RateKind.SMS:
                self.sms.setdefault(rate.country, []).append(rate)
        self.longest = max((len(p) for p in self.outbound), default=0)
        self._cache = {}
        for lines in (*self.outbound.values(), *self.toll_free.values(), *self.sms.values()):
            lines.sort(key=lambda r: r.effective_from, reverse=True)
        for lines in self.by_country.values():
            # A number shown as a name is priced at the country's base (shortest prefix) line.
            lines.sort(key=lambda r: (len(r.prefix), -r.effective_from.toordinal()))

    @classmethod
    def load(cls, currency):
        return cls(Rate.objects.filter(currency=currency))

    @staticmethod
    def _effective(lines, day):
        for rate in lines:
            if rate.effective_from <= day and (rate.effective_to is None or day < rate.effective_to):
                return rate
        return None

    def outbound_rate(self, digits: str, day, country: str = ""):
        # Remembered per (leading digits, day, country): a file holds few distinct answers.
        key = (digits[: self.longest], day, country)
        cache = self._cache
        if key in cache:
            return cache[key]
        if len(cache) > 200_000:
            cache.clear()
        rate = cache[key] = self._outbound_rate(key[0], day, country)
        return rate

    def _outbound_rate(self, digits: str, day, country: str = ""):
        outbound = self.outbound
        for length in range(min(len(digits), self.longest), 0, -1):
            lines = outbound.get(digits[:length])
            if lines:
                rate = self._effective(lines, day)
                if rate is not None:
                    return rate
        if country:
            return self._effective(self.by_country.get(country, ()), day)
        return None

    def toll_free_rate(self, country, day):
        return self._effective(self.toll_free.get(country, ()), day)

    def sms_rate(self, country, day):
        return self._effective(self.sms.get(country, ()), day)


class PersonInfo:
    __slots__ = ("id", "upn", "location", "licenses", "plan", "auto", "dirty", "display_name")

    def __init__(self, pk, upn, location, licenses, auto, display_name=""):
        self.id = pk
        self.upn = upn
        self.location = location
        self.licenses = set(licenses)
        self.plan = _plan_code(self.licenses)
        self.auto = auto
        self.dirty = False
        self.display_name = display_name


def _plan_code(licenses):
    return next((code for code in PLAN_PRIORITY if code in licenses), None)


class Outcome:
    """What rating decided for one record (a plain class: a million of these are made per import)."""

    __slots__ = ("rating", "reason", "capability", "charge", "connection_fee", "charged_units", "units", "destination_context")

    def __init__(self, rating, reason, capability="", charge=ZERO, connection_fee=ZERO, charged_units=0, units=0, destination_context=""):
        self.rating = rating
        self.reason = reason
        self.capability = capability
        self.charge = charge
        self.connection_fee = connection_fee
        self.charged_units = charged_units
        self.units = units
        self.destination_context = destination_context


class RatingContext:
    """Everything rating needs for one organization, loaded once per import."""

    def __init__(self, organization, *, currency=None, balance=None, allowed=None):
        self.organization = organization
        self.currency = currency or organization.currency
        self.plans = load_plans()
        self.rates = RateBook.load(self.currency)
        self.people = {}
        self.people_by_object_id = {}
        self._pool_sizes = {}
        self.plan_counts = {}
        self.conference_users = 0
        for pk, upn, location, licenses, auto, name, object_id in Person.objects.filter(
            organization=organization
        ).values_list("pk", "upn", "usage_location", "licenses", "created_by_import", "display_name", "object_id"):
            info = PersonInfo(pk, upn, location, licenses.split(), auto, name)
            self._count(info, +1)
            self.people[upn] = info
            if object_id:
                self.people_by_object_id[object_id.lower()] = info
        if balance is None or allowed is None:
            decision = can_charge_credits(organization)
            balance, allowed = decision.balance, decision.allowed
            self.refusal = decision.reason
        else:
            self.refusal = "" if allowed else "The Communications Credits balance is zero or less."
        self.balance = balance if balance is not None else ZERO
        self.allowed = allowed
        self.pools = {}  # (key, month) -> [PoolUsage or None, used, size]
        self.loaded_months = set()
        self.charged_total = ZERO
        self._digits = {}

    def digits(self, number):
        """dialable_digits, remembered: the same numbers come back again and again in a file."""
        if number[:1] == "+" and number.isascii() and number[1:].isdigit():
            return number[1:]  # E.164 as it should be: cheaper to take than to remember
        found = self._digits.get(number)
        if found is None:
            if len(self._digits) > 100_000:
                self._digits.clear()
            found = self._digits[number] = dialable_digits(number)
        return found

    # People ---------------------------------------------------------------------------------

    def _count(self, info, delta):
        self._pool_sizes.clear()  # a license seen on a row changes the size of its pool
        if info.plan:
            key = (info.plan, info.location)
            self.plan_counts[key] = self.plan_counts.get(key, 0) + delta
        if Capability.CONFERENCING in info.licenses:
            self.conference_users += delta

    def person(self, upn, object_id="", display_name="", location="", seen_capability=""):
        """The person a row belongs to; a user the directory does not know is added to it.

        Licenses of a person added this way are the capabilities seen on their rows, so that an
        organization's history can be rated before its directory is loaded."""
        info = self.people.get(upn) if upn else None
        if info is not None and not info.auto:
            return info
        if not upn and not object_id:
            return None
        if info is None and object_id:
            info = self.people_by_object_id.get(object_id.lower())
        if info is None:
            if not upn:
                return None
            person = Person.objects.create(
                organization=self.organization,
                upn=upn,
                object_id=object_id,
                display_name=display_name,
                usage_location=location,
                created_by_import=True,
            )
            info = PersonInfo(person.pk, person.upn, location, (), True, display_name)
            self.people[info.upn] = info
            if object_id:
                self.people_by_object_id[object_id.lower()] = info
        if info.auto and seen_capability in KNOWN_LICENSES and seen_capability not in info.licenses:
            self._count(info, -1)
            info.licenses.add(seen_capability)
            info.plan = _plan_code(info.licenses)
            self._count(info, +1)
            info.dirty = True
        return info

    def save_people(self):
        for info in self.people.values():
            if info.dirty:
                Person.objects.filter(pk=info.id).update(licenses=" ".join(sorted(info.licenses)))
                info.dirty = False

    # Pools ----------------------------------------------------------------------------------

    def load_pools(self, months):
        """Read the pools of these (year, month) pairs, once each, before rating their records."""
        wanted = [date(y, m, 1) for y, m in months if date(y, m, 1) not in self.loaded_months]
        if not wanted:
            return
        for row in PoolUsage.objects.filter(organization=self.organization, month__in=wanted):
            self.pools[(row.key, row.month)] = [row, row.used, row.size]
        self.loaded_months.update(wanted)

    def _pool(self, key, month):
        slot = self.pools.get((key, month))
        if slot is None:
            if month not in self.loaded_months:
                self.load_pools({(month.year, month.month)})
                slot = self.pools.get((key, month))
            if slot is None:
                slot = self.pools[(key, month)] = [None, 0, 0]
        return slot

    def draw(self, key, month, size, wanted):
        """Take up to `wanted` units from a pool of `size`; returns (taken, used after)."""
        slot = self._pool(key, month)
        slot[2] = size
        available = max(0, size - slot[1])
        taken = min(available, wanted)
        slot[1] += taken
        return taken, slot[1]

    def remaining(self, key, month, size):
        return max(0, size - self._pool(key, month)[1])

    def save_pools(self):
        for (key, month), (row, used, size) in self.pools.items():
            if row is None:
                if used or size:
                    PoolUsage.objects.create(organization=self.organization, key=key, month=month, used=used, size=size)
            elif row.used != used or row.size != size:
                PoolUsage.objects.filter(pk=row.pk).update(used=used, size=size)

    def plan_pool(self, person, plan, location):
        """(pool key, pool size): per country per identical plan, or the user's own for a plan not pooled."""
        cache_key = (plan.capability, location, None if plan.pooled else person.id)
        found = self._pool_sizes.get(cache_key)
        if found is None:
            if not plan.pooled:
                found = (f"user:{plan.capability}:{person.id}", plan.minutes_for(location))
            else:
                users = self.plan_counts.get((plan.capability, location), 0)
                found = (f"plan:{plan.capability}:{location}", users * plan.minutes_for(location))
            self._pool_sizes[cache_key] = found
        return found

    def conference_pool_size(self):
        plan = self.plans.get(Capability.CONFERENCING)
        return self.conference_users * (plan.included_minutes if plan else 60)

    # Charging -------------------------------------------------------------------------------

    def charge_or_refuse(self, person, amount, capability, reason, charged_units, fee, units, context):
        """The last step of every charged record: license, balance, then the running balance."""
        if person is not None and Capability.CREDITS not in person.licenses:
            return Outcome(
                Rating.REFUSED,
                f"Refused: {person.upn} has no Communications Credits license (MCOPSTNPP). {reason}",
                Capability.CREDITS,
                units=units,
                destination_context=context,
            )
        if not self.allowed:
            refusal = self.refusal or "The Communications Credits balance is zero or less."
            return Outcome(Rating.REFUSED, f"Refused: {refusal} {reason}", Capability.CREDITS, units=units, destination_context=context)
        self.balance -= amount
        self.charged_total += amount
        if self.balance <= 0:
            self.allowed = False
            self.refusal = "The Communications Credits balance reached zero."
        return Outcome(
            Rating.CHARGED,
            reason,
            capability,
            charge=amount,
            connection_fee=to_money(fee),
            charged_units=charged_units,
            units=units,
            destination_context=context,
        )


def _money_text(value, currency):
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
            amount = to_money(minutes * rate.per_unit + rate.connection_fee)
            reason += f": {minutes} min x {_money_text(rate.per_unit, ctx.currency)}" + _fee_text(rate, ctx.currency) + "."
            # Toll-free numbers belong to the organization, not to a user: no user license applies.
            return ctx.charge_or_refuse(None, amount, Capability.CREDITS, reason, minutes, rate.connection_fee, minutes, context)
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

    rate = ctx.rates.outbound_rate(ctx.digits(row["callee_number"]), day, row["external_country"])
    destination = row["external_country"] or (rate.country if rate else "")
    if destination and not row["external_country"]:
        row["external_country"] = destination  # the report's "To country or region", from the number
    if not context:
        if destination and location:
            context = DestinationContext.DOMESTIC if destination == location else DestinationContext.INTERNATIONAL
        else:
            context = DestinationContext.DOMESTIC
    if minutes == 0:
        return Outcome(Rating.NO_CHARGE, "Not connected (0 seconds): nothing to pay.", plan_code or "", destination_context=context)

    if call_type in CONFERENCE_DIAL_OUT_TYPES:
        if person and Capability.CONFERENCING_PAY_PER_MINUTE in person.licenses:
            return _charge_rate(
                ctx, person, rate, minutes, minutes, context, row["callee_number"],
                "Conference dial-out on Audio Conferencing pay-per-minute", Capability.CONFERENCING_PAY_PER_MINUTE,
            )
        if destination not in ZONE_A:
            where = destination or "an unknown country"
            return _charge_rate(
                ctx, person, rate, minutes, minutes, context, row["callee_number"],
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
            ctx, person, rate, minutes - taken, minutes, context, row["callee_number"],
            f"Conference dial-out to {destination} beyond the {pool_text}: {taken} of {minutes} min from the pool",
            Capability.CREDITS,
        )

    international = context == DestinationContext.INTERNATIONAL
    if plan is None:
        return _charge_rate(
            ctx, person, rate, minutes, minutes, context, row["callee_number"], "No calling plan: every minute is paid from credits",
            Capability.CREDITS,
        )
    if plan.included_minutes == 0:
        return _charge_rate(
            ctx, person, rate, minutes, minutes, context, row["callee_number"],
            f"{plan.name} ({plan.capability}) includes no outbound minutes", Capability.CREDITS,
        )
    if international and not plan.international:
        return _charge_rate(
            ctx, person, rate, minutes, minutes, context, row["callee_number"],
            f"International call on {plan.name} ({plan.capability})", Capability.CREDITS,
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
        ctx, person, rate, minutes - taken, minutes, context, row["callee_number"],
        f"Beyond the {pool_text}: {taken} of {minutes} min from the pool", Capability.CREDITS,
    )


def _fee_text(rate, currency):
    return f" + {_money_text(rate.connection_fee, currency)} connection fee" if rate.connection_fee else ""


def _not_priced(reason, units, context):
    return Outcome(Rating.NOT_PRICED, reason + " Not priced (FREECALL).", Capability.FREE_CALL, units=units, destination_context=context)


def _charge_rate(ctx, person, rate, charged, minutes, context, number, why, capability):
    if rate is None:
        return _not_priced(f"{why}; no rate for {number or 'this destination'} in {ctx.currency}.", minutes, context)
    amount = to_money(charged * rate.per_unit + rate.connection_fee)
    where = f"+{rate.prefix}" if rate.prefix else rate.country
    reason = f"{why}: {charged} min x {_money_text(rate.per_unit, ctx.currency)} ({where})" + _fee_text(rate, ctx.currency) + "."
    return ctx.charge_or_refuse(person, amount, capability, reason, charged, rate.connection_fee, minutes, context)


def _charge_per_minute(ctx, row, person, minutes, day, number, country, context, why, capability):
    rate = ctx.rates.outbound_rate(dialable_digits(number), day, country)
    if minutes == 0:
        return Outcome(Rating.NO_CHARGE, "Not connected (0 seconds): nothing to pay.", capability, destination_context=context)
    return _charge_rate(ctx, person, rate, minutes, minutes, context, number, why, capability)


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
    reason = f"{why}: {charged} segment(s) x {_money_text(rate.per_unit, ctx.currency)} ({destination})."
    return ctx.charge_or_refuse(person, amount, Capability.CREDITS, reason, charged, ZERO, segments, context)


@dataclass(frozen=True)
class Authorization:
    allowed: bool
    reason: str
    minutes: int | None  # None: not limited (free or included without limit)
    included_minutes: int = 0
    rate_per_minute: Decimal | None = None
    currency: str = ""


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
    destination = rate.country if rate else ""
    international = bool(destination) and destination != location
    plan = ctx.plans.get(person.plan) if person.plan else None
    included = 0
    if plan is not None and plan.included_minutes and (plan.international or not international):
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
        reason += f" The balance of {ctx.balance} {ctx.currency} pays for {credit_minutes if credit_minutes is not None else 'unlimited'} more min at {_money_text(rate.per_unit, ctx.currency)} per min."
    minutes = None if credit_minutes is None else included + credit_minutes
    return Authorization(
        allowed=minutes is None or minutes > 0,
        reason=reason.strip(),
        minutes=minutes,
        included_minutes=included,
        rate_per_minute=rate.per_unit if rate else None,
        currency=ctx.currency,
    )
