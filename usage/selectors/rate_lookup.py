"""What a call to a number costs this organization today, and who pays for it: the rate lookup.

Nothing here restates a rule of rating. The organization's RatingContext is built as an import builds
it, and a hypothetical call (1 minute, now, outbound to the number) is rated by the import's own
`rules.rate_call`: once as each kind of person who could make it (a calling plan user of each plan and
country the organization has, a conference dial-out, the person picked), and once more with every pool
empty, which tells which pool such a call draws and whether the subscription includes it at all. Each
trial runs on the context's memory only, which is put back after it: no pool, person or balance is
written (`save_pools` and `save_people` are never called, and `RatingContext.person`, which adds
unknown users, is not used).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import timezone

from ..choices import Capability, Direction, NumberType, Rating
from ..models import Person
from ..services.ingest.kinds import CALLS
from ..services.rating import RatingContext, rate_call
from .phone_numbers import Destination, NumberProblem

INCLUDED = frozenset({Rating.INCLUDED_PLAN, Rating.INCLUDED_CONFERENCE})
# A call rated once as a trial: the duration the lookup asks about.
TRIAL_SECONDS = 60


@dataclass(frozen=True)
class Coverage:
    """One way the call could be made, rated by the import's rules: who, what pays, and why."""

    who: str
    subscription: str  # the plan (or Audio Conferencing, or "no calling plan")
    rating: str
    rating_label: str
    reason: str  # the rating's own sentence for the call made today
    included: bool  # the subscription includes such a call while its pool lasts
    pool_left: int | None = None  # minutes left in that pool this month (None: no pool drawn)
    pool_size: int | None = None
    charge: Decimal | None = None  # what 1 minute costs today when it is charged

    @property
    def included_now(self):
        return self.rating in INCLUDED


@dataclass(frozen=True)
class PersonAnswer:
    upn: str
    display_name: str
    plan: str
    has_credits_license: bool
    coverage: Coverage


@dataclass
class RateLookup:
    destination: Destination
    day: date
    currency: str
    per_minute: Decimal | None = None
    connection_fee: Decimal | None = None
    rate_prefix: str = ""
    rate_description: str = ""
    rate_effective_from: date | None = None
    minimum_seconds: int | None = None  # how the rate line bills a call: at least this many seconds,
    increment_seconds: int | None = None  # then steps of these (60/60: whole minutes)
    rated_as: str = ""  # the number type rating reads for the number (the site's destinations), "" if none
    balance: Decimal = Decimal(0)
    credits_allowed: bool = False
    credits_refusal: str = ""
    balance_minutes: int | None = None  # None: not limited (a free rate) or not priced
    coverages: list = field(default_factory=list)
    person: PersonAnswer | None = None
    problems: list = field(default_factory=list)  # why the number is blocked or cannot be priced

    @property
    def priced(self):
        return self.per_minute is not None

    @property
    def rated_as_label(self):
        return NumberType(self.rated_as).label if self.rated_as in NumberType.values else ""

    def as_dict(self):
        def money(value):
            return None if value is None else f"{value.normalize():f}"

        def coverage(c):
            return {
                "who": c.who, "subscription": c.subscription, "rating": c.rating, "included": c.included,
                "included_now": c.included_now, "pool_minutes_left": c.pool_left, "pool_size": c.pool_size,
                "charge": money(c.charge), "reason": c.reason,
            }

        d = self.destination
        return {
            "number": d.e164,
            "country": d.region,
            "country_name": d.country_name,
            "number_type": d.number_type,
            "number_type_label": d.number_type_label,
            "example_number": d.example,
            "date": self.day.isoformat(),
            "currency": self.currency,
            "priced": self.priced,
            "price_per_minute": money(self.per_minute),
            "connection_fee": money(self.connection_fee),
            "rate_prefix": self.rate_prefix,
            "minimum_seconds": self.minimum_seconds,
            "increment_seconds": self.increment_seconds,
            "rated_number_type": self.rated_as or None,
            "balance": money(self.balance),
            "balance_minutes": self.balance_minutes,
            "credits_allowed": self.credits_allowed,
            "coverage": [coverage(c) for c in self.coverages],
            "person": None if self.person is None else {
                "user": self.person.upn, "display_name": self.person.display_name, "calling_plan": self.person.plan,
                "has_credits_license": self.person.has_credits_license, **coverage(self.person.coverage),
            },
            "problems": list(self.problems),
        }


def _trial(ctx, row, person, *, empty_pools=False):
    """rate_call on the context's memory, put back afterwards; with `empty_pools`, every pool starts the
    month unused. Returns (outcome, the pools the call drew: {(key, month): [row, used, size]})."""
    saved = (ctx.pools, ctx.loaded_months, ctx.balance, ctx.allowed, ctx.refusal, ctx.charged_total)
    if empty_pools:
        ctx.pools, ctx.loaded_months = {}, {date(row["start_time"].year, row["start_time"].month, 1)}
    else:
        ctx.pools, ctx.loaded_months = {key: list(slot) for key, slot in ctx.pools.items()}, set(ctx.loaded_months)
    try:
        outcome = rate_call(ctx, dict(row), person)
        return outcome, ({key: slot for key, slot in ctx.pools.items() if slot[1]} if empty_pools else {})
    finally:
        ctx.pools, ctx.loaded_months, ctx.balance, ctx.allowed, ctx.refusal, ctx.charged_total = saved


