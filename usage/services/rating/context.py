"""What rating needs of one organization, loaded once per import: plans, rates, people and their
licenses, the pools drawn this month, and the balance that charges may take; and what rating decides
for one record (Outcome)."""

from datetime import date

from django.db import connection

from billing.money import ZERO, to_money
from billing.services import can_charge_credits

from ...choices import KNOWN_LICENSES, Capability, Rating
from ...models import Person, PoolUsage
from ..arrays import columns_of
from ..guard.evaluator import SpendGuard
from .destinations import DestinationBook
from .plans import load_plans, plan_code
from .rate_book import RateBook, dialable_digits


class PersonInfo:
    """A person as rating sees them: location, licenses and calling plan; `auto` when an import added
    them (their licenses are then the capabilities seen on their rows)."""

    __slots__ = ("id", "upn", "location", "licenses", "plan", "auto", "dirty", "display_name")

    def __init__(self, pk, upn, location, licenses, auto, display_name=""):
        self.id = pk
        self.upn = upn
        self.location = location
        self.licenses = set(licenses)
        self.plan = plan_code(self.licenses)
        self.auto = auto
        self.dirty = False
        self.display_name = display_name


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

    def __init__(self, organization, *, currency=None, balance=None, allowed=None, guard=True):
        self.organization = organization
        self.currency = currency or organization.currency
        self.plans = load_plans()
        self.rates = RateBook.load(self.currency)
        self.destinations = DestinationBook.load()
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
        # The spend guard (None when nothing can refuse or warn); rating says, before each charge, when
        # the record happened and where it goes (digits, country, number type; None: no destination).
        self.guard = SpendGuard.load(organization) if guard else None
        self.call_at = None
        self.call_destination = None

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
            info.plan = plan_code(info.licenses)
            self._count(info, +1)
            info.dirty = True
        return info

    def add_people(self, records):
        """Add to the directory, in one statement, the people of `records` it does not know, as
        `person()` would one row at a time (the first row of a person gives their name and place; a
        row whose object id is another new person's belongs to that person)."""
        people, by_object_id = self.people, self.people_by_object_id
        new, seen_ids = {}, set()
        for record in records:
            upn = record["upn"]
            if not upn or upn in people or upn in new:
                continue
            object_id = record["user_object_id"]
            lowered = object_id.lower() if object_id else ""
            if lowered and (lowered in by_object_id or lowered in seen_ids):
                continue
            if lowered:
                seen_ids.add(lowered)
            new[upn] = Person(
                organization=self.organization, upn=upn, object_id=object_id, display_name=record["display_name"],
                usage_location=record["user_location"], created_by_import=True,
            )
        if not new:
            return
        for person in Person.objects.bulk_create(list(new.values()), batch_size=1000):
            info = PersonInfo(person.pk, person.upn, person.usage_location, (), True, person.display_name)
            people[info.upn] = info
            if person.object_id:
                by_object_id[person.object_id.lower()] = info

    def save_people(self):
        dirty = [info for info in self.people.values() if info.dirty]
        if not dirty:
            return
        if connection.vendor == "postgresql":
            # Thousands of people new to the directory: one statement, not one UPDATE each (15 s for 5,000).
            table = Person._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS p SET licenses = t.licenses FROM unnest(%s::bigint[], %s::text[]) AS t(id, licenses) "
                    "WHERE p.id = t.id AND p.organization_id = %s",
                    [*columns_of([(info.id, " ".join(sorted(info.licenses))) for info in dirty], {1}), self.organization.pk],
                )
        else:
            for info in dirty:
                Person.objects.filter(pk=info.id).update(licenses=" ".join(sorted(info.licenses)))
        for info in dirty:
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
        new = []
        for (key, month), (row, used, size) in self.pools.items():
            if row is None:
                if used or size:
                    new.append(PoolUsage(organization=self.organization, key=key, month=month, used=used, size=size))
            elif row.used != used or row.size != size:
                PoolUsage.objects.filter(pk=row.pk).update(used=used, size=size)
        # A year of per-person pools is thousands of rows: one statement per 1,000, not one each.
        PoolUsage.objects.bulk_create(new, batch_size=1000)

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

    def save_guard(self):
        if self.guard is not None:
            self.guard.save()

    def charge_or_refuse(self, person, amount, capability, reason, charged_units, fee, units, context):
        """The last step of every charged record: license, balance, the spend guard (destination
        rules, blocks, caps), then the running balance."""
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
        guard = self.guard
        if guard is not None:
            note = guard.check(person, amount, self.call_at, self.call_destination)
            if note is not None:
                if note.refused:
                    return Outcome(Rating.REFUSED, f"Refused: {note.text} {reason}", Capability.CREDITS, units=units, destination_context=context)
                reason = f"{reason} {note.text}"
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
