"""Why this charge: one record of the report, how it was rated, who paid, and the ledger entry and
lots that paid for it. Read-only, scoped to the organization, a fixed number of queries.

Records do not store the rate line, the pool or the lots, so this reads them back:

- the rate line: the rate book the rating used (usage.services.rating.rate_book.RateBook), asked
  the same question for the record's day (prefix of the number dialled, toll-free or SMS country),
  and the charge computed again from it, so that a rate table changed since says so;
- the pool: the figures rating wrote in the reason ("... (1,234 of 3,000 min used in 2026-11)"),
  which are the pool right after this record, and the pool's row for the month as it stands now;
- the ledger entry: the import batch's (`ImportBatch.ledger_entry`, posted by
  billing.services.charge_usage with the key and reference `usage-import:<batch id>`), of which this
  record's charge is one part; the lots: usage.selectors.ledger_trace.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.catalog import CATALOG
from billing.models import CreditAccount, Subscription
from billing.money import to_money

from ..choices import CONFERENCE_DIAL_IN_TYPES, Rating, RecordKind
from ..columns import PSTN_EXPORT_COLUMNS, SMS_EXPORT_COLUMNS
from ..models import CallRecord, CreditBlock, DestinationRule, PoolUsage, SmsRecord
from ..services.rating import billable_minutes, call_price
from ..services.rating.rate_book import RateBook, dialable_digits
from .ledger_trace import lots_that_paid

MODELS = {RecordKind.PSTN: CallRecord, RecordKind.SMS: SmsRecord}
EXPORT_COLUMNS = {RecordKind.PSTN: PSTN_EXPORT_COLUMNS, RecordKind.SMS: SMS_EXPORT_COLUMNS}
PRICED_RATINGS = frozenset({Rating.CHARGED, Rating.REFUSED, Rating.NOT_PRICED})
CATALOG_NAMES = {item["capability"]: item["name"] for item in CATALOG if item.get("capability")}
# The pool as rating writes it in the reason (usage.services.rating.rules).
POOL_TEXT = re.compile(
    r"the (?P<name>.+?) \((?P<used>[\d,]+) of (?P<size>[\d,]+) (?P<unit>min|segments) used in (?P<month>\d{4})-(?P<mm>\d{2})\)"
)
# The spend guard's rule as rating writes it in the reason (usage.services.guard.evaluator).
GUARD_TEXT = re.compile(r"Spend guard: (?:destination rule #(?P<rule>\d+)|credit block #(?P<block>\d+)|(?P<cap>cap per [a-z ]+?) of )")
TAKEN_TEXT = re.compile(r": (?P<taken>\d+) of (?P<wanted>\d+) (?:min|segment\(s\)) from the pool")


@dataclass(frozen=True)
class RateApplied:
    kind: str  # "per minute" / "toll-free inbound, per minute" / "SMS, per segment"
    rate: object  # the Rate line, or None when the rate book finds none
    looked_up: str  # what it was looked up by
    day: date
    units: int = 0  # minutes (or segments) charged
    billed_seconds: int | None = None  # seconds billed, on a card that is not 60 s / 60 s
    exact: Decimal | None = None  # units x price + fee, unrounded
    charge: Decimal | None = None  # `exact` rounded once, to the cent
    matches: bool | None = None  # the stored charge is what the rate gives (None: nothing charged)

    @property
    def where(self):
        rate = self.rate
        return f"+{rate.prefix}" if rate is not None and rate.prefix else (rate.country if rate is not None else "")


@dataclass(frozen=True)
class PoolDrawn:
    name: str
    month: date
    unit: str
    drawn: int
    used_after: int
    size: int
    now: PoolUsage | None  # the pool's row for the month as it stands now

    @property
    def left_after(self):
        return max(0, self.size - self.used_after)


@dataclass(frozen=True)
class GuardApplied:
    """The spend guard's rule a record's reason names: a destination rule, a credit block or a cap."""

    kind: str  # "destination_rule", "credit_block", "cap"
    label: str  # as people read it
    refused: bool
    rule: object = None  # the DestinationRule or CreditBlock as it stands now (None: a cap, or deleted since)


@dataclass
class LedgerLink:
    entry: object  # the LedgerEntry, or None
    batch: object
    key: str
    lots: object = None  # ledger_trace.EntryLots
    problem: str = ""


@dataclass
class ChargeExplanation:
    kind: str
    record: object
    fields: list  # (export column name, text)
    reported: list  # (what the source said, text)
    rating_label: str
    payer: str
    subscription: object = None  # the organization's Subscription that covered it, if any
    plan_name: str = ""
    units: int = 0
    unit: str = "min"
    pool: PoolDrawn | None = None
    rate: RateApplied | None = None
    ledger: LedgerLink | None = None
    guard: GuardApplied | None = None

    @property
    def is_call(self):
        return self.kind == RecordKind.PSTN


def record_for(organization, kind, pk):
    """The organization's record of `kind` with that id (DoesNotExist for another organization's)."""
    return MODELS[kind].objects.select_related("person", "batch__ledger_entry").get(organization=organization, pk=pk)


def explain_charge(organization, kind, pk) -> ChargeExplanation:
    record = record_for(organization, kind, pk)
    is_call = kind == RecordKind.PSTN
    units = billable_minutes(record.duration_seconds) if is_call else record.segments
    explanation = ChargeExplanation(
        kind=kind,
        record=record,
        fields=[(name, field_text(getattr(record, attribute))) for name, attribute in EXPORT_COLUMNS[kind]],
        reported=reported_fields(record, is_call),
        rating_label=record.get_rating_display(),
        payer=payer_of(record),
        units=units,
        unit="min" if is_call else "segment(s)",
    )
    explanation.pool = pool_drawn(organization, record, units)  # any rating whose reason names a pool
    if record.capability and record.rating in (Rating.INCLUDED_PLAN, Rating.INCLUDED_CONFERENCE, Rating.INCLUDED_SMS):
        explanation.subscription = (
            Subscription.objects.filter(organization=organization, product__capability=record.capability).select_related("product").first()
        )
        explanation.plan_name = (
            explanation.subscription.product.name if explanation.subscription else CATALOG_NAMES.get(record.capability, record.capability)
        )
    if record.rating in PRICED_RATINGS:
        pool_minutes = explanation.pool.drawn if is_call and explanation.pool is not None else 0
        explanation.rate = rate_applied(organization, record, is_call, pool_minutes)
    if record.rating == Rating.CHARGED:
        explanation.ledger = ledger_link(organization, record)
    explanation.guard = guard_applied(organization, record)
    return explanation


def field_text(value):
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def reported_fields(record, is_call):
    pairs = [("Charge", record.reported_charge), ("Capability", record.reported_capability)]
    if is_call:
        pairs.insert(1, ("Connection Fee", record.reported_connection_fee))
    return [(name, field_text(value)) for name, value in pairs if value not in (None, "")]


def payer_of(record):
    rating = record.rating
    if rating in (Rating.INCLUDED_PLAN, Rating.INCLUDED_CONFERENCE, Rating.INCLUDED_SMS):
        return "A subscription: the minutes (or SMS) came from its pool; nothing was charged."
    if rating == Rating.CHARGED:
        return f"Communications Credits: {field_text(record.charge)} {record.currency} from the balance."
    if rating in (Rating.FREE_INBOUND, Rating.FREE_EMERGENCY, Rating.NO_CHARGE):
        return "Nobody: it costs nothing."
    if rating == Rating.REFUSED:
        return "Nobody: it could not be charged to Communications Credits, and nothing was taken."
    return "Nobody: no rate prices it, and nothing was taken."


# The pool -----------------------------------------------------------------------------------------


def pool_key(name, record):
    """The PoolUsage key of a pool named as rating names it (usage.models.PoolUsage)."""
    if name.startswith("audio conferencing dial-out pool"):
        return "conf"
    parts = name.split()
    if len(parts) >= 3 and parts[-2:] == ["SMS", "pool"]:
        return f"sms:{parts[0]}:{parts[1]}"
    if len(parts) == 3 and parts[-1] == "pool":
        return f"plan:{parts[0]}:{parts[1]}"
    if name.endswith("minutes of this user") and record.person_id:
        return f"user:{parts[0]}:{record.person_id}"
    return None


def pool_drawn(organization, record, units):
    found = POOL_TEXT.search(record.rating_reason)
    if found is None:
        return None
    month = date(int(found["month"]), int(found["mm"]), 1)
    taken = TAKEN_TEXT.search(record.rating_reason)
    drawn = int(taken["taken"]) if taken else units
    key = pool_key(found["name"], record)
    now = PoolUsage.objects.filter(organization=organization, key=key, month=month).first() if key else None
    return PoolDrawn(
        name=found["name"],
        month=month,
        unit=found["unit"],
        drawn=drawn,
        used_after=int(found["used"].replace(",", "")),
        size=int(found["size"].replace(",", "")),
        now=now,
    )


# The rate -----------------------------------------------------------------------------------------


def rate_applied(organization, record, is_call, pool_minutes=0):
    """The rate line the rating's lookup finds for this record's day, and the charge it gives (priced
    by the rating's own `call_price`: the card's minimum and increment, `pool_minutes` from a pool)."""
    book = RateBook.load(record.currency or organization.currency)
    if is_call:
        day = record.start_time.date()
        location = record.user_location or (record.person.usage_location if record.person else "") or organization.country
        if record.direction == "Inbound" and "toll" in record.number_type.lower():
            rate, kind, looked_up = book.toll_free_rate(location, day), "toll-free inbound, per minute", f"toll-free rate of {location}"
        elif record.direction == "Inbound" and record.call_type in CONFERENCE_DIAL_IN_TYPES:
            number = record.caller_number
            rate = book.outbound_rate(dialable_digits(number), day, record.external_country)
            kind, looked_up = "per minute, by the caller's number", f"longest prefix of {number or 'the number'}"
        else:
            number = record.callee_number
            rate = book.outbound_rate(dialable_digits(number), day, record.external_country)
            kind, looked_up = "per minute, by destination prefix", f"longest prefix of {number or 'the number'}"
    else:
        day = record.sent_time.date()
        location = record.user_location or organization.country
        country = record.other_party_country or location
        rate, kind, looked_up = book.sms_rate(country, day), "SMS, per segment", f"SMS rate of {country}"
    if rate is None or record.rating != Rating.CHARGED:
        return RateApplied(kind=kind, rate=rate, looked_up=looked_up, day=day)
    if is_call:
        exact, units, billed = call_price(rate, record.duration_seconds, pool_minutes)
    else:
        units, billed = record.charged_units, None
        exact = units * rate.per_unit
    charge = to_money(exact)
    return RateApplied(
        kind=kind, rate=rate, looked_up=looked_up, day=day, units=units, billed_seconds=billed, exact=exact, charge=charge,
        matches=charge == record.charge,
    )


# The ledger ---------------------------------------------------------------------------------------


def ledger_link(organization, record):
    batch = record.batch
    key = f"usage-import:{batch.pk}"
    entry = batch.ledger_entry
    if entry is None:
        return LedgerLink(entry=None, batch=batch, key=key, problem="The import that created this record posted no ledger entry.")
    account = CreditAccount.objects.filter(organization=organization, pk=entry.account_id).first()
    link = LedgerLink(entry=entry, batch=batch, key=key)
    if account is None or entry.idempotency_key != key:
        link.problem = f"The import's ledger entry does not carry the key {key} of this organization's account."
        return link
    link.lots = lots_that_paid(account, entry)
    return link



def guard_applied(organization, record) -> GuardApplied | None:
    """Which spend guard rule decided (a refusal) or warned (a cap at "warn only"), from the reason."""
    found = GUARD_TEXT.search(record.rating_reason or "")
    if found is None:
        return None
    refused = record.rating == Rating.REFUSED
    if found["rule"]:
        rule = DestinationRule.objects.filter(organization=organization, pk=int(found["rule"])).first()
        label = f"Destination rule #{found['rule']}" + (f": {rule}" if rule is not None else " (deleted since)")
        return GuardApplied("destination_rule", label, refused, rule)
    if found["block"]:
        block = CreditBlock.objects.filter(organization=organization, pk=int(found["block"])).select_related("person").first()
        label = f"Credit block #{found['block']}" + (f": {block.rule}" if block is not None else "")
        return GuardApplied("credit_block", label, refused, block)
    return GuardApplied("cap", found["cap"].capitalize() + ("" if refused else " (warn only)"), refused)