def _row(destination, now, *, call_type, person=None, location=""):
    """A call row as the import hands it to rate_call (every CallRecord field, then this call's)."""
    row = dict(CALLS.defaults)
    row.update(
        call_type=call_type,
        direction=Direction.OUTBOUND,
        start_time=now,
        end_time=now,
        duration_seconds=TRIAL_SECONDS,
        callee_number=destination.e164,
        destination_dialed=destination.region,
        external_country="",
        user_location=location or (person.location if person else ""),
        upn=person.upn if person else "",
        person_id=person.id if person else None,
        number_type="Subscriber" if call_type != "conf_out" else "Service",
    )
    return row


def _coverage(ctx, destination, now, *, who, subscription, call_type, person=None, location=""):
    row = _row(destination, now, call_type=call_type, person=person, location=location)
    outcome, _drawn = _trial(ctx, row, person)
    hypothetical, drawn = _trial(ctx, row, person, empty_pools=True)
    left = size = None
    if drawn:
        (key, month), (_row_, _used, size) = next(iter(drawn.items()))
        left = ctx.remaining(key, month, size)
    return Coverage(
        who=who,
        subscription=subscription,
        rating=outcome.rating,
        rating_label=Rating(outcome.rating).label,
        reason=outcome.reason,
        included=hypothetical.rating in INCLUDED,
        pool_left=left,
        pool_size=size,
        charge=outcome.charge if outcome.rating == Rating.CHARGED else None,
    )


def look_up_rate(organization, destination: Destination, *, upn="", now=None) -> RateLookup:
    """What a 1-minute call to `destination` made now costs the organization, and who pays for it."""
    now = now or timezone.now()
    day = now.date()
    ctx = RatingContext(organization, guard=False)
    ctx.load_pools({(day.year, day.month)})  # read once, before the trials copy them
    answer = RateLookup(
        destination=destination, day=day, currency=ctx.currency, balance=ctx.balance, credits_allowed=ctx.allowed,
        credits_refusal=ctx.refusal,
    )
    rate = ctx.rates.outbound_rate(destination.digits, day, destination.region)
    if rate is not None:
        answer.per_minute, answer.connection_fee = rate.per_unit, rate.connection_fee
        answer.rate_prefix, answer.rate_description, answer.rate_effective_from = rate.prefix, rate.description, rate.effective_from
        answer.minimum_seconds, answer.increment_seconds = rate.minimum_seconds, rate.increment_seconds
        spendable = ctx.balance - rate.connection_fee
        if rate.per_unit > 0:
            answer.balance_minutes = int(spendable // rate.per_unit) if ctx.allowed and spendable > 0 else 0
    else:
        answer.problems.append(
            f"No rate for {destination.e164} ({destination.country_name}) in {ctx.currency} today: "
            "a call to it cannot be priced, so it is charged to nobody (FREECALL) and never included in a pool."
        )
    found = ctx.destinations.lookup(destination.digits)
    answer.rated_as = found[1] if found else ""
    if not destination.valid:
        answer.problems.append(
            f"{destination.e164} is not a number that can be assigned in {destination.country_name} (libphonenumber): "
            "it is priced by its prefix, but such a call may fail."
        )
    if not ctx.allowed:
        answer.problems.append(f"Calls charged to credits are refused: {ctx.refusal or 'the balance is zero or less.'}")

    plan_names = {code: plan.name for code, plan in ctx.plans.items()}
    representatives = {}
    for info in sorted(ctx.people.values(), key=lambda p: p.upn):
        if info.plan and (info.plan, info.location) not in representatives:
            representatives[(info.plan, info.location)] = info
    for (plan, location), info in sorted(representatives.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        users = ctx.plan_counts.get((plan, location), 0)
        where = location or organization.country
        answer.coverages.append(_coverage(
            ctx, destination, now, call_type="user_out", person=info,
            who=f"Calling plan users in {where} ({users:,} {'user' if users == 1 else 'users'})",
            subscription=f"{plan_names.get(plan, plan)} ({plan})",
        ))
    if ctx.conference_users:
        answer.coverages.append(_coverage(
            ctx, destination, now, call_type="conf_out", location=organization.country,
            who=f"Conference dial-out ({ctx.conference_users:,} Audio Conferencing {'user' if ctx.conference_users == 1 else 'users'})",
            subscription=f"{plan_names.get(Capability.CONFERENCING, 'Audio Conferencing')} ({Capability.CONFERENCING})",
        ))
    answer.coverages.append(_coverage(
        ctx, destination, now, call_type="user_out", location=organization.country,
        who="Anyone without a calling plan (resource accounts, Pay-As-You-Go users)", subscription="No calling plan",
    ))

    upn = (upn or "").strip().lower()
    if upn:
        info = ctx.people.get(upn)
        if info is None:
            raise NumberProblem("user", f"{upn} is not a user of {organization.name}.")
        if info is not None:
            answer.person = PersonAnswer(
                upn=info.upn, display_name=info.display_name, plan=info.plan or "",
                has_credits_license=Capability.CREDITS in info.licenses,
                coverage=_coverage(
                    ctx, destination, now, call_type="user_out", person=info, who=info.display_name or info.upn,
                    subscription=f"{plan_names.get(info.plan, info.plan)} ({info.plan})" if info.plan else "No calling plan",
                ),
            )
    for coverage in [*answer.coverages, *([answer.person.coverage] if answer.person else [])]:
        if coverage.rating == Rating.REFUSED and coverage.reason not in answer.problems:
            answer.problems.append(f"{coverage.who}: {coverage.reason}")
    return answer


def people_choices(organization):
    """(UPN, label) of the organization's people, for the optional picker."""
    return [(upn, f"{name or upn} ({upn})") for upn, name in Person.objects.filter(organization=organization).order_by("display_name", "upn").values_list("upn", "display_name")]
